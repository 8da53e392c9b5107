"""Names the pipeline and the stack share are spelled once, in chalicelib, and imported by the stack (issue 12).

Key prefixes belong to ``chalicelib/keys.py``, the partition keys of ``processed/`` to
``chalicelib/datasets/columns.py``, function names to ``chalicelib/steps.py``.  A string
literal repeating one of them in the stack's code (docstrings aside) could drift apart from it.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chalicelib import keys
from chalicelib.datasets.columns import PARTITION_KEYS
from chalicelib.steps import API_HANDLER, FAILURE_HANDLER, PIPELINE_STEPS

ROOT = Path(__file__).resolve().parents[3]
INFRA = sorted((ROOT / "infra").glob("*.py"))
KEY_ROOTS = (keys.RAW_ROOT, keys.STAGING_ROOT, keys.QUARANTINE_ROOT, keys.MANIFEST_ROOT, keys.PROCESSED_ROOT)
FUNCTION_NAMES = {*(step.function for step in PIPELINE_STEPS), FAILURE_HANDLER, API_HANDLER}


def literals(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of every string literal of the module, the constant parts of f-strings included, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def found(paths: list[Path], spelled: re.Pattern[str]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line}: {text!r}" for path in paths for line, text in literals(path) if spelled.search(text)]


def test_the_stack_takes_key_prefixes_from_chalicelib_keys():
    prefix = re.compile(rf"(^|[/}}\s])({'|'.join(KEY_ROOTS)})/")
    assert found(INFRA, prefix) == []


def spelled_sequences(path: Path, names: tuple[str, ...]) -> list[str]:
    """Tuples and lists of string literals that spell ``names`` out."""
    return [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Tuple | ast.List) and [getattr(e, "value", None) for e in node.elts] == list(names)]


def test_partition_keys_have_one_owner():
    owner = ROOT / "chalicelib" / "datasets" / "columns.py"
    users = [*INFRA, *(path for path in sorted((ROOT / "chalicelib").rglob("*.py")) if path != owner)]  # the writer among them
    assigned = re.compile(rf"\b({'|'.join(PARTITION_KEYS)})=")
    assert found(users, assigned) == []
    assert [s for path in users for s in spelled_sequences(path, PARTITION_KEYS)] == []
    assert found(INFRA, re.compile(rf"^({'|'.join(PARTITION_KEYS)})$")) == []  # the stack names no partition key itself


def test_the_stack_takes_function_names_from_chalicelib_steps():
    assert found(INFRA, re.compile(rf"^({'|'.join(sorted(FUNCTION_NAMES))})$")) == []


@pytest.mark.parametrize("text, spelled", [('x = "processed/"', True), ('x = f"s3://${{b}}/staging/{n}"', True),
                                           ('x = "year"', False), ('"""Docstring: raw/ and processed/."""', False)])
def test_the_check_sees_literals_and_f_strings_but_not_docstrings(tmp_path, text, spelled):
    module = tmp_path / "module.py"
    module.write_text(text + "\n")
    prefix = re.compile(rf"(^|[/}}\s])({'|'.join(KEY_ROOTS)})/")
    assert bool([t for _, t in literals(module) if prefix.search(t)]) is spelled
