"""Only the emulation imports moto's internals (its module docstring says why); the rest, tests included, may use
moto's public ``mock_aws`` and the emulation's helpers."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EMULATION = ROOT / "etl_local" / "emulation"


def moto_internals(path: Path) -> list[str]:
    """The moto submodules ``path`` imports."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    return [module for module in modules if module.startswith("moto.")]


def test_no_module_outside_the_emulation_imports_moto_internals():
    sources = [path for folder in ("app.py", "chalicelib", "etl_local", "infra", "bench", "tests")
               for path in ([ROOT / folder] if folder.endswith(".py") else (ROOT / folder).rglob("*.py"))]
    outside = {str(path.relative_to(ROOT)): moto_internals(path) for path in sources if EMULATION not in path.parents}
    assert {path: modules for path, modules in outside.items() if modules} == {}


def test_the_check_sees_both_import_forms(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import moto.core\nfrom moto.stepfunctions.responses import get_backend\nfrom moto import mock_aws\n")
    assert moto_internals(module) == ["moto.core", "moto.stepfunctions.responses"]
