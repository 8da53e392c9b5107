"""The emulation refuses a moto other than the one its patches were written for, before loading moto."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from etl_local.emulation import MOTO_VERSION, MotoVersionError, require_moto

ROOT = Path(__file__).resolve().parents[3]


def test_the_guard_requires_the_version_pyproject_pins():
    local = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["local"]
    [moto] = [requirement for requirement in local if requirement.startswith("moto[")]
    assert moto.split("]", 1)[1] == f"=={MOTO_VERSION}"


def test_the_pinned_version_is_accepted():
    require_moto(MOTO_VERSION)


@pytest.mark.parametrize("installed, found", [("5.2.6", "moto 5.2.6 is installed"), (None, "moto is not installed")])
def test_another_version_or_none_is_refused_with_the_fix(installed, found):
    with pytest.raises(MotoVersionError) as refused:
        require_moto(installed)
    assert f"needs moto {MOTO_VERSION} exactly" in str(refused.value)
    assert found in str(refused.value)
    assert "pip install -e '.[local]'" in str(refused.value)


def test_importing_the_emulation_with_another_moto_fails_before_moto_loads():
    probe = (
        "import importlib.metadata as metadata, sys\n"
        "real = metadata.version\n"
        "metadata.version = lambda name: '5.3.0' if name == 'moto' else real(name)\n"
        "try:\n"
        "    import etl_local.emulation.redrive\n"
        "except ImportError as error:\n"
        "    print(type(error).__name__, 'moto' in sys.modules, error)\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    assert completed.stdout.startswith("MotoVersionError False ")
    assert "moto 5.3.0 is installed" in completed.stdout
