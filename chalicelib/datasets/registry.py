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
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from chalicelib.config import chunk_mb_problem
from chalicelib.datasets.columns import ENRICHMENT, PARTITION_KEYS, POSITION, TIMESTAMP, arrow_type, is_json_text, json_types
from chalicelib.errors import ConfigurationError, DataError
from chalicelib.quality.checks import Check, declared_checks, declared_key

if TYPE_CHECKING:
    from referencing._core import Resolver

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SPEC_VALIDATOR = Draft202012Validator(
    json.loads((Path(__file__).parent / "transform_spec.schema.json").read_text())
)
DEFAULT_MAX_INVALID_RATIO = 0.10
DEFAULT_TIMESTAMP_FIELD = "timestamp"
_OUTPUT_NAMES = frozenset(f.name for f in ENRICHMENT) | frozenset(PARTITION_KEYS)
_RESERVED = _OUTPUT_NAMES | frozenset(f.name for f in POSITION)
_NUMERIC = (pa.int64(), pa.float64())
_COMPOUND = ("array", "object")


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
    def chunk_mb(self) -> float | None:
        """Megabytes of source per chunk for this dataset's runs (the spec's ``chunk_mb``), if it sets one."""
        value = self.spec.get("chunk_mb")
        return None if value is None else float(value)

    @property
    def derived(self) -> list[dict[str, Any]]:
        return list(self.spec.get("derived", []))

    @cached_property
    def key(self) -> str | None:
        """The field that identifies a record (the spec's ``key``), if any."""
        return declared_key(self.name, self.spec, self.properties)

    @cached_property
    def checks(self) -> list[Check]:
        """The data-quality checks every run is judged by (the spec's ``checks``)."""
        return declared_checks(self.name, self.spec, self.properties)

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        return dict(self.schema.get("properties", {}))

    @cached_property
    def field_types(self) -> dict[str, list[str]]:
        """JSON types each property admits, in schema order (used to convert CSV text)."""
        return {name: json_types(prop) for name, prop in self.properties.items()}

    @cached_property
    def json_text(self) -> dict[str, bool]:
        """Per property, whether its column holds the values' JSON text (see :mod:`chalicelib.datasets.columns`)."""
        return {name: is_json_text(prop) for name, prop in self.properties.items()}

    @cached_property
    def validator(self) -> Draft202012Validator:
        """The reference validator, with format assertions on (date-time, date).

        References resolve within the schema and to the JSON Schema meta-schemas only,
        never over the network.
        """
        return Draft202012Validator(self.schema, format_checker=FormatChecker(), registry=SPECIFICATIONS)


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
        _check_storable(dataset)
        _check_references(dataset)
        _check_consistency(dataset)
        self._cache[name] = dataset
        return dataset


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


def _check_storable(dataset: Dataset) -> None:
    """Each record must be an object, and each property needs a name of its own: not empty, not one the output gives another column."""
    if json_types(dataset.schema) != ["object"]:
        raise ConfigurationError(
            f'dataset {dataset.name}: the schema must say "type": "object" (each record is stored as one row)'
        )
    for name in dataset.properties:
        if not name:
            raise ConfigurationError(
                f"dataset {dataset.name}: property '': a column needs a name (a Glue table's column, "
                f"a field of the run's quality profile)"
            )
        if name in _RESERVED:
            raise ConfigurationError(
                f"dataset {dataset.name}: property {name!r}: the name is reserved for a column the pipeline adds "
                f"({', '.join(sorted(_RESERVED))})"
            )


def _check_references(dataset: Dataset) -> None:
    """Every ``$ref`` and ``$dynamicRef`` must resolve within the schema (or to a JSON Schema meta-schema).

    The reference validator would otherwise fail on the first record that reaches it.
    """
    root = SPECIFICATIONS.resolver_with_root(DRAFT202012.create_resource(dataset.schema))
    properties = dataset.schema.get("properties", {})
    for name, prop in properties.items():
        _resolve_all(dataset.name, f"property {name!r}", prop, root)
    rest = [child for child in DRAFT202012.subresources_of(dataset.schema) if all(child is not p for p in properties.values())]
    for child in rest:
        _resolve_all(dataset.name, "schema", child, root)


def _resolve_all(dataset: str, where: str, subschema: Any, resolver: Resolver[Any]) -> None:
    if not isinstance(subschema, dict):
        return
    resolver = resolver.in_subresource(DRAFT202012.create_resource(subschema))
    for keyword in ("$ref", "$dynamicRef"):
        if keyword in subschema:
            try:
                resolver.lookup(subschema[keyword])
            except Unresolvable as error:
                raise ConfigurationError(
                    f"dataset {dataset}: {where}: {keyword} {subschema[keyword]!r} does not resolve within the schema: {error}"
                ) from error
    for child in DRAFT202012.subresources_of(subschema):
        _resolve_all(dataset, where, child, resolver)


def _check_consistency(dataset: Dataset) -> None:
    """The spec may only refer to fields the schema defines, stored in columns its derivations can read."""
    props = dataset.properties
    ts = dataset.timestamp_field
    if ts not in props or arrow_type(props[ts]) != TIMESTAMP or ts not in dataset.schema.get("required", []):
        raise ConfigurationError(
            f"dataset {dataset.name}: timestamp_field {ts!r} must be a required property with format date-time "
            f"admitting strings and no other type but null (its column, timestamp[us, UTC], partitions the output by UTC hour)"
        )
    for derived in dataset.derived:
        for ref in (derived["source"], derived.get("key")):
            if ref is not None and ref not in props:
                raise ConfigurationError(
                    f"dataset {dataset.name}: derived field {derived['name']!r} refers to "
                    f"{ref!r}, which the schema does not define"
                )
        if derived["name"] in props or derived["name"] in _OUTPUT_NAMES:
            raise ConfigurationError(
                f"dataset {dataset.name}: derived field {derived['name']!r} clashes with a schema property or a column the pipeline adds"
            )
        _check_derived_columns(dataset, derived)
    _check_key(dataset)
    problem = None if dataset.chunk_mb is None else chunk_mb_problem(dataset.chunk_mb)
    if problem is not None:
        raise ConfigurationError(f"dataset {dataset.name}: {problem}")
    dataset.checks  # noqa: B018  (names the dataset and field it cannot judge)


def _check_key(dataset: Dataset) -> None:
    """The key's duplicates are counted over its column's values: it must hold scalars, not arrays or objects."""
    key = dataset.key  # a property of the schema, or a ConfigurationError
    if key is None:
        return
    compound = [kind for kind in json_types(dataset.properties[key]) if kind in _COMPOUND]
    if compound:
        raise ConfigurationError(
            f"dataset {dataset.name}: key {key!r} must be a scalar property (string, integer, number, boolean or null "
            f"by its type or its enum/const members), not {' or '.join(compound)}: the run's profile counts duplicates of its values"
        )


def _check_derived_columns(dataset: Dataset, derived: dict[str, Any]) -> None:
    """A derivation reads its source (and key) column with Arrow kernels that need these column types."""
    source = arrow_type(dataset.properties[derived["source"]])
    if derived["kind"] == "date":
        needs, readable = "a date-time", source == TIMESTAMP
    else:
        needs, readable = "an integer or number", source in _NUMERIC
    if not readable:
        raise ConfigurationError(
            f"dataset {dataset.name}: derived field {derived['name']!r}: its source, property "
            f"{derived['source']!r}, must be {needs} (its column is {source})"
        )
    key = derived.get("key")
    if key is not None and (arrow_type(dataset.properties[key]) != pa.string() or dataset.json_text[key]):
        raise ConfigurationError(
            f'dataset {dataset.name}: derived field {derived["name"]!r}: its key, property {key!r}, must be "type": "string"'
        )
