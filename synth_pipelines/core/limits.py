"""Calendar limits: every timestamp we write must fit ISO-8601's four-digit years (at most 9999-12-31T23:59:59).

Configurations that draw timestamps as a start plus a span are checked up front with these pure
functions, so a run past the limit is refused with the field named instead of writing ``+10000-...``.
"""

from __future__ import annotations

import datetime as dt
import os
import resource

LATEST = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
LATEST_TEXT = "9999-12-31T23:59:59Z"

# The log domains draw record i at start + i * interval + jitter(interval); the widest interval is
# cv_logs' one run a minute (api_logs: 50 ms, agent_traces: 30 s). An agent run's steps then follow
# each other for at most 38 steps of at most 1 h (+40 ms) each.
LOG_RECORD_INTERVAL = dt.timedelta(minutes=1)
LOG_TAIL = dt.timedelta(milliseconds=38 * 3_600_040)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def latest_timestamp_ok(start: dt.datetime, span: dt.timedelta) -> bool:
    """Whether ``start + span`` is at or before 9999-12-31T23:59:59 UTC (a naive ``start`` is UTC).

    A sum too large for ``datetime`` is simply not ok: this never raises ``OverflowError``.
    """
    try:
        return _utc(start) + span <= LATEST
    except OverflowError:
        return False


def require_latest_timestamp(field: str, start: dt.datetime, span: dt.timedelta, why: str = "") -> None:
    """Raise ``ValueError("<field>: ...")`` when ``start + span`` passes 9999-12-31T23:59:59 UTC."""
    if not latest_timestamp_ok(start, span):
        reason = f" ({why})" if why else ""
        raise ValueError(
            f"{field}: the last timestamp would fall after {LATEST_TEXT}{reason}; choose an earlier start or a "
            "shorter range"
        )


def log_range_problem(start: str, count: int | None) -> str | None:
    """Why a log domain's ``start`` + ``count`` records would pass 9999-12-31T23:59:59, or None.

    For a validator of ``start`` (its error names the field). A ``start`` that is not ISO-8601 is
    left to its own validator (None here).
    """
    try:
        moment = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return None
    records = count or 0
    span = LOG_RECORD_INTERVAL * (records + 1) + LOG_TAIL
    if latest_timestamp_ok(moment, span):
        return None
    return (
        f"{records:,} records from {start} would run past {LATEST_TEXT} (up to "
        f"{LOG_RECORD_INTERVAL.total_seconds():g} s per record); choose an earlier start or a smaller count"
    )


# ---- memory ---------------------------------------------------------------------------------

GIB = 2**30


def available_memory_bytes() -> int:
    """Memory this process can still use: MemAvailable, and no more than its address-space limit."""
    available: int | None = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        available = min(available, soft)
    return available


def require_memory(what: str, needed_bytes: float, hint: str = "") -> None:
    """Raise ``ValueError("<what>: needs about X GiB of memory, ...")`` when the estimate will not fit.

    Called with a lower-bound estimate before the first large allocation, so a run that cannot fit
    stops at once with the figure instead of a MemoryError (or swapping) minutes later.
    """
    available = available_memory_bytes()
    if needed_bytes <= available:
        return
    advice = f"; {hint}" if hint else ""
    raise ValueError(
        f"{what}: needs about {needed_bytes / GIB:,.1f} GiB of memory, more than the "
        f"{available / GIB:,.1f} GiB available{advice}"
    )
