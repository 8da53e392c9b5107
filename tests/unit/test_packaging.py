"""What `chalice deploy` ships must be what the code needs."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from infra.chalice_project import read_config

ROOT = Path(__file__).resolve().parents[2]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ]", line.strip(), maxsplit=1)[0].lower() for line in requirements
            if line.strip() and not line.startswith("#")}


def test_lambda_requirements_match_the_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = names(project["dependencies"]) - {"chalice", "boto3"}  # both are in the Lambda runtime / packaged by Chalice
    assert names((ROOT / "requirements.txt").read_text().splitlines()) == runtime


def test_schemas_reach_the_lambda_package_through_vendor():
    # Chalice copies vendor/ (following symlinks) to the package root, next to app.py and chalicelib/
    vendored = ROOT / "vendor" / "schemas"
    assert vendored.is_symlink() and vendored.resolve() == (ROOT / "schemas").resolve()
    assert sorted(p.name for p in vendored.glob("*.schema.json")) == sorted(p.name for p in (ROOT / "schemas").glob("*.schema.json"))


def test_chalice_config_memory_and_architecture():
    config = read_config()
    memory = {name: cfg["lambda_memory_size"] for name, cfg in config["lambda_functions"].items() if "lambda_memory_size" in cfg}
    # sized from bench.invocations on 1 GB files in 64 MB chunks (infra/limits.py holds the chunk and the file to them)
    assert {k: memory[k] for k in ("ingest", "validate", "transform", "verdict", "output")} == {
        "ingest": 1769, "validate": 1024, "transform": 512, "verdict": 1769, "output": 512}
    assert config["lambda_architecture"] == "arm64"
    assert set(config["stages"]) >= {"dev", "prod"}
