"""Records through the data plane without AWS: staged as ingest stages them, then judged as validate judges them."""
from __future__ import annotations

import io
from contextlib import nullcontext
from unittest import mock

import pyarrow as pa

from chalicelib.datasets import Dataset
from chalicelib.sources import columnar
from chalicelib.sources.formats import parse
from chalicelib.sources.staged import ingested_schema, parse_types, parsed_batches
from chalicelib.validate.judge import Judge, Rejected


def staged(dataset: Dataset, lines: list[bytes], *, smallest_part: int | None = None) -> list[pa.RecordBatch]:
    """JSON Lines staged as the ingest stage stages them: by the columnar reader where the dataset allows it.

    ``smallest_part`` overrides how far a part Arrow refuses is halved (1: every line
    Arrow can parse takes the columnar path, whatever its neighbours).
    """
    types = parse_types(dataset)
    schema = ingested_schema(types)
    data = b"\n".join(lines) + b"\n"
    if not types:
        return list(parsed_batches(parse(io.BytesIO(data), "jsonl", dataset.field_types), schema))
    part = nullcontext() if smallest_part is None else mock.patch.object(columnar, "SMALLEST_PART", smallest_part)
    with part:
        return list(columnar.read_json_lines(io.BytesIO(data), schema))


def judged(dataset: Dataset, lines: list[bytes], *, smallest_part: int | None = None) -> tuple[pa.Table, list[Rejected]]:
    """The valid rows (typed, as validate stages them) and the rejected records of ``lines``."""
    judge = Judge(dataset)
    valid, rejected = [], []
    for batch in staged(dataset, lines, smallest_part=smallest_part):
        kept, refused = judge.judge(batch)
        valid.append(kept)
        rejected += refused
    return pa.Table.from_batches(valid, schema=judge.schema), rejected
