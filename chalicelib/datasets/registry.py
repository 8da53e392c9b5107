"""Loading datasets from ``schemas/``.

Adding a dataset is adding ``schemas/<name>.schema.json`` (JSON Schema 2020-12)
and, optionally, ``schemas/<name>.transform.json``; nothing else changes.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from chalicelib.errors import ConfigurationError, DataError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SPEC_VALIDATOR = Draft202012Validator(
    json.loads((Path(__file__).parent / "transform_spec.schema.json").read_text())
)
DEFAULT_MAX_INVALID_RATIO = 0.10
DEFAULT_TIMESTAMP_FIELD = "timestamp"


class UnknownDatasetError(DataError):
    """No schema exists for the dataset a run names."""


@dataclass(frozen=True)
class Dataset:
    """One dataset: its schema, its transform spec and derived settings.

    Attributes
    ----------
    name
        Folder name under ``raw/`` and ``processed/``.
    schema
        The JSON Schema every record must satisfy.
    spec
        The transform spec (``{}`` parsed into defaults when there is no file).
    """

    name: str
    schema: dict[str, Any]
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def timestamp_field(self) -> str:
        return self.spec.get("timestamp_field", DEFAULT_TIMESTAMP_FIELD)

    @property
    def max_invalid_ratio(self) -> float:
        return float(self.spec.get("max_invalid_ratio", DEFAULT_MAX_INVALID_RATIO))

    @property
    def derived(self) -> list[dict[str, Any]]:
        return list(self.spec.get("derived", []))

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        return dict(self.schema.get("properties", {}))

    @cached_property
    def field_types(self) -> dict[str, list[str]]:
        """JSON types each property admits, in schema order (used to convert CSV text)."""
        return {name: _json_types(prop) for name, prop in self.properties.items()}

    @cached_property
    def validator(self) -> Draft202012Validator:
        """The reference validator, with format assertions on (date-time, date)."""
        return Draft202012Validator(self.schema, format_checker=FormatChecker())


class DatasetRegistry:
    """Finds datasets by name in a schemas folder; loads each once."""

    def __init__(self, schemas_dir: Path) -> None:
        self._dir = Path(schemas_dir)
        self._cache: dict[str, Dataset] = {}

    def names(self) -> list[str]:
        suffix = ".schema.json"
        return sorted(p.name[: -len(suffix)] for p in self._dir.glob(f"*{suffix}"))

    def get(self, name: str) -> Dataset:
        """Return the dataset called ``name``.

        Raises
        ------
        UnknownDatasetError
            When no ``<name>.schema.json`` exists.
        ConfigurationError
            When the schema or transform spec is itself invalid.
        """
        if name in self._cache:
            return self._cache[name]
        schema_path = self._dir / f"{name}.schema.json"
        if not _NAME.match(name) or not schema_path.is_file():
            raise UnknownDatasetError(
                f"unknown dataset {name!r}: no {schema_path.name} in schemas/ "
                f"(known: {', '.join(self.names()) or 'none'})"
            )
        dataset = Dataset(name=name, schema=_load_schema(schema_path), spec=_load_spec(self._dir / f"{name}.transform.json"))
        _check_consistency(dataset)
        self._cache[name] = dataset
        return dataset


_PY_TO_JSON = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _json_types(prop: dict[str, Any]) -> list[str]:
    declared = prop.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return list(declared)
    values = prop.get("enum", [prop["const"]] if "const" in prop else [])
    return list(dict.fromkeys(_PY_TO_JSON.get(type(v), "string") for v in values)) or ["string"]


def _load_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"{path}: cannot read JSON: {error}") from error


def _load_schema(path: Path) -> dict[str, Any]:
    schema = _load_json(path)
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as error:  # jsonschema.SchemaError; message names the rule
        raise ConfigurationError(f"{path}: not a valid JSON Schema 2020-12: {error}") from error
    return schema


def _load_spec(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    spec = _load_json(path)
    errors = sorted(_SPEC_VALIDATOR.iter_errors(spec), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(top)"
        raise ConfigurationError(f"{path}: {where}: {first.message}")
    return spec


def _check_consistency(dataset: Dataset) -> None:
    """The spec may only refer to fields the schema defines."""
    props = dataset.properties
    ts = props.get(dataset.timestamp_field, {})
    if ts.get("format") != "date-time" or dataset.timestamp_field not in dataset.schema.get("required", []):
        raise ConfigurationError(
            f"dataset {dataset.name}: timestamp_field {dataset.timestamp_field!r} must be a "
            f"required property with format date-time"
        )
    for derived in dataset.derived:
        for ref in (derived["source"], derived.get("key")):
            if ref is not None and ref not in props:
                raise ConfigurationError(
                    f"dataset {dataset.name}: derived field {derived['name']!r} refers to "
                    f"{ref!r}, which the schema does not define"
                )
        if derived["name"] in props:
            raise ConfigurationError(
                f"dataset {dataset.name}: derived field {derived['name']!r} clashes with a schema property"
            )
