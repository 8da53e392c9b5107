from __future__ import annotations

import hashlib
import re

import pyarrow as pa
import pytest
import rfc8785

from chalicelib.identity import (
    InvalidRunInputError,
    dataset_from_key,
    plan_tag,
    record_ids,
    requested_source,
    run_id_for,
    source_id_for,
)
from chalicelib.ingest.plan import chunk_ref
from tests.conftest import load_event


def test_run_id_is_deterministic_readable_and_a_valid_execution_name():
    run_id = run_id_for("raw", "raw/transactions/2024/Q1 sales (final).csv.gz", "v1")
    assert run_id == run_id_for("raw", "raw/transactions/2024/Q1 sales (final).csv.gz", "v1")
    assert run_id.startswith("Q1-sales-final-") and re.fullmatch(r"[A-Za-z0-9_-]{1,80}", run_id)
    assert run_id != run_id_for("raw", "raw/transactions/2024/Q1 sales (final).csv.gz", "v2")
    assert len(run_id_for("b", "raw/x/" + "y" * 300, "v")) <= 80
    assert run_id_for("b", "raw/x/.hidden", "v").startswith("run-")


def test_source_id_ignores_the_version():
    assert source_id_for("b", "k") == source_id_for("b", "k") != source_id_for("b", "k2")


@pytest.mark.parametrize(("key", "dataset"), [("raw/metrics/a.json", "metrics"), ("raw/metrics/2024/a.json", "metrics"),
                                              ("raw/a.json", None), ("other/metrics/a.json", None), ("raw//a.json", None)])
def test_dataset_from_key(key, dataset):
    assert dataset_from_key(key) == dataset


def test_requested_source_from_eventbridge_event():
    source = requested_source(load_event("s3_object_created.json"))
    assert (source.bucket, source.key, source.version) == (
        "serverless-etl-local-raw", "raw/transactions/2024/03/15/batch-001.jsonl", "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")


def test_requested_source_from_direct_input():
    source = requested_source({"bucket": "b", "key": "k", "version": None, "dataset": "metrics"})
    assert (source.bucket, source.key, source.version, source.dataset) == ("b", "k", None, "metrics")


def test_input_without_an_object_is_a_clear_error():
    with pytest.raises(InvalidRunInputError, match="must name an S3 object"):
        requested_source({"file": "x.csv"})


@pytest.mark.parametrize("chunk_mb", [0, -1, 500, True, "64"])
def test_a_chunk_size_no_function_fits_or_no_number_is_a_clear_error(chunk_mb):
    with pytest.raises(InvalidRunInputError, match=r"chunk_mb must be a number of megabytes above 0 and at most 100"):
        requested_source({"bucket": "b", "key": "k", "chunk_mb": chunk_mb})


def test_plan_tag_names_where_a_plan_cuts_its_source():
    def ranges(*cuts):
        return [chunk_ref(i, "b", "k", "v", "jsonl", start=start, end=end) for i, (start, end) in enumerate(cuts)]

    def parts(*lines):
        return [chunk_ref(i, "b", f"part-{i}", None, "jsonl", lines=n, records=n) for i, n in enumerate(lines)]

    def gzip_parts(count):  # Zstandard parts of gzip text: no offsets or counts of their own
        return [chunk_ref(i, "b", f"part-{i}", None, "jsonl", compression="zstd") for i in range(count)]

    assert plan_tag(ranges((0, 100), (100, None)), 100) == plan_tag(ranges((0, 100), (100, None)), 100)
    assert plan_tag(ranges((0, 100), (100, None)), 100) != plan_tag(ranges((0, 120), (120, None)), 120)
    assert plan_tag(parts(10, 5), 64) != plan_tag(parts(8, 7), 64)  # parts of the same number, cut elsewhere
    assert plan_tag(gzip_parts(3), 1000) != plan_tag(gzip_parts(3), 1100)
    assert re.fullmatch(r"[0-9a-f]{8}", plan_tag(parts(10, 5), 64))


def test_record_ids_are_sha256_of_the_rfc8785_form():
    records = [{"b": [1.0, "é"], "a": 1e21}, {}, {"😀": "\u2028"}, {"n": 1}]
    texts = pa.array([rfc8785.dumps(r).decode() for r in records])
    expected = [hashlib.sha256(rfc8785.dumps(r)).hexdigest() for r in records]
    assert record_ids(texts).to_pylist() == expected
    # a slice of a larger array (an offset into Arrow's buffers) hashes its own rows
    assert record_ids(texts.slice(1, 2)).to_pylist() == expected[1:3]
    assert record_ids(pa.array([], pa.string())).to_pylist() == []
    with pytest.raises(TypeError, match="large_string"):
        record_ids(texts.cast(pa.large_string()))


def test_output_names_hold_the_plan_and_a_plan_without_one_keeps_the_names_it_had():
    from chalicelib.keys import output_stem

    assert output_stem("src", "ver", "9aee9c1b", 3) == "src-ver-9aee9c1b-00003"
    assert output_stem("src", "ver", "", 3) == "src-ver-00003"  # a redrive of a run planned before names held it
