from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench.dataplane import run_stages, run_until_output
from chalicelib.errors import IntegrityError, TransientError
from chalicelib.output import output
from chalicelib.output.publish import Publisher
from chalicelib.storage.objects import ObjectStore
from chalicelib.transform.partitions import HourlyParquetWriter, partition_directory
from tests.conftest import put_raw

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:etl:o"


def record(i: int, hour: int) -> str:
    return json.dumps({"transaction_id": f"t{i}", "timestamp": f"2024-03-15T{hour:02d}:15:00Z", "user_id": "u",
                       "amount": 10 * i, "currency": "USD"})


def processed_keys(world) -> list[str]:
    listing = world.client("s3").list_objects_v2(Bucket=world.names.processed_bucket, Prefix="processed/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def rows(world, keys: list[str]) -> list[str]:
    """The transaction ids the Parquet files hold, sorted."""
    s3 = world.client("s3")
    ids: list[str] = []
    for key in keys:
        body = s3.get_object(Bucket=world.names.processed_bucket, Key=key)["Body"].read()
        ids += pq.read_table(pa.BufferReader(body)).column("transaction_id").to_pylist()
    return sorted(ids)


def manifest_files(world, state) -> list[str]:
    bucket, key = state["output"]["manifest"].removeprefix("s3://").split("/", 1)
    return json.loads(world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())["files"]


def test_output_writes_hourly_partitions_of_snappy_parquet(world, services, tmp_path):
    body = "\n".join([record(1, 8), record(2, 8), record(3, 9)]) + "\n"
    state = run_stages(services, put_raw(world, "raw/transactions/t.jsonl", body.encode()), EXECUTION)
    keys = processed_keys(world)
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "processed/transactions/year=2024/month=03/day=15/hour=08",
        "processed/transactions/year=2024/month=03/day=15/hour=09",
    ]
    assert state["output"] == {"records_written": 3, "files": 2, "partitions": 2,
                               "manifest": state["output"]["manifest"]}
    local = tmp_path / "f.parquet"
    world.client("s3").download_file(world.names.processed_bucket, keys[0], str(local))
    parquet = pq.ParquetFile(local)
    assert parquet.metadata.num_rows == 2
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert "year" not in parquet.schema_arrow.names  # partition values live in the path only


def test_a_new_version_of_the_key_replaces_the_old_ones_files_and_stale_partitions(world, services):
    # GIVEN a first version spanning hours 08 and 09
    run_stages(services, put_raw(world, "raw/transactions/t.jsonl", (record(1, 8) + "\n" + record(2, 9) + "\n").encode()), EXECUTION)
    first = processed_keys(world)
    # WHEN a corrected version of the same key lands, spanning hours 09 and 10
    run_stages(services, put_raw(world, "raw/transactions/t.jsonl", (record(2, 9) + "\n" + record(3, 10) + "\n").encode()), EXECUTION + "2")
    second = processed_keys(world)
    # THEN its files replaced the first version's: hour 08 is gone, hour 09 holds one file, nothing is duplicated
    # (each version names its own files, so two versions processed at once never write the same object)
    assert len(first) == len(second) == 2 and not set(first) & set(second)
    assert [key.split("/")[5] for key in second] == ["hour=09", "hour=10"]
    assert rows(world, second) == ["t2", "t3"]


def test_a_retried_output_overwrites_its_own_files(world, services):
    state = run_until_output(services, put_raw(world, "raw/transactions/t.jsonl", (record(1, 8) + "\n" + record(2, 9) + "\n").encode()),
                             EXECUTION)
    first = output(state, services)
    again = output(state, services)
    assert processed_keys(world) == sorted(manifest_files(world, again))
    assert first["output"] == again["output"] and len(processed_keys(world)) == 2


@pytest.mark.parametrize("newer_finishes_first", [True, False], ids=["newer first", "older first"])
def test_racing_versions_of_a_key_end_with_the_newer_ones_data(world, services, newer_finishes_first):
    # GIVEN a big old version and a small new version of one key, both transformed (their runs overlap)
    key = "raw/transactions/x.jsonl"
    old = run_until_output(services, put_raw(world, key, "".join(record(i, 8 + i % 3) + "\n" for i in range(1, 31)).encode()), EXECUTION)
    new = run_until_output(services, put_raw(world, key, (record(100, 12) + "\n").encode()), EXECUTION + "new")
    # WHEN their Outputs finish in either order
    first, second = (new, old) if newer_finishes_first else (old, new)
    results = {id(state): output(state, services) for state in (first, second)}
    # THEN only the newer version's records are in processed/, and a late old run says it was superseded
    assert rows(world, processed_keys(world)) == ["t100"]
    old_result = results[id(old)]
    assert old_result["publication"]["superseded"] is newer_finishes_first
    if newer_finishes_first:
        assert old_result["output"] == {"records_written": 0, "files": 0, "partitions": 0, "manifest": None}
        assert "newer version" in old_result["publication"]["reason"]
    assert results[id(new)]["publication"] == {"superseded": False, "reason": None}


def test_a_newer_version_published_while_an_older_one_copies_its_files_still_wins(world, services, monkeypatch):
    # GIVEN an old and a new version of one key, both transformed
    key = "raw/transactions/x.jsonl"
    old = run_until_output(services, put_raw(world, key, "".join(record(i, 8) + "\n" for i in range(1, 31)).encode()), EXECUTION)
    new = run_until_output(services, put_raw(world, key, (record(100, 12) + "\n").encode()), EXECUTION + "new")
    # WHEN the old run's Output has written its manifest and the new run's whole Output runs before its copies
    copy_all = ObjectStore.copy_all
    overlapped = []

    def newer_output_first(objects, pairs, bucket):
        if not overlapped:
            overlapped.append(new)
            output(new, services)
        copy_all(objects, pairs, bucket)

    monkeypatch.setattr(ObjectStore, "copy_all", newer_output_first)
    late = output(old, services)
    # THEN the old run's files are gone again, and it says it was superseded
    assert overlapped and late["publication"]["superseded"] is True
    assert rows(world, processed_keys(world)) == ["t100"]


def test_other_sources_in_the_same_partition_are_untouched(world, services):
    run_stages(services, put_raw(world, "raw/transactions/a.jsonl", (record(1, 8) + "\n").encode()), EXECUTION)
    run_stages(services, put_raw(world, "raw/transactions/b.jsonl", (record(2, 8) + "\n").encode()), EXECUTION + "b")
    assert len(processed_keys(world)) == 2


def test_output_refuses_counts_that_do_not_add_up(world, services):
    state = run_until_output(services, put_raw(world, "raw/transactions/t.jsonl", (record(1, 8) + "\n").encode()), EXECUTION)
    state["outcome"]["records_valid"] = 2
    with pytest.raises(IntegrityError, match="wrote 1 records but 2 were valid"):
        output(state, services)
    assert processed_keys(world) == []  # checked before anything reached processed/


def test_partition_directories_print_as_strftime_does():
    # GIVEN hours from the first year to the last, and no hour at all
    stamps = pa.array([datetime(5, 1, 2, 3, tzinfo=UTC), datetime(2024, 12, 31, 23, tzinfo=UTC),
                       datetime(9999, 7, 4, 0, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    # THEN directories are zero-padded exactly as Arrow's strftime (and Hive) print them
    expected = pc.strftime(stamps, format="year=%Y/month=%m/day=%d/hour=%H").to_pylist()
    assert [partition_directory(s) for s in stamps.to_pylist()] == expected
    assert partition_directory(None) == "/".join(f"{p}=__HIVE_DEFAULT_PARTITION__" for p in ("year", "month", "day", "hour"))


def _hourly_batches(hours: list[int], batch_rows: int) -> list[pa.RecordBatch]:
    stamps = [datetime(2024, 3, 1, h, tzinfo=UTC) for h in hours]
    table = pa.table({"n": list(range(len(hours))), "ts": pa.array(stamps, pa.timestamp("us", tz="UTC"))})
    return table.to_batches(max_chunksize=batch_rows)


@pytest.mark.parametrize("max_buffered_rows", [1_000, 7], ids=["roomy-buffer", "tight-buffer"])
def test_hourly_writer_keeps_every_row_in_order_within_its_partition(tmp_path, max_buffered_rows):
    # GIVEN rows of three hours interleaved, in batches, with small row groups and files
    hours = [(i * 7) % 3 for i in range(100)]
    batches = _hourly_batches(hours, batch_rows=9)
    writer = HourlyParquetWriter(tmp_path, batches[0].schema, "ts", "src", row_group_rows=8, rows_per_file=20,
                                 max_buffered_rows=max_buffered_rows)
    # WHEN they are written
    for batch in batches:
        writer.write(batch)
    files = writer.close()
    # THEN each partition holds exactly its rows, in arrival order, across files numbered from 0
    assert writer.rows == 100
    by_partition: dict[str, list[int]] = {}
    for path, relative in files:
        directory, name = relative.rsplit("/", 1)
        assert name.startswith("src-") and path == tmp_path / relative
        parquet = pq.ParquetFile(path)
        assert parquet.metadata.num_rows <= 20
        assert all(parquet.metadata.row_group(g).num_rows <= 8 for g in range(parquet.metadata.num_row_groups))
        by_partition.setdefault(directory, []).extend(parquet.read().column("n").to_pylist())
    assert by_partition == {f"year=2024/month=03/day=01/hour={h:02d}": [n for n, x in enumerate(hours) if x == h]
                            for h in range(3)}
    names = [relative.rsplit("/", 1)[1] for _, relative in files if "hour=00" in relative]
    assert names == [f"src-{i}.parquet" for i in range(len(names))]


def test_hourly_writer_bounds_what_it_buffers(tmp_path):
    # GIVEN rows spread over 24 hours, and room for 50 buffered rows
    batches = _hourly_batches([i % 24 for i in range(2_400)], batch_rows=100)
    writer = HourlyParquetWriter(tmp_path, batches[0].schema, "ts", "src", row_group_rows=1_000, max_buffered_rows=50)
    # WHEN each batch is written, THEN no more than that ever waits
    for batch in batches:
        writer.write(batch)
        assert writer.buffered_rows <= 50
    writer.close()


def test_a_later_run_of_the_same_version_owns_its_files(world, services):
    # GIVEN a run of a version, and a replay of the same version that began later and published first
    source = put_raw(world, "raw/transactions/t.jsonl", (record(1, 8) + "\n" + record(2, 9) + "\n").encode())
    original = run_until_output(services, source, EXECUTION)
    replay = run_until_output(services, {**source, "replay": "r1"}, EXECUTION + "replay")
    replay["run"]["started_at"] = "2999-01-01T00:00:00+00:00"
    published = output(replay, services)
    files = processed_keys(world)
    # WHEN the original run's Output runs late (a redrive)
    late = output(original, services)
    # THEN the replay's files stand and the late run says why it wrote nothing
    assert processed_keys(world) == files and published["publication"]["superseded"] is False
    assert late["publication"]["superseded"] is True and "began later" in late["publication"]["reason"]


def a_version_and_its_later_replay(world, services, original_chunks: int) -> tuple[dict, dict]:
    """A version run in ``original_chunks`` chunks (1: planned as the replay) and a replay of it in one chunk that
    began later, both transformed."""
    body = "".join(record(i, 8 + i % 2) + "\n" for i in range(1, 31)).encode()
    source = put_raw(world, "raw/transactions/t.jsonl", body)
    chunk_size = {"chunk_mb": len(body) / original_chunks / (1 << 20)} if original_chunks > 1 else {}
    original = run_until_output(services, {**source, **chunk_size}, EXECUTION)
    replay = run_until_output(services, {**source, "replay": "r1"}, EXECUTION + "replay")
    replay["run"]["started_at"] = "2999-01-01T00:00:00+00:00"
    assert (original["chunks"]["count"], replay["chunks"]["count"]) == (original_chunks, 1)
    return original, replay


def holds_only_the_owners_data(world, owner: dict) -> bool:
    """processed/ holds the files the owner's manifest lists, every record once, all written by the owner."""
    keys = processed_keys(world)
    s3 = world.client("s3")
    run_ids = {run_id for key in keys for run_id in pq.read_table(pa.BufferReader(
        s3.get_object(Bucket=world.names.processed_bucket, Key=key)["Body"].read())).column("run_id").to_pylist()}
    return (keys == sorted(manifest_files(world, owner)) and rows(world, keys) == sorted(f"t{i}" for i in range(1, 31))
            and run_ids == {owner["run"]["run_id"]})


@pytest.mark.parametrize("original_chunks", [3, 1], ids=["cut differently", "cut alike"])
def test_a_later_run_of_the_same_version_owns_processed_even_if_the_earlier_copies_last(world, services, monkeypatch,
                                                                                         original_chunks):
    original, replay = a_version_and_its_later_replay(world, services, original_chunks)
    # WHEN the original's Output has declared its files and the replay's whole Output runs before its copies land
    copy_all = ObjectStore.copy_all
    outputs: dict = {}

    def replay_output_first(objects, pairs, bucket):
        if not outputs:
            outputs["replay"] = None  # once: the replay's own copies go straight through
            outputs["replay"] = output(replay, services)
        copy_all(objects, pairs, bucket)

    monkeypatch.setattr(ObjectStore, "copy_all", replay_output_first)
    late = output(original, services)
    # THEN processed/ is the replay's (no file of the original's left, none of its content in shared names),
    # and the original says why it stood down
    assert outputs["replay"]["publication"]["superseded"] is False
    assert holds_only_the_owners_data(world, outputs["replay"])
    assert late["publication"]["superseded"] is True and "began later" in late["publication"]["reason"]


def test_two_runs_of_a_version_declaring_at_once_leave_the_later_one_owning_the_manifest(world, services, monkeypatch):
    original, replay = a_version_and_its_later_replay(world, services, 3)
    # WHEN the replay's whole Output runs between the original's read of the manifest and its write
    get_json_tagged = ObjectStore.get_json_tagged
    outputs: dict = {}

    def replay_output_after_the_first_read(objects, bucket, key):
        read = get_json_tagged(objects, bucket, key)
        if key.startswith("manifests/") and not outputs:
            outputs["replay"] = None
            outputs["replay"] = output(replay, services)
        return read

    monkeypatch.setattr(ObjectStore, "get_json_tagged", replay_output_after_the_first_read)
    late = output(original, services)
    # THEN the original's write was refused, it read again, and stood down
    assert holds_only_the_owners_data(world, outputs["replay"])
    assert late["publication"]["superseded"] is True


def test_an_output_retried_after_a_later_run_took_over_removes_what_its_first_attempt_copied(world, services, monkeypatch):
    original, replay = a_version_and_its_later_replay(world, services, 3)
    # GIVEN the original's Output declared, the replay's whole Output ran, then the original's copies landed
    # and its Output failed before settling
    copy_all = ObjectStore.copy_all
    outputs: dict = {}

    def replay_output_first(objects, pairs, bucket):
        if not outputs:
            outputs["replay"] = None
            outputs["replay"] = output(replay, services)
        copy_all(objects, pairs, bucket)

    with monkeypatch.context() as patch:
        patch.setattr(ObjectStore, "copy_all", replay_output_first)
        settle = Publisher.settle

        def original_fails_to_settle(publisher):
            if outputs.get("replay") is not None:  # the replay has published: this is the original
                raise TransientError("lost answer")
            return settle(publisher)

        patch.setattr(Publisher, "settle", original_fails_to_settle)
        with pytest.raises(TransientError):
            output(original, services)
    assert not holds_only_the_owners_data(world, outputs["replay"])  # the original's copies are in processed/
    # WHEN the original's Output is retried
    late = output(original, services)
    # THEN it stood down, and nothing it copied is left
    assert holds_only_the_owners_data(world, outputs["replay"])
    assert late["publication"]["superseded"] is True


def test_keys_s3_could_not_delete_are_a_transient_error():
    from chalicelib.errors import TransientError
    from chalicelib.storage.objects import ObjectStore

    class PartlyDeleting:
        def delete_objects(self, **kwargs):
            return {"Errors": [{"Key": "processed/x.parquet", "Code": "SlowDown"}]}

    with pytest.raises(TransientError, match=r"1 keys not deleted, e.g. processed/x.parquet: SlowDown"):
        ObjectStore(PartlyDeleting()).delete("b", ["processed/x.parquet"])
