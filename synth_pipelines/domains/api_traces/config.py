"""Generation settings for API traces (also the Dagster run config of the ``api_traces`` group)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synth_pipelines.core.limits import require_latest_timestamp

SHARE_TOLERANCE = 1e-6
# Caps on the size flags (#15): far past what fits in memory anyway, so a typo (1e13) is refused at
# once; the memory estimate (``memory_lower_bound``) then refuses what this machine cannot hold.
MAX_USERS = 100_000_000
MAX_SESSIONS_PER_USER = 10_000.0
# Bytes a simulated call takes at least (16 columns, 5 of them text) and bytes per user and session
# in the arrays drawn before the calls: a lower bound, so nothing that fits is refused.
CALL_BYTES_MIN = 100
USER_BYTES = 17
SESSION_BYTES = 8
# Sessions that start on the last day run on past it: room for the longest plausible session after
# the range (at least a year), growing with the configured pauses. A workflow's own think time is not
# known here, so an unset ``think_time_mean_s`` counts as a generous 60 s.
SESSION_ROOM_MIN = dt.timedelta(days=366)
SESSION_ROOM_THINK_S = 60.0
SESSION_ROOM_FACTOR = 20.0


class ApiTracesConfig(BaseModel):
    """Who calls, how often, when, and how sessions fail. Defaults materialize in a few seconds."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    workflow: str = Field("ecommerce", description="built-in name (ecommerce, microservices) or a YAML path")
    users: int = Field(2_000, ge=1, le=MAX_USERS, description="number of distinct users")
    sessions_per_user_mean: float = Field(
        3.0, ge=0, le=MAX_SESSIONS_PER_USER, description="sessions per user ~ Normal(mean, std), >= 1"
    )
    sessions_per_user_std: float = Field(
        1.5, ge=0, le=MAX_SESSIONS_PER_USER, description="standard deviation of sessions per user"
    )
    premium_share: float = Field(0.2, ge=0, le=1, description="share of users of type premium")
    free_share: float = Field(0.5, ge=0, le=1, description="share of users of type free")
    guest_share: float = Field(0.3, ge=0, le=1, description="share of users of type guest")
    start_date: str = Field("2026-01-01", description="first day of the date range (UTC, YYYY-MM-DD)")
    days: int = Field(7, ge=1, description="length of the date range in days")
    think_time_mean_s: float | None = Field(
        None, ge=0, description="mean pause between calls; default: the workflow's, else 4 s"
    )
    long_pause_probability: float = Field(0.08, ge=0, le=1, description="share of pauses that are long")
    long_pause_mean_s: float = Field(45.0, ge=0, description="mean extra length of a long 'thinking' pause")
    success_rate: float = Field(0.95, ge=0, le=1, description="share of calls that succeed outside cascades")
    response_time_sigma: float = Field(0.35, ge=0, le=3, description="log-normal sigma of response times")
    cascade_failure_rate: float = Field(0.05, ge=0, le=1, description="share of sessions that degrade")
    slow_share: float = Field(0.5, ge=0, le=1, description="cascade calls that are slow (3-10x, still 200)")
    timeout_share: float = Field(0.2, ge=0, le=1, description="cascade calls that time out (504, ~30 s)")
    unavailable_share: float = Field(0.3, ge=0, le=1, description="cascade calls refused (503, fast)")
    retry_probability: float = Field(0.7, ge=0, le=1, description="chance a 502/503/504 is retried")
    max_retries: int = Field(2, ge=0, le=10, description="most retries of one failed call")
    max_calls_per_session: int = Field(5_000, ge=1, description="a walk longer than this is an error")

    @field_validator("start_date")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise ValueError(f"start_date must be YYYY-MM-DD, got {value!r}") from exc

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> ApiTracesConfig:
        users = self.premium_share + self.free_share + self.guest_share
        if abs(users - 1) > SHARE_TOLERANCE:
            raise ValueError(f"premium_share + free_share + guest_share must be 1, got {users:.6g}")
        kinds = self.slow_share + self.timeout_share + self.unavailable_share
        if abs(kinds - 1) > SHARE_TOLERANCE:
            raise ValueError(f"slow_share + timeout_share + unavailable_share must be 1, got {kinds:.6g}")
        return self

    @model_validator(mode="after")
    def _range_fits_the_calendar(self) -> ApiTracesConfig:
        think_s = SESSION_ROOM_THINK_S if self.think_time_mean_s is None else self.think_time_mean_s
        per_call_s = SESSION_ROOM_FACTOR * (think_s + self.long_pause_mean_s + 30.0)
        try:
            room = max(SESSION_ROOM_MIN, dt.timedelta(seconds=self.max_calls_per_session * per_call_s))
            span = dt.timedelta(days=self.days) + room
        except OverflowError:
            span = dt.timedelta.max
        require_latest_timestamp(
            "start_date + days",
            self.start,
            span,
            f"{self.start_date} + {self.days:,} days, plus {room_days(span, self.days)} days for the last sessions",
        )
        return self

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(dt.date.fromisoformat(self.start_date), dt.time(), tzinfo=dt.UTC)


def room_days(span: dt.timedelta, days: int) -> str:
    """The session room in whole days, for messages (``span`` = days + room)."""
    if span == dt.timedelta.max:
        return "more"
    return f"{span.days - days:,}"


def memory_lower_bound(cfg: ApiTracesConfig) -> float:
    """Bytes a run needs at least: every session makes at least one call (round(Normal) >= 1 per user)."""
    sessions = cfg.users * max(1.0, cfg.sessions_per_user_mean)
    return cfg.users * USER_BYTES + sessions * (SESSION_BYTES + CALL_BYTES_MIN)


def require_memory_for(cfg: ApiTracesConfig) -> None:
    from synth_pipelines.core.limits import require_memory

    sessions = cfg.users * max(1.0, cfg.sessions_per_user_mean)
    require_memory(
        f"users {cfg.users:,} x sessions_per_user_mean {cfg.sessions_per_user_mean:g} (~{sessions:,.0f} sessions)",
        memory_lower_bound(cfg),
        "lower --users or --sessions-per-user",
    )
