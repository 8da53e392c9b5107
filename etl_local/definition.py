"""Rendering ``statemachines/etl.asl.json``: every ``${Placeholder}`` gets exactly one value."""
from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ETL_DEFINITION = PROJECT_ROOT / "statemachines" / "etl.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class DefinitionError(ValueError):
    """A placeholder has no value, or a value has no placeholder."""


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def render(template: str, substitutions: dict[str, str]) -> str:
    """Substitute placeholders the way CloudFormation's ``DefinitionSubstitutions`` does.

    Raises
    ------
    DefinitionError
        When a placeholder has no substitution or a substitution is unused.
    """
    names = placeholders(template)
    missing, unused = names - substitutions.keys(), substitutions.keys() - names
    if missing or unused:
        raise DefinitionError(f"placeholders without a value: {sorted(missing)}; values without a placeholder: {sorted(unused)}")
    return _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], template)
