"""``tech-support``: support tickets with the customer's message, agent replies and the resolution.

The plan fixes product, channel, category, priority, status, the timeline and the satisfaction
score; the LLM (or the offline templates) writes the subject, the conversation and the resolution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, Field

from synth_pipelines.core.rng import BLOCK_ROWS
from synth_pipelines.domains.scenarios.base import Scenario, ScenarioArg, ScenarioArgumentError
from synth_pipelines.domains.scenarios.draws import (
    EPOCH,
    all_non_blank,
    draw_blocks,
    fill,
    ids,
    non_blank,
    non_empty_list,
    pick,
    pick_within,
    row_check,
    timestamps,
)
from synth_pipelines.domains.scenarios.records import TIMESTAMP

PRODUCTS = (
    "Nimbus Cloud Storage",
    "Orbit CRM",
    "PixelPad Tablet",
    "Beacon Home Router",
    "Ledgerly Invoicing",
    "Pulse Fitness Watch",
    "Harbor VPN",
    "Quill Notes App",
)
CHANNELS = ("email", "chat", "phone", "web-form", "social")
CATEGORIES = ("billing", "login", "bug", "performance", "connectivity", "feature-request", "account")
PRIORITIES = ("low", "medium", "high", "urgent")
STATUSES = ("resolved", "escalated", "pending")
# Priority mix per category: outages and access problems are more urgent than feature ideas.
PRIORITY_WEIGHTS = {
    "billing": (0.30, 0.45, 0.20, 0.05),
    "login": (0.10, 0.35, 0.40, 0.15),
    "bug": (0.15, 0.40, 0.35, 0.10),
    "performance": (0.20, 0.45, 0.30, 0.05),
    "connectivity": (0.05, 0.30, 0.40, 0.25),
    "feature-request": (0.70, 0.25, 0.05, 0.00),
    "account": (0.35, 0.45, 0.15, 0.05),
}
PRIORITY_CDF = np.cumsum([PRIORITY_WEIGHTS[c] for c in CATEGORIES], axis=1)
# Median minutes to the first reply by priority (lognormal around it).
FIRST_RESPONSE_MINUTES = {"low": 480.0, "medium": 120.0, "high": 30.0, "urgent": 8.0}

SUBJECTS = {
    "billing": (
        "Charged twice for {product}",
        "Question about my {product} invoice",
        "Refund request for {product}",
    ),
    "login": (
        "Can't sign in to {product}",
        "{product} password reset link not working",
        "Locked out of {product}",
    ),
    "bug": ("{product} crashes on start", "Error {code} in {product}", "{product} shows the wrong data"),
    "performance": ("{product} is very slow", "{product} keeps freezing", "Slow sync in {product}"),
    "connectivity": (
        "{product} keeps disconnecting",
        "{product} offline since this morning",
        "No connection to {product}",
    ),
    "feature-request": (
        "Idea for {product}",
        "Please add dark mode to {product}",
        "Export option for {product}?",
    ),
    "account": (
        "Change the owner of my {product} account",
        "Close my {product} account",
        "Update billing email",
    ),
}
ISSUES = {
    "billing": (
        "I was charged twice for {product} this month.",
        "my {product} invoice shows a plan I never ordered.",
        "I cancelled {product} but was still billed.",
    ),
    "login": (
        "I can't log in to {product}; it says my password is wrong even after a reset.",
        "the {product} two-factor code never arrives.",
        "my {product} account got locked after the last update.",
    ),
    "bug": (
        "{product} crashes every time I open it, with error {code}.",
        "{product} shows error {code} when I save.",
        "after the update {product} lost my settings.",
    ),
    "performance": (
        "{product} has become really slow since yesterday.",
        "{product} freezes for a minute at a time.",
        "syncing in {product} takes forever now.",
    ),
    "connectivity": (
        "{product} drops the connection every few minutes.",
        "{product} has been offline all morning.",
        "{product} can't reach the server (error {code}).",
    ),
    "feature-request": (
        "it would be great if {product} could export to CSV.",
        "could you add a dark mode to {product}?",
        "I'd love shared folders in {product}.",
    ),
    "account": (
        "I need to move my {product} account to a new email address.",
        "please close my {product} account and delete my data.",
        "I want to add a colleague to our {product} plan.",
    ),
}
OPENINGS = {
    "email": ("Hello,", "Hi support team,", "Dear support,"),
    "chat": ("Hi!", "Hey there,", "Hello,"),
    "phone": (
        "(call transcript) Caller says",
        "(call transcript) Customer reports that",
        "(call transcript) Hi,",
    ),
    "web-form": ("Issue description:", "Hello,", "Hi,"),
    "social": ("@support", "Hey @support,", "Hi team,"),
}
CLOSINGS = ("Thanks.", "Can you help?", "Please advise.", "This is urgent for us.", "Thank you in advance.")
ACKS = {
    "billing": "Thanks for reaching out about your {product} bill; I'm checking the charges now.",
    "login": "Sorry you're locked out of {product}. I've sent a fresh verification link to your email.",
    "bug": "Thanks for the report. Could you tell me which version of {product} you're on?",
    "performance": "Sorry {product} is slow for you. I'm looking at the service logs for your account.",
    "connectivity": "Thanks for letting us know. I'm checking the {product} status for your region.",
    "feature-request": "Thanks for the idea! I've passed it on to the {product} product team.",
    "account": "Happy to help with your {product} account. I've verified your identity.",
}
FOLLOW_UPS = (
    "Could you try again and let me know if it works now?",
    "Please restart the app and try once more.",
    "I've applied a fix on our side; it may take a few minutes to show.",
    "Could you send a screenshot of what you see?",
)
FIXES = {
    "billing": ("Refunded the duplicate {product} charge.", "Corrected the {product} plan on the invoice."),
    "login": (
        "Cleared the account lock; the customer can sign in to {product} again.",
        "Re-sent 2FA setup for {product}.",
    ),
    "bug": (
        "Shipped a fix for error {code} in {product}; the customer confirmed it works.",
        "Restored the lost settings.",
    ),
    "performance": (
        "Cleared a stuck sync job; {product} is back to normal speed.",
        "Moved the account to a faster region.",
    ),
    "connectivity": (
        "Resolved a regional outage affecting {product}.",
        "Updated the {product} firmware; the link is stable.",
    ),
    "feature-request": ("Logged the request on the {product} roadmap and told the customer.",),
    "account": (
        "Moved the {product} account to the new owner.",
        "Closed the {product} account and deleted its data.",
    ),
}
OPEN_STEPS = {
    "escalated": (
        "Escalated to the {product} engineering team with logs attached.",
        "Escalated to tier-2 support for a remote session.",
    ),
    "pending": (
        "Waiting for the customer to confirm the fix.",
        "Investigation ongoing; next update within 24 hours.",
    ),
}
# Keyed "status/category": what a resolved ticket's fix was, or an open ticket's next step.
RESOLUTIONS = {
    f"{status}/{category}": (FIXES[category] if status == "resolved" else OPEN_STEPS[status])
    for status in STATUSES
    for category in CATEGORIES
}


class SupportTicket(BaseModel):
    """A customer support ticket: facts, the conversation and how it ended."""

    ticket_id: str
    created_at: dt.datetime
    product: str
    channel: str
    category: str
    priority: Literal["low", "medium", "high", "urgent"]
    status: Literal["resolved", "escalated", "pending"]
    first_response_at: dt.datetime
    resolved_at: dt.datetime | None
    satisfaction_score: int | None = Field(description="1-5 survey score; null when the customer did not answer")
    subject: str = Field(min_length=1, max_length=200, description="the ticket's subject line")
    customer_message: str = Field(min_length=1, max_length=4000, description="the customer's first message")
    agent_replies: list[str] = Field(min_length=1, max_length=6, description="the agent's replies, in order")
    resolution: str = Field(min_length=1, max_length=1000, description="what resolved it, or the next step if open")


class TechSupportScenario(Scenario):
    name = "tech-support"
    version = "2"
    summary = "Support tickets: product, channel, category, priority, conversation, resolution, satisfaction"
    system_description = (
        "You write realistic customer-support tickets for software and consumer-electronics products. "
        "Stay consistent with the facts you are given (product, channel, category, priority, status). "
        "Write as a real customer and a professional support agent would; no personal data."
    )
    record_model = SupportTicket
    record_name = "tickets"
    # Tickets are drawn per block of core.rng.BLOCK_ROWS (65,536) records, so a shard draws only its blocks.
    block_rows = BLOCK_ROWS
    planned_fields = (
        "ticket_id",
        "created_at",
        "product",
        "channel",
        "category",
        "priority",
        "status",
        "first_response_at",
        "resolved_at",
        "satisfaction_score",
    )
    arguments = (
        ScenarioArg(
            "--channel",
            str,
            CHANNELS,
            "support channels to draw tickets from",
            choices=CHANNELS,
            multiple=True,
        ),
        ScenarioArg(
            "--days",
            int,
            90,
            "length of the time window the tickets span, from 2025-01-01",
            minimum=1,
            maximum=3650,
        ),
    )
    examples = (
        "synth scenario --scenario tech-support --count 10 --out-dir ./data/tech_support --output-format yaml",
        "synth scenario --scenario tech-support --count 500 --channel chat email --days 30 --output-format parquet",
    )

    def validate_args(self, cfg: Any) -> None:
        if len(set(cfg.channel)) != len(cfg.channel):
            raise ScenarioArgumentError(f"scenario {self.name}: --channel lists a channel twice: {cfg.channel}")

    def schema(self, cfg: Any) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(
            {
                "ticket_id": pa.Column(pl.String, pa.Check.str_matches(r"^TCK-\d{7}$"), unique=True),
                "created_at": pa.Column(TIMESTAMP),
                "product": pa.Column(pl.String, pa.Check.isin(PRODUCTS)),
                "channel": pa.Column(pl.String, pa.Check.isin(cfg.channel)),
                "category": pa.Column(pl.String, pa.Check.isin(CATEGORIES)),
                "priority": pa.Column(pl.String, pa.Check.isin(PRIORITIES)),
                "status": pa.Column(pl.String, pa.Check.isin(STATUSES)),
                "first_response_at": pa.Column(TIMESTAMP),
                "resolved_at": pa.Column(TIMESTAMP, nullable=True),
                "satisfaction_score": pa.Column(pl.Int64, pa.Check.in_range(1, 5), nullable=True),
                "subject": pa.Column(pl.String, non_blank()),
                "customer_message": pa.Column(pl.String, non_blank()),
                "agent_replies": pa.Column(pl.List(pl.String), [non_empty_list(), all_non_blank()]),
                "resolution": pa.Column(pl.String, non_blank()),
            },
            checks=[
                row_check(pl.col("first_response_at") >= pl.col("created_at"), "responds_after_creation"),
                row_check(pl.col("resolved_at") >= pl.col("first_response_at"), "resolved_after_first_response"),
                row_check(
                    pl.col("resolved_at").is_null() == (pl.col("status") != "resolved"),
                    "resolved_at_iff_resolved",
                ),
                row_check(
                    pl.col("satisfaction_score").is_null() | (pl.col("status") == "resolved"),
                    "scored_only_if_resolved",
                ),
                row_check(
                    pl.col("created_at") < pl.lit(EPOCH + dt.timedelta(days=cfg.days), dtype=TIMESTAMP),
                    "created_within_window",
                ),
            ],
            strict=True,
            ordered=True,
        )

    def draw_plan(self, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        return self.draw_plan_range(cfg, seed, entities, 0, cfg.count)

    def draw_plan_range(
        self, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame], start: int, stop: int
    ) -> pl.DataFrame:
        channels = list(cfg.channel)
        window = cfg.days * 86_400.0

        def draw(rng: np.random.Generator, n: int, row: int) -> pl.DataFrame:
            category = pick(rng, CATEGORIES, n, (0.22, 0.18, 0.18, 0.12, 0.12, 0.08, 0.10))
            # Inverse-CDF draw of the priority from each row's category weights.
            codes = pl.Series(category, dtype=pl.String).replace_strict(CATEGORIES, range(len(CATEGORIES))).to_numpy()
            priority_idx = (rng.random(n)[:, None] >= PRIORITY_CDF[codes][:, :-1]).sum(axis=1)
            priority = np.asarray(PRIORITIES, dtype=object)[priority_idx]
            # Seconds after the epoch, each ticket on its own (numbered as drawn, not sorted by time:
            # ticket i never depends on --count).
            created = rng.random(n) * window
            medians = np.asarray([FIRST_RESPONSE_MINUTES[p] for p in PRIORITIES])[priority_idx]
            first = created + 60.0 * medians * rng.lognormal(0.0, 0.6, n)
            status = pick(rng, STATUSES, n, (0.75, 0.10, 0.15))
            resolved = first + 3600.0 * rng.lognormal(1.0, 1.0, n)
            answered = rng.random(n) < 0.6
            score = np.clip(np.round(rng.normal(4.1, 1.0, n)), 1, 5).astype(np.int64)
            is_resolved = status == "resolved"
            return pl.DataFrame(
                {
                    "ticket_id": ids("TCK-", row + 1, n),
                    "created_at": timestamps(created),
                    "product": pick(rng, PRODUCTS, n).tolist(),
                    "channel": pick(rng, channels, n).tolist(),
                    "category": category.tolist(),
                    "priority": priority.tolist(),
                    "status": status.tolist(),
                    "first_response_at": timestamps(first),
                    "resolved_at": timestamps(resolved).set(pl.Series(~is_resolved), None),  # type: ignore[arg-type]
                    "satisfaction_score": pl.Series(score).set(pl.Series(~(is_resolved & answered)), None),  # type: ignore[arg-type]
                },
                schema_overrides={"product": pl.String, "channel": pl.String, "category": pl.String},
            )

        return draw_blocks(seed, self.name, "plan", stop - start, draw, start=start)

    def draw_offline(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return self.draw_offline_range(plan, cfg, seed, entities, 0)

    def draw_offline_range(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame], start: int
    ) -> pl.DataFrame:
        def draw(rng: np.random.Generator, n: int, row: int) -> pl.DataFrame:
            rows = plan.slice(row - start, n)
            category = rows["category"].to_numpy()
            n_replies = rng.integers(1, 4, n)
            frame = pl.DataFrame(
                {
                    "product": rows["product"],
                    "code": pl.Series(rng.integers(100, 999, n)).cast(pl.String),
                    "subject_t": pick_within(rng, category, SUBJECTS).tolist(),
                    "opening": pick_within(rng, rows["channel"].to_numpy(), OPENINGS).tolist(),
                    "issue": pick_within(rng, category, ISSUES).tolist(),
                    "closing": pick(rng, CLOSINGS, n).tolist(),
                    "ack": rows["category"].replace_strict(ACKS, return_dtype=pl.String),
                    "follow_up": pick(rng, FOLLOW_UPS, n).tolist(),
                    "resolution_t": pick_within(
                        rng, (rows["status"] + "/" + rows["category"]).to_numpy(), RESOLUTIONS
                    ).tolist(),
                    "n_replies": n_replies,
                },
                schema_overrides={
                    k: pl.String
                    for k in ("subject_t", "opening", "issue", "closing", "ack", "follow_up", "resolution_t")
                },
            )
            slots = {"product": pl.col("product"), "code": pl.lit("E") + pl.col("code")}
            closing_reply = pl.lit("Update: ") + fill(pl.col("resolution_t"), slots)
            return frame.select(
                fill(pl.col("subject_t"), slots).alias("subject"),
                pl.concat_str(
                    [pl.col("opening"), fill(pl.col("issue"), slots), pl.col("closing")], separator=" "
                ).alias("customer_message"),
                pl.concat_list([fill(pl.col("ack"), slots), pl.col("follow_up"), closing_reply])
                .list.head(pl.col("n_replies"))
                .alias("agent_replies"),
                fill(pl.col("resolution_t"), slots).alias("resolution"),
            )

        return draw_blocks(seed, self.name, "offline-text", plan.height, draw, start=start)

    def build_prompt(self, plan_row: Mapping[str, Any], cfg: Any) -> str:
        replies = {"resolved": "2-3", "escalated": "2", "pending": "1-2"}[plan_row["status"]]
        return (
            f"Write support ticket {plan_row['ticket_id']}.\n"
            f"Product: {plan_row['product']}\nChannel: {plan_row['channel']}\n"
            f"Category: {plan_row['category']}\nPriority: {plan_row['priority']}\n"
            f"Status: {plan_row['status']}\n"
            f"Opened: {plan_row['created_at']:%Y-%m-%d %H:%M} UTC\n"
            "Give a short subject, the customer's first message in the voice of the "
            f"{plan_row['channel']} channel, "
            f"{replies} agent replies, and a one-sentence resolution "
            + ("(what fixed it)." if plan_row["status"] == "resolved" else "(the next step; it is not fixed yet).")
        )
