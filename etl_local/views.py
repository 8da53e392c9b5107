"""Readable renderings of the API's answers for the ``etl`` commands (``--json`` prints them raw)."""
from __future__ import annotations

from typing import Any

from chalicelib.quality.checks import described

TOP_RULES_SHOWN = 3
_AGE_UNITS = (("d", 86400), ("h", 3600), ("min", 60))


def _counts(run: dict[str, Any]) -> str:
    shown = {name: "-" if count is None else count for name, count in run["counts"].items()}
    return f"{shown['in']} in, {shown['valid']} valid, {shown['invalid']} quarantined, {shown['written']} written"


def headline(status: str, run_id: str, dataset: str | None, bucket: str | None, key: str | None) -> str:
    return f"{status:<9} {run_id}  ({dataset}: s3://{bucket}/{key})"


def outcome_lines(reason: str | None, failed_state: str | None, error: str | None) -> list[str]:
    """Why a run did not succeed (nothing when it did)."""
    return ([f"  reason: {reason}"] if reason else []) + ([f"  failed at {failed_state}: {error}"] if error else [])


def output_lines(outputs: list[str], quarantine: str | None, dead_letters: Any) -> list[str]:
    """Where the run's records went."""
    lines = [f"  parquet: {len(outputs)} file(s), e.g. {outputs[0]}"] if outputs else []
    if quarantine:
        lines.append(f"  quarantine: {quarantine}")
    if dead_letters:
        lines.append(f"  dead-letter messages: {dead_letters}")
    return lines


def _age(seconds: float) -> str:
    """``seconds`` in the largest unit that keeps it at 2 or more: ``540 d``, ``3 h``, ``45 s``."""
    for unit, size in _AGE_UNITS:
        if abs(seconds) >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _share(share: float) -> str:
    return f"{share:.1%}".replace(".0%", "%")


def quality_lines(quality: dict[str, Any] | None) -> list[str]:
    """A run's quality in a line, then a line per breached check and per anomaly (nothing without a profile)."""
    if not quality:
        return []
    rules = ", ".join(f"{r['rule']} {r['records']}" for r in quality["top_rules"][:TOP_RULES_SHOWN])
    figures = [f"{_share(quality['invalid_share'])} invalid" + (f" ({rules})" if rules else "")]
    if quality["duplicate_share"] is not None:
        figures.append(f"{_share(quality['duplicate_share'])} duplicate {quality['key']}")
    if quality["freshness_seconds"] is not None:
        figures.append(f"freshness {_age(quality['freshness_seconds'])}")
    breached = [check for check in quality["checks"] if check["breached"]]
    figures.append(f"{len(breached)} of {len(quality['checks'])} checks breached" if quality["checks"] else "no checks")
    figures.append(f"{len(quality['anomalies']) or 'no'} anomal{'y' if len(quality['anomalies']) == 1 else 'ies'}")
    return ([f"  quality: {', '.join(figures)}"]
            + [f"  breached ({check['on_breach']}): {described(check)}" for check in breached]
            + [f"  anomaly: {anomaly['reason']}" for anomaly in quality["anomalies"]])


def run_lines(run: dict[str, Any]) -> list[str]:
    source = run["source"]
    lines = [
        headline(run["status"], run["run_id"], run["dataset"], source["bucket"], source["key"]),
        f"  records: {_counts(run)}",
        f"  started {run['started_at']}" + (f", finished {run['finished_at']} ({run['duration_seconds']} s)" if run["finished_at"] else ""),
        f"  execution: {run['execution_arn']}",
    ]
    if run.get("replay_of"):
        lines.append(f"  replays: {run['replay_of']}")
    if run["redrive_count"]:
        lines.append(f"  redriven: {run['redrive_count']} time(s)")
    lines += outcome_lines(run["reason"], run["failed_state"], run["error"])
    lines += quality_lines(run.get("quality"))
    return lines + output_lines(run.get("outputs", {}).get("files", []), run["quarantine"], ", ".join(run["dlq_message_ids"]))


def _runs(page: dict[str, Any]) -> list[str]:
    lines = [f"{r['status']:<9} {r['run_id']:<45} {r['dataset'] or '-':<13} {r['started_at']}  {_counts(r)}" for r in page["runs"]]
    if page["next_token"]:
        lines.append("(more: raise --limit or narrow with --status/--dataset/--since)")
    return lines or ["no runs"]


def _retries(state: dict[str, Any]) -> str:
    waits = "/".join(f"{w:.1f}s" for w in state["retry_waits_seconds"] if w is not None)
    return f"x{state['attempts']}, waits {waits}" if state["attempts"] > 1 else ""


def _notable(chunk: dict[str, Any]) -> bool:
    """A chunk worth a line of its own: it did not succeed, or one of its states was retried."""
    return chunk["status"] != "SUCCEEDED" or any(state["attempts"] > 1 for state in chunk["states"] or [])


def _named(state: dict[str, Any]) -> str:
    """A state's name, with its retries and their waits if it was retried."""
    retries = _retries(state)
    return state["name"] + (f" ({retries})" if retries else "")


def _chunk_path(chunk: dict[str, Any]) -> str:
    steps = " -> ".join(_named(state) + (f" {state['error']}" if state["error"] else "") for state in chunk["states"] or [])
    return f"chunk {chunk['index']} {chunk['status']}" + (f": {steps}" if steps else "")


def state_path(states: list[dict[str, Any]]) -> str:
    """The states a run went through, one line: retries with their waits, and for the Map, its chunks that did not
    simply succeed (``etl run``'s summary)."""
    parts = []
    for state in states:
        part = _named(state)
        if "chunks" in state:
            chunks = state["chunks"]
            notable = "; ".join(_chunk_path(chunk) for chunk in chunks if _notable(chunk))
            part += f" [{len(chunks)} chunk{'s' if len(chunks) != 1 else ''}{': ' + notable if notable else ''}]"
        parts.append(part)
    return " -> ".join(parts)


def _history(history: dict[str, Any]) -> list[str]:
    lines = [f"{history['status']} {history['run_id']}" + (f"  (redriven at {', '.join(history['redrives'])})" if history["redrives"] else "")]
    for state in history["states"]:
        lines.append("  " + _visit_line(state))
        for chunk in state.get("chunks", []):
            lines.append(f"    chunk {chunk['index'] if chunk['index'] is not None else '?'}: {chunk['status']}"
                         + (f"  {chunk['error']}" if chunk["error"] else ""))
            lines += ["      " + _visit_line(visit) for visit in chunk["states"] or []]
    return lines


def _visit_line(state: dict[str, Any]) -> str:
    duration = f"{state['duration_seconds']:.3f} s" if state["duration_seconds"] is not None else "unfinished"
    retries = _retries(state)
    error = f"  {state['error']}" if state["error"] else ""
    return f"{state['entered']}  {state['name']:<24} {state['type']:<9} {duration:>11}{'  ' + retries if retries else ''}{error}"


def _dead_letters(page: dict[str, Any]) -> list[str]:
    lines = [f"{m['message_id']}  {m['kind'] or '-':<11} {m['run_id'] or '-':<45} age {m['age_seconds']:.0f} s  {m['reason'] or ''}"
             for m in page["messages"]]
    return lines or ["the dead-letter queue is empty"]


def _replay(result: dict[str, Any]) -> list[str]:
    lines = []
    for r in result["results"]:
        detail = r.get("run_id") or r.get("message") or ""
        lines.append(f"{r['message_id']}  {r['outcome']:<15} {detail}")
    if result["remaining"]:
        lines.append("(more messages wait: run the replay again)")
    return lines or ["nothing to replay"]


def render(command: str, answer: dict[str, Any], replay: bool = False) -> str:
    if command == "runs":
        lines = _runs(answer)
    elif command == "history":
        lines = _history(answer)
    elif command == "dlq":
        lines = _replay(answer) if replay else _dead_letters(answer)
    else:  # show, redrive: one run
        lines = run_lines(answer)
    return "\n".join(lines)
