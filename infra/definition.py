"""``statemachines/etl.asl.json`` and its placeholders: every ``${Placeholder}`` gets exactly one value.

The deployment hands the definition to CloudFormation with ``DefinitionSubstitutions``;
the local emulation renders it the way CloudFormation does.  Both check the same way.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from infra.chalice_project import PROJECT_ROOT

ETL_DEFINITION = PROJECT_ROOT / "statemachines" / "etl.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class DefinitionError(ValueError):
    """A placeholder has no value, or a value has no placeholder."""


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def check_substitutions(template: str, names: Iterable[str]) -> None:
    """Check that ``names`` are exactly the template's placeholders.

    Raises
    ------
    DefinitionError
        When a placeholder has no substitution or a substitution is unused.
    """
    expected, given = placeholders(template), set(names)
    missing, unused = expected - given, given - expected
    if missing or unused:
        raise DefinitionError(f"placeholders without a value: {sorted(missing)}; values without a placeholder: {sorted(unused)}")


def render(template: str, substitutions: dict[str, str]) -> str:
    """Substitute placeholders the way CloudFormation's ``DefinitionSubstitutions`` does.

    Raises
    ------
    DefinitionError
        When a placeholder has no substitution or a substitution is unused.
    """
    check_substitutions(template, substitutions)
    return _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], template)


def objects_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a parsed definition, outermost first (states, their branches, item processors, ...)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from objects_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from objects_in(item)
