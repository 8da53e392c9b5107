"""Records parsed one by one (CSV, JSON arrays, lines routed aside) are staged with typed values where they fit."""
from __future__ import annotations

import json

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.datasets import Dataset
from chalicelib.sources.formats import ParsedRecord
from chalicelib.sources.staged import ingested_schema, parse_types, parsed_batch
from tests.unit.sources.test_columnar import SCHEMA, records

values = records | st.sampled_from([5, "text", [1, 2], None, {"text": "\ud800"}, {"count": 1.0}, {"ratio": 2**53},
                                    {"ratio": 4.942428764270241e16}, {"ratio": 1e21}])


def _rfc8785(value) -> str | None:
    try:
        return rfc8785.dumps(value).decode()
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return None


@settings(max_examples=300, deadline=None)
@given(parsed=st.lists(values, min_size=1, max_size=30))
def test_staged_text_is_rfc8785_and_typed_values_are_the_records_own(parsed):
    # GIVEN records parsed one by one, some fitting the typed columns, some not (wrong types, nulls, extra members)
    staged = parsed_batch([ParsedRecord(n, n, value=v) for n, v in enumerate(parsed, 1)], SCHEMA).to_pylist()
    for value, row in zip(parsed, staged, strict=True):
        # THEN the canonical text is rfc8785's, or the record is an error when rfc8785 refuses it
        assert row["record"] == _rfc8785(value)
        assert (row["error"] is None) == (row["record"] is not None)
        # AND typed values, where set, are exactly the record's members (none null, so none mistaken for absent)
        if row["values"] is not None:
            present = {k: v for k, v in row["values"].items() if v is not None}
            assert present == value == json.loads(row["record"])
            assert None not in value.values()


def test_a_clean_csv_like_batch_is_typed_whole():
    rows = [{"text": f"t{i}", "count": i, "ratio": i / 7, "flag": i % 2 == 0, "é": "ü"} for i in range(500)]
    staged = parsed_batch([ParsedRecord(n, n, value=v) for n, v in enumerate(rows, 1)], SCHEMA)
    assert staged["values"].null_count == 0
    assert [json.loads(text) for text in staged["record"].to_pylist()] == rows


def test_a_dataset_whose_records_do_not_fit_columns_is_staged_untyped():
    free = Dataset(name="free", schema={"type": "object", "properties": {"anything": {"type": ["string", "integer"]}}})
    untyped_schema = ingested_schema(parse_types(free))
    staged = parsed_batch([ParsedRecord(1, 1, value={"anything": 1})], untyped_schema)
    assert staged["values"].null_count == 1 and staged["record"].to_pylist() == ['{"anything":1}']
