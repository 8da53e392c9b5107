"""Validation of nested values: whatever recurses stays within Python's limit, or costs one record."""
from __future__ import annotations

import json

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import source_fields
from chalicelib.sources.limits import MAX_DEPTH
from chalicelib.validate.reasons import record_failures
from tests.unit.validate.pipeline import judged

# Three applicators and a reference per level of the value: about ten Python frames per level.
TREE = {"type": "object", "$defs": {"tree": {"allOf": [{"oneOf": [
    {"type": "integer"}, {"type": "array", "items": {"allOf": [{"$ref": "#/$defs/tree"}]}}]}]}},
    "properties": {"t": {"$ref": "#/$defs/tree"}, "n": {"type": "integer"}}}


def deep(depth: int, leaf: object = 1) -> object:
    """A value of ``depth - 1`` nested arrays, so that a record holding it nests ``depth`` deep."""
    value = leaf
    for _ in range(depth - 1):
        value = [value]
    return value


def within(frames: int, call):
    """``call()`` from ``frames`` frames further down the stack (a Lambda handler runs well below the top)."""
    return call() if frames == 0 else within(frames - 1, call)


def test_the_deepest_record_ingest_lets_through_validates_against_a_recursive_schema_with_room_to_spare():
    dataset = Dataset(name="trees", schema=TREE)
    lines = [json.dumps({"t": deep(MAX_DEPTH)}).encode(), json.dumps({"t": deep(MAX_DEPTH, "leaf")}).encode()]
    valid, rejected = within(200, lambda: judged(dataset, lines))
    assert valid["record_number"].to_pylist() == [1]
    [reasons] = [r.reasons for r in rejected]
    assert reasons == record_failures(dataset, source_fields(dataset), {"t": deep(MAX_DEPTH, "leaf")})
    assert reasons[0]["rule"] == "oneOf"


def test_references_that_loop_without_descending_cost_one_record_not_the_run():
    # GIVEN a schema jsonschema accepts whose property refers to itself in place
    dataset = Dataset(name="loop", schema={"type": "object", "$defs": {"loop": {"$ref": "#/$defs/loop"}},
                                           "properties": {"x": {"$ref": "#/$defs/loop"}, "n": {"type": "integer"}}})
    # WHEN records that reach the loop and one that does not are judged
    valid, rejected = judged(dataset, [b'{"x": 1}', b'{"n": 1}', b'{"x": [1], "n": 2}'])
    # THEN those reaching it are invalid with rule recursion, and the other is valid
    assert valid["record_number"].to_pylist() == [2]
    assert [(r.record_number, [(reason["path"], reason["rule"]) for reason in r.reasons]) for r in rejected] == [
        (1, [("$", "recursion")]), (3, [("$", "recursion")])]
