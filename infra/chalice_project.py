"""The Chalice project: its folder and ``.chalice/config.json``, which is read here and nowhere else."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalice.config import Config

if TYPE_CHECKING:
    from chalice.cli.factory import CLIFactory

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = PROJECT_ROOT / ".chalice" / "config.json"


def read_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    """The config file as written (``etl chalice-config`` rewrites one stage of it)."""
    return json.loads(path.read_text())


def function_config(stage: str, function: str) -> Config:
    """One function's settings in one stage, resolved as ``chalice deploy`` resolves them.

    Function settings of the stage win over the stage's, which win over the
    function's top-level ones, then the file's top level, then Chalice's defaults.
    """
    return Config(chalice_stage=stage, function_name=function, config_from_disk=read_config())


def shared_environment() -> dict[str, str]:
    """The variables every function gets in every stage (the top-level ``environment_variables``)."""
    return dict(read_config().get("environment_variables", {}))


def cli_factory() -> CLIFactory:
    """Chalice's own command-line factory for this project (packaging, the deployment graph)."""
    from chalice.cli.factory import CLIFactory  # 0.3 s of imports that only packaging needs

    return CLIFactory(project_dir=str(PROJECT_ROOT))
