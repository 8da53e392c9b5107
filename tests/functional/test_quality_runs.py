"""The samples' runs carry their quality; a breached warn check is written, flagged and alerted (issue 15)."""
from __future__ import annotations

from etl_local.emulation.world import LocalAws
from etl_local.runner import run_file
from tests.conftest import SAMPLES


def test_each_run_shows_its_quality_and_a_breached_check_its_warning(registry, tmp_path):
    with LocalAws() as world:
        clean = run_file(world, SAMPLES / "transactions.jsonl", None, tmp_path, registry)
        flawed = run_file(world, SAMPLES / "transactions_with_errors.csv", None, tmp_path, registry)
    assert clean.status == flawed.status == "SUCCEEDED"
    assert clean.quality is not None and flawed.quality is not None
    assert clean.quality["valid"] == 24 and not any(check["breached"] for check in clean.quality["checks"])
    assert not any("quality warning" in alert for alert in clean.alerts)
    [breached] = [check for check in flawed.quality["checks"] if check["breached"]]
    assert (breached["check"], breached["field"], breached["on_breach"]) == ("max_null_share", "merchant", "warn")
    assert f"ETL run data quality warning: {flawed.run_id}" in flawed.alerts
    assert flawed.records_written == 28 and flawed.quality["top_rules"]  # written all the same
