"""Judging one staged batch: the compiled checks first, the reference validator for the rest."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from jsonschema import Draft202012Validator

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import POSITION, python_column, source_fields
from chalicelib.payloads import Reason
from chalicelib.validate.compiled import CompiledSchema
from chalicelib.validate.reasons import parse_failure, record_failures


def judged_schema(dataset: Dataset) -> pa.Schema:
    """Valid records as the judge returns them: position, RFC 8785 text, and each source field in its storage type."""
    return pa.schema(POSITION + source_fields(dataset))


@dataclass(frozen=True)
class Rejected:
    """An invalid record and why."""

    record_number: int
    line: int | None
    record: Any
    raw: str | None
    reasons: list[Reason]


class Judge:
    """Splits staged batches of one dataset into valid rows (typed) and rejected records."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._compiled = CompiledSchema(dataset)
        self._fields = source_fields(dataset)
        self.schema = judged_schema(dataset)
        self._focused: dict[frozenset[str], Draft202012Validator] = {frozenset(): dataset.validator}

    def judge(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, list[Rejected]]:
        """The valid rows of ``batch`` in file order, and the rejected records with their reasons.

        Rows the compiled checks pass are valid; every other row is judged by the
        reference validator (and the storage check), whose reasons are reported.
        """
        checked = self._compiled.check(batch.column("values"))
        passed = pc.indices_nonzero(checked.surely_valid)
        fast = pa.RecordBatch.from_arrays(
            [batch.column(f.name).take(passed) for f in POSITION]
            + [checked.columns[f.name].take(passed) for f in self._fields],
            schema=self.schema,
        )
        flagged = pc.indices_nonzero(pc.invert(checked.surely_valid))
        slow, rejected = self._by_reference(batch.take(flagged), _settled_per_row(checked.settled, flagged))
        if not slow.num_rows:
            return fast, rejected
        table = pa.Table.from_batches([fast, slow]).combine_chunks()
        ordered = table.take(pc.sort_indices(table["record_number"]))
        return ordered.to_batches(max_chunksize=max(ordered.num_rows, 1))[0], rejected

    def _by_reference(self, batch: pa.RecordBatch, settled: list[frozenset[str]]) -> tuple[pa.RecordBatch, list[Rejected]]:
        rows = batch.select(["record_number", "line", "record", "raw", "error"]).to_pydict()
        valid: dict[str, list[Any]] = {"record_number": [], "line": [], "record": []}
        values: list[dict[str, Any]] = []
        rejected = []
        for number, line, text, raw, error, known in zip(*rows.values(), settled):
            value: Any = None if text is None else json.loads(text)
            reasons = [parse_failure(error)] if error is not None else \
                record_failures(self._dataset, self._fields, value, self._validator(known))
            if reasons:
                rejected.append(Rejected(number, line, value, raw, reasons))
                continue
            valid["record_number"].append(number)
            valid["line"].append(line)
            valid["record"].append(text)
            values.append(value)
        arrays = [pa.array(valid[f.name], f.type) for f in POSITION]
        arrays += [python_column(f, self._dataset.json_text[f.name], values) for f in self._fields]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema), rejected

    def _validator(self, settled: frozenset[str]) -> Draft202012Validator:
        """The reference validator, with the subschemas of ``settled`` properties replaced by ``true``.

        Where the compiled checks settled a property, its subschema yields no error, so
        this validator finds exactly the reference's errors (same paths, keywords and
        messages) without descending into the properties already known to be valid.
        """
        if settled not in self._focused:
            schema = self._dataset.schema
            properties = {name: True if name in settled else sub for name, sub in schema["properties"].items()}
            self._focused[settled] = self._dataset.validator.evolve(schema={**schema, "properties": properties})
        return self._focused[settled]


def _settled_per_row(settled: dict[str, pa.Array], rows: pa.Array) -> list[frozenset[str]]:
    """For each of ``rows``, the properties the compiled checks settled there."""
    if not settled:
        return [frozenset()] * len(rows)
    masks = {name: mask.take(rows).to_pylist() for name, mask in settled.items()}
    return [frozenset(name for name, is_settled in zip(masks, row) if is_settled) for row in zip(*masks.values())]
