"""Building :class:`~chalicelib.payloads.Outcome` values."""
from __future__ import annotations

from chalicelib.payloads import Outcome, ReasonSample, Verdict


def outcome(
    verdict: Verdict,
    *,
    reason: str | None = None,
    records_in: int = 0,
    records_valid: int = 0,
    records_invalid: int = 0,
    quarantine: str | None = None,
    reasons: list[ReasonSample] | None = None,
    warnings: list[str] | None = None,
) -> Outcome:
    return Outcome(
        verdict=verdict,
        reason=reason,
        records_in=records_in,
        records_valid=records_valid,
        records_invalid=records_invalid,
        quarantine=quarantine,
        reasons=reasons or [],
        warnings=warnings or [],
    )
