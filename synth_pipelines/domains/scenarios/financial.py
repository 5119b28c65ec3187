"""``financial``: card, bank and crypto transactions with accounts, merchants and labelled fraud.

Accounts and merchants are entity tables of their own. The plan fixes who paid whom, when, how
much (USD-equivalent ranges per transaction type, converted to the account's currency and rounded
to its minor unit) and which transactions are fraud (an exact share of every 1,000, each with the
pattern that makes it fraud); the LLM or the offline templates write the statement description and a note.

Block-drawn (``Scenario.block_rows``): transactions come in fixed blocks of ``TRANSACTION_BLOCK``; a block's
accounts, plan and offline text come from its own streams, so transaction ``i`` depends only on the seed,
the arguments and ``i`` (``--count 100`` is the first 100 transactions of ``--count 300``, and its accounts and
merchants the first rows of theirs) and a shard draws only the blocks it overlaps. So transactions are
numbered in the order they are drawn, not sorted by time; an account's transactions have consecutive
numbers inside one block (its id is the number of its first transaction, ``ACC-00000017`` starts at
``TXN-00000017``); the merchant pool a transaction picks from grows with its number as the pool of a run of
that many transactions would (the merchants table is at most 5,000 rows: every shard draws it whole).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, Field

from synth_pipelines.core.rng import record_rng
from synth_pipelines.domains.scenarios.base import (
    EntityRange,
    Scenario,
    ScenarioArg,
    ScenarioArgumentError,
    entity_share,
)
from synth_pipelines.domains.scenarios.draws import (
    EPOCH,
    blocks_from,
    codes_of,
    draw_blocks,
    fill,
    id_numbers,
    ids,
    ids_of,
    non_blank,
    pick,
    pick_codes,
    pick_within,
    pick_within_codes,
    row_check,
    timestamps,
)
from synth_pipelines.domains.scenarios.records import TIMESTAMP

TRANSACTION_TYPES = ("credit-card", "debit-card", "ach", "wire", "crypto", "p2p")
# USD-equivalent (median, lognormal sigma, min, max) per type: cards are small, wires large.
AMOUNT_RANGES = {
    "credit-card": (45.0, 1.0, 1.0, 5_000.0),
    "debit-card": (35.0, 0.9, 1.0, 3_000.0),
    "ach": (400.0, 1.1, 5.0, 50_000.0),
    "wire": (5_000.0, 1.4, 100.0, 1_000_000.0),
    "crypto": (300.0, 1.5, 5.0, 250_000.0),
    "p2p": (60.0, 1.0, 1.0, 5_000.0),
}
# Units of the currency per US dollar (a fixed snapshot: the data must not depend on today's rates).
RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 150.0, "CAD": 1.36, "INR": 83.0, "BRL": 5.0}
CRYPTO_RATES = {"BTC": 1 / 60_000.0, "ETH": 1 / 3_000.0, "USDC": 1.0}
MINOR_UNITS = {"JPY": 0, "BTC": 8, "ETH": 8} | {c: 2 for c in ("USD", "EUR", "GBP", "CAD", "INR", "BRL", "USDC")}
# The same as arrays indexed by currency code (``draws.codes_of``).
CURRENCIES = tuple(RATES | CRYPTO_RATES)
CURRENCY_RATES = np.asarray([(RATES | CRYPTO_RATES)[c] for c in CURRENCIES])
CURRENCY_MINOR_UNITS = np.asarray([MINOR_UNITS[c] for c in CURRENCIES], dtype=np.int64)
CRYPTO_CODES = np.asarray([CURRENCIES.index(c) for c in CRYPTO_RATES], dtype=np.int64)
COUNTRIES = {
    "US": "USD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "JP": "JPY",
    "CA": "CAD",
    "IN": "INR",
    "BR": "BRL",
}
COUNTRY_WEIGHTS = (0.40, 0.12, 0.10, 0.08, 0.08, 0.08, 0.07, 0.07)
# Merchant categories with their ISO 18245 merchant category codes.
CATEGORIES = {
    "grocery": "5411",
    "restaurants": "5812",
    "airlines": "4511",
    "electronics": "5732",
    "fuel": "5541",
    "utilities": "4900",
    "online-retail": "5999",
    "entertainment": "7832",
    "healthcare": "8011",
    "crypto-exchange": "6051",
    "money-transfer": "4829",
}
# Which merchant categories each transaction type pays.
PAYEES = {
    "credit-card": (
        "grocery",
        "restaurants",
        "airlines",
        "electronics",
        "fuel",
        "online-retail",
        "entertainment",
        "healthcare",
    ),
    "debit-card": ("grocery", "restaurants", "fuel", "online-retail", "entertainment", "healthcare"),
    "ach": ("utilities", "healthcare", "money-transfer"),
    "wire": ("money-transfer", "airlines", "electronics"),
    "crypto": ("crypto-exchange",),
    "p2p": ("money-transfer",),
}
FRAUD_PATTERNS = {
    "card_testing": ("credit-card", "debit-card"),  # tiny authorisations probing a stolen card
    "high_amount": TRANSACTION_TYPES,  # far above the account's usual spend
    "geo_mismatch": TRANSACTION_TYPES,  # paid in a country other than the account's
    "odd_hour": TRANSACTION_TYPES,  # 01:00-04:59 UTC
}
NAME_PARTS = {
    "grocery": ("Green Basket", "FreshMart", "Corner Pantry", "Daily Harvest"),
    "restaurants": ("Bistro Lumen", "Noodle Yard", "Taco Relay", "The Copper Pot"),
    "airlines": ("SkyBridge Air", "Northwind Airways", "BlueJet"),
    "electronics": ("VoltHub", "Circuit City Outlet", "Gadget Grove"),
    "fuel": ("FuelStop", "Roadrunner Gas", "PetroPoint"),
    "utilities": ("City Power & Light", "AquaServe Water", "FiberNet Broadband"),
    "online-retail": ("ShopSphere", "ParcelPlace", "Everything Online"),
    "entertainment": ("Starlight Cinemas", "StreamBox", "Arcade Avenue"),
    "healthcare": ("Riverside Clinic", "WellPath Pharmacy", "CarePoint Dental"),
    "crypto-exchange": ("CoinHarbor", "BlockVault Exchange", "SatoshiSquare"),
    "money-transfer": ("SwiftRemit", "PayBridge", "TransferOne"),
}
NAME_SUFFIXES = ("", " Ltd", " & Co", " Group", " Express")
DESCRIPTIONS = {
    "credit-card": ("POS {merchant} #{ref}", "CARD PURCHASE {merchant}", "{merchant} ONLINE {ref}"),
    "debit-card": ("DEBIT CARD {merchant} #{ref}", "POS DEBIT {merchant}"),
    "ach": ("ACH DEBIT {merchant} PPD ID {ref}", "ACH PAYMENT {merchant}"),
    "wire": ("WIRE TRANSFER TO {merchant} REF {ref}", "OUTGOING WIRE {merchant} {ref}"),
    "crypto": ("BUY {currency} VIA {merchant} TX {ref}", "{merchant} {currency} PURCHASE"),
    "p2p": ("P2P PAYMENT VIA {merchant} {ref}", "SEND MONEY {merchant}"),
}
NOTES = {
    "none": (
        "Routine {category} payment consistent with the account's history.",
        "No anomalies: amount and location match past activity.",
    ),
    "card_testing": ("Very small authorisation typical of card testing on a compromised card.",),
    "high_amount": ("Amount far above this account's usual spend; customer confirmation pending.",),
    "geo_mismatch": ("Paid in {country}, outside the account's home country, with no travel notice.",),
    "odd_hour": ("Initiated in the middle of the night, unlike the account's usual activity.",),
}


class Transaction(BaseModel):
    """One payment from an account to a merchant."""

    transaction_id: str
    account_id: str
    merchant_id: str
    merchant_category: str
    transaction_type: str
    timestamp: dt.datetime
    amount: float
    currency: str
    amount_usd: float
    country: str
    status: str
    is_fraud: bool
    fraud_pattern: str | None
    description: str = Field(min_length=1, max_length=120, description="the bank-statement line")
    analyst_note: str = Field(min_length=1, max_length=400, description="one sentence a fraud analyst would write")


def _lookup(values: pl.Series, mapping: Mapping[str, Any], dtype: pl.DataType) -> pl.Series:
    return values.replace_strict(mapping, return_dtype=dtype)


# Rows per fraud stratum, counted from row 0: every full stratum holds exactly ceil(rate * 1000) frauds.
FRAUD_STRATUM = 1_000
# Transactions per block (``FinancialScenario.block_rows``): a whole number of fraud strata, so no stratum
# straddles two blocks. Part of the version: changing it changes every dataset.
TRANSACTION_BLOCK = 4_000


def merchant_pool(transactions: np.ndarray) -> np.ndarray:
    """Merchants of a run of ``transactions`` transactions (per element); a transaction's pool is the
    first ``merchant_pool(its number)`` merchants."""
    return np.minimum(5_000, np.maximum(3 * len(CATEGORIES), transactions // 40))


def fraud_rows_of(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """Which of ``n`` rows are fraud: in every stratum of ``FRAUD_STRATUM`` rows, the ``ceil(rate *
    FRAUD_STRATUM)`` rows with the lowest uniforms. The uniforms are drawn for whole strata, so a row's
    label never depends on ``n``; a last partial stratum holds its share only on average."""
    strata = -(-n // FRAUD_STRATUM)
    u = rng.random(strata * FRAUD_STRATUM).reshape(strata, FRAUD_STRATUM)
    per_stratum = math.ceil(rate * FRAUD_STRATUM) if rate > 0 else 0
    fraud = np.zeros_like(u, dtype=bool)
    np.put_along_axis(fraud, np.argsort(u, axis=1, kind="stable")[:, :per_stratum], True, axis=1)
    return fraud.reshape(-1)[:n]


class FinancialScenario(Scenario):
    name = "financial"
    version = "3"
    summary = "Transactions (card, ACH, wire, crypto, P2P) with accounts, merchants and labelled fraud"
    system_description = (
        "You write bank-statement descriptions and short fraud-analyst notes for synthetic payment "
        "transactions. Stay consistent with the facts given (type, merchant, amount, fraud label). "
        "Never invent personal data."
    )
    record_model = Transaction
    record_name = "transactions"
    block_rows = TRANSACTION_BLOCK
    max_count = 99_999_999  # TXN-%08d, numbered from 1
    planned_fields = tuple(f for f in Transaction.model_fields if f not in ("description", "analyst_note"))
    entity_tables = ("accounts", "merchants")
    references: ClassVar[dict[str, tuple[str, str]]] = {
        "account_id": ("accounts", "account_id"),
        "merchant_id": ("merchants", "merchant_id"),
    }
    arguments = (
        ScenarioArg(
            "--transaction-type",
            str,
            ("credit-card", "debit-card", "ach", "wire"),
            "transaction types to draw",
            choices=TRANSACTION_TYPES,
            multiple=True,
        ),
        ScenarioArg(
            "--transaction-count-max",
            int,
            25,
            "most transactions any one account makes (each makes 1..max)",
            minimum=1,
            maximum=1_000_000,
        ),
        ScenarioArg("--fraud-rate", float, 0.02, "share of transactions labelled fraud", minimum=0.0, maximum=0.5),
        ScenarioArg(
            "--days", int, 90, "length of the window the transactions span, from 2025-01-01", minimum=1, maximum=3650
        ),
    )
    examples = (
        "synth scenario --scenario financial --count 1000 --transaction-type credit-card "
        "--transaction-count-max 25 --out-dir ./data/financial --output-format parquet",
        "synth scenario --scenario financial --count 200 --transaction-type wire crypto --fraud-rate 0.1",
    )

    def validate_args(self, cfg: Any) -> None:
        if len(set(cfg.transaction_type)) != len(cfg.transaction_type):
            raise ScenarioArgumentError(
                f"scenario {self.name}: --transaction-type lists a type twice: {cfg.transaction_type}"
            )
        if cfg.fraud_rate > 0 and cfg.count == 1:
            raise ScenarioArgumentError(
                f"scenario {self.name}: --fraud-rate {cfg.fraud_rate} with --count 1 labels the only "
                "transaction fraud or not, never a share; use a larger --count or --fraud-rate 0"
            )

    # ---- entities ------------------------------------------------------------------------------

    def account_starts(self, cfg: Any, seed: int, block: int, n: int) -> np.ndarray:
        """Offsets in ``block`` of the first transaction of each account among its first ``n`` transactions.

        Each account makes 1..max transactions; the block's last account is cut short at the block's end
        (an account never straddles two blocks). The counts are drawn for the whole block, so an
        account's count never depends on ``n``.
        """
        counts = record_rng(seed, f"scenario/{self.name}", "account-counts", block).integers(
            1, cfg.transaction_count_max + 1, TRANSACTION_BLOCK
        )
        starts = np.cumsum(counts) - counts
        return starts[starts < n]

    def n_merchants(self, cfg: Any) -> int:
        return int(merchant_pool(np.array([cfg.count]))[0])

    def draw_entities(self, cfg: Any, seed: int) -> dict[str, pl.DataFrame]:
        return self.draw_entity_range(cfg, seed, 0, cfg.count).written

    def draw_entity_range(self, cfg: Any, seed: int, start: int, stop: int) -> EntityRange:
        """Accounts of the blocks overlapping ``start .. stop`` (written: those whose first transaction is in
        the range) and the whole merchants table (written: its proportional share)."""
        first = start - start % TRANSACTION_BLOCK
        raw = pl.concat(
            [
                self._accounts_block(cfg, seed, block, row, n)
                for block, row, n in blocks_from(first, stop, TRANSACTION_BLOCK)
            ]
            or [self._accounts_block(cfg, seed, 0, 0, 0)]
        )
        # Polars expressions once over the range, not per block.
        opened_on = pl.lit(EPOCH.date()) - pl.duration(days=pl.col("age_days"))
        accounts = raw.select(
            ids_of("ACC-", raw["opened_at"].to_numpy() + 1, width=8).alias("account_id"),
            "holder_type",
            "country",
            pl.col("country").replace_strict(COUNTRIES, return_dtype=pl.String).alias("currency"),
            "risk_tier",
            opened_on.alias("opened_on"),
        )
        merchants = self._merchants(cfg, seed)
        written_accounts = accounts.filter(raw["opened_at"].is_between(start, stop - 1))
        written_merchants = merchants.slice(*entity_share(merchants.height, cfg.count, start, stop))
        return EntityRange(
            {"accounts": accounts, "merchants": merchants},
            {"accounts": written_accounts, "merchants": written_merchants},
        )

    def _accounts_block(self, cfg: Any, seed: int, block: int, row: int, n: int) -> pl.DataFrame:
        """The accounts whose first transaction is among transactions ``row .. row + n`` of ``block``: that
        transaction's number (``opened_at``) and the account's draws."""
        starts = self.account_starts(cfg, seed, block, n)
        k = len(starts)
        rng = record_rng(seed, f"scenario/{self.name}", "accounts", block)
        country = pick(rng, list(COUNTRIES), k, COUNTRY_WEIGHTS)
        age_days = rng.integers(30, 3650 * 2, k)
        holder = pick(rng, ("personal", "business"), k, (0.85, 0.15))
        risk = pick(rng, ("low", "medium", "high"), k, (0.7, 0.25, 0.05))
        return pl.DataFrame(
            {
                "opened_at": row + starts,
                "holder_type": pl.Series(holder.tolist(), dtype=pl.String),
                "country": pl.Series(country.tolist(), dtype=pl.String),
                "risk_tier": pl.Series(risk.tolist(), dtype=pl.String),
                "age_days": age_days,
            }
        )

    def _merchants(self, cfg: Any, seed: int) -> pl.DataFrame:
        def merchants(rng: np.random.Generator, n: int, start: int) -> pl.DataFrame:
            names = list(CATEGORIES)
            # The first three merchants of every category are guaranteed, so each type has payees.
            fixed = [names[i % len(names)] for i in range(start, min(start + n, 3 * len(names)))]
            category = fixed + pick(rng, names, n - len(fixed)).tolist()
            cat = pl.Series(category, dtype=pl.String)
            base = pick_within(rng, cat.to_numpy(), NAME_PARTS)
            suffix = pick(rng, NAME_SUFFIXES, n)
            return pl.DataFrame(
                {
                    "merchant_id": ids("MER-", start + 1, n, width=5),
                    "name": [b + s for b, s in zip(base, suffix, strict=True)],
                    "category": cat,
                    "mcc": _lookup(cat, CATEGORIES, pl.String),
                    "country": pick(rng, list(COUNTRIES), n, COUNTRY_WEIGHTS).tolist(),
                },
                schema_overrides={"name": pl.String, "country": pl.String},
            )

        return draw_blocks(seed, self.name, "merchants", self.n_merchants(cfg), merchants)

    def entity_schemas(self, cfg: Any) -> dict[str, pa.DataFrameSchema]:
        return {
            "accounts": pa.DataFrameSchema(
                {
                    "account_id": pa.Column(pl.String, unique=True),
                    "holder_type": pa.Column(pl.String, pa.Check.isin(["personal", "business"])),
                    "country": pa.Column(pl.String, pa.Check.isin(list(COUNTRIES))),
                    "currency": pa.Column(pl.String, pa.Check.isin(list(RATES))),
                    "risk_tier": pa.Column(pl.String, pa.Check.isin(["low", "medium", "high"])),
                    "opened_on": pa.Column(pl.Date, pa.Check.lt(EPOCH.date())),
                },
                strict=True,
                ordered=True,
            ),
            "merchants": pa.DataFrameSchema(
                {
                    "merchant_id": pa.Column(pl.String, unique=True),
                    "name": pa.Column(pl.String, non_blank()),
                    "category": pa.Column(pl.String, pa.Check.isin(list(CATEGORIES))),
                    "mcc": pa.Column(pl.String, pa.Check.str_matches(r"^\d{4}$")),
                    "country": pa.Column(pl.String, pa.Check.isin(list(COUNTRIES))),
                },
                strict=True,
                ordered=True,
            ),
        }

    # ---- records -------------------------------------------------------------------------------

    def schema(self, cfg: Any) -> pa.DataFrameSchema:
        usd_min = pl.col("transaction_type").replace_strict({t: r[2] for t, r in AMOUNT_RANGES.items()})
        usd_max = pl.col("transaction_type").replace_strict({t: r[3] for t, r in AMOUNT_RANGES.items()})
        card_testing = pl.col("fraud_pattern") == "card_testing"
        minor = pl.col("currency").replace_strict(MINOR_UNITS, return_dtype=pl.Int64)
        scaled = pl.col("amount") * pl.lit(10.0).pow(minor)
        return pa.DataFrameSchema(
            {
                "transaction_id": pa.Column(pl.String, pa.Check.str_matches(r"^TXN-\d{8}$"), unique=True),
                "account_id": pa.Column(pl.String),
                "merchant_id": pa.Column(pl.String),
                "merchant_category": pa.Column(pl.String, pa.Check.isin(list(CATEGORIES))),
                "transaction_type": pa.Column(pl.String, pa.Check.isin(list(cfg.transaction_type))),
                "timestamp": pa.Column(TIMESTAMP),
                "amount": pa.Column(pl.Float64, pa.Check.gt(0)),
                "currency": pa.Column(pl.String, pa.Check.isin(list(MINOR_UNITS))),
                "amount_usd": pa.Column(pl.Float64, pa.Check.gt(0)),
                "country": pa.Column(pl.String, pa.Check.isin(list(COUNTRIES))),
                "status": pa.Column(pl.String, pa.Check.isin(["approved", "declined"])),
                "is_fraud": pa.Column(pl.Boolean),
                "fraud_pattern": pa.Column(pl.String, pa.Check.isin(list(FRAUD_PATTERNS)), nullable=True),
                "description": pa.Column(pl.String, non_blank()),
                "analyst_note": pa.Column(pl.String, non_blank()),
            },
            checks=[
                row_check(pl.col("is_fraud") == pl.col("fraud_pattern").is_not_null(), "fraud_iff_pattern"),
                row_check(
                    card_testing | ((pl.col("amount_usd") >= usd_min) & (pl.col("amount_usd") <= usd_max)),
                    "amount_usd_in_type_range",
                ),
                row_check(~card_testing | (pl.col("amount_usd") <= 5.0), "card_testing_is_tiny"),
                row_check((scaled - scaled.round(0)).abs() < 1e-6, "amount_in_minor_units"),
                row_check(
                    (pl.col("transaction_type") == "crypto") == pl.col("currency").is_in(list(CRYPTO_RATES)),
                    "crypto_in_crypto_currency",
                ),
                row_check(
                    (pl.col("fraud_pattern") != "odd_hour") | pl.col("timestamp").dt.hour().is_between(1, 4),
                    "odd_hour_at_night",
                ),
                row_check(
                    pl.col("timestamp") < pl.lit(EPOCH + dt.timedelta(days=cfg.days), dtype=TIMESTAMP),
                    "in_window",
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
        accounts, merchants = entities["accounts"], entities["merchants"]
        # The account of each transaction: the last account opened at or before it (its block's, as an
        # account never straddles blocks); ``entities`` holds the accounts of the range's blocks.
        opened_at = id_numbers(accounts["account_id"], "ACC-") - 1
        # Columns as arrays once, not per block.
        account_columns = {c: accounts[c].to_numpy() for c in ("account_id", "country")} | {
            "country_code": codes_of(accounts["country"], list(COUNTRIES)),
            "currency_code": codes_of(accounts["currency"], CURRENCIES),
        }
        merchant_columns = {c: merchants[c].to_numpy() for c in ("merchant_id", "country")}
        # Merchants of each category, in order (``merchants`` covers every pool of the range).
        merchant_columns |= {name: np.flatnonzero(merchants["category"].to_numpy() == name) for name in CATEGORIES}

        def block(rng: np.random.Generator, n: int, row: int) -> pl.DataFrame:
            account_idx = np.searchsorted(opened_at, np.arange(row, row + n), side="right") - 1
            return self._plan_block(cfg, rng, row, n, account_columns, account_idx, merchant_columns)

        raw = draw_blocks(seed, self.name, "plan", stop - start, block, start=start, block_rows=TRANSACTION_BLOCK)
        # Polars expressions once over the range, not per block (each costs a collect).
        return raw.with_columns(
            ids("TXN-", start + 1, raw.height, width=8).alias("transaction_id"),
            timestamps(raw["seconds"].to_numpy()).alias("timestamp"),
            pl.when(pl.col("declined")).then(pl.lit("declined")).otherwise(pl.lit("approved")).alias("status"),
        ).select(self.planned_fields)

    def _plan_block(
        self,
        cfg: Any,
        rng: np.random.Generator,
        row: int,
        n: int,
        accounts: Mapping[str, np.ndarray],
        account_idx: np.ndarray,
        merchants: Mapping[str, np.ndarray],
    ) -> pl.DataFrame:
        """Transactions ``row .. row + n`` of a block, from the block's plan stream ``rng`` (numpy only; times as
        ``seconds`` and ``declined``); ``accounts`` and ``merchants`` are columns as arrays
        (``merchants[category]``: the row numbers of that category's merchants)."""
        type_code = pick_codes(rng, len(cfg.transaction_type), n)
        types = np.asarray(cfg.transaction_type, dtype=object)[type_code]
        # A payee category per row from its type, then a merchant of that category among the merchants
        # a run of (row number) transactions has: the pool grows with the row, so a row's merchant
        # never depends on the count (the first 3 merchants of every category are always there).
        category = pick_within_codes(rng, type_code, {t: PAYEES[t] for t in cfg.transaction_type})
        pool = merchant_pool(np.arange(row + 1, row + n + 1))
        u_merchant = rng.random(n)
        merchant_idx = np.zeros(n, dtype=np.int64)
        for name in CATEGORIES:
            rows = np.flatnonzero(category == name)
            members = merchants[name]
            available = np.searchsorted(members, pool[rows])
            merchant_idx[rows] = members[np.minimum((u_merchant[rows] * available).astype(np.int64), available - 1)]
        median, sigma, lo, hi = (
            np.asarray([AMOUNT_RANGES[t][k] for t in cfg.transaction_type])[type_code] for k in range(4)
        )
        usd = np.clip(median * rng.lognormal(0.0, sigma, n), lo, hi)
        # Each transaction at its own time in the window (numbered as drawn, not sorted by time): an
        # account's consecutive transactions spread over the window.
        seconds = rng.random(n) * cfg.days * 86_400.0
        home_country = accounts["country"][account_idx]
        country = np.where(rng.random(n) < 0.05, merchants["country"][merchant_idx], home_country)

        # Fraud: an exact share of every stratum of FRAUD_STRATUM rows of the block (the lowest-ranked
        # uniforms of the whole stratum, so a row's label never depends on the count), each with a pattern
        # its type allows, applied to the facts.
        is_fraud = fraud_rows_of(rng, n, cfg.fraud_rate)
        fraud_rows = np.flatnonzero(is_fraud)
        pattern = np.full(n, None, dtype=object)
        allowed = {t: tuple(p for p, ts in FRAUD_PATTERNS.items() if t in ts) for t in cfg.transaction_type}
        pattern[fraud_rows] = pick_within_codes(rng, type_code[fraud_rows], allowed)
        testing = pattern == "card_testing"
        usd[testing] = rng.uniform(0.5, 3.0, testing.sum())
        high = pattern == "high_amount"
        usd[high] = np.minimum(hi[high], np.maximum(usd[high] * 8.0, hi[high] * 0.5))
        night = pattern == "odd_hour"
        day_start = np.floor(seconds[night] / 86_400.0) * 86_400.0
        seconds[night] = day_start + rng.uniform(3_600.0, 5 * 3_600.0 - 1.0, night.sum())
        geo = pattern == "geo_mismatch"
        # Another country than home: shift the home country's index by 1..len-1.
        names = list(COUNTRIES)
        home_code = accounts["country_code"][account_idx][geo]
        country[geo] = np.asarray(names, dtype=object)[
            (home_code + rng.integers(1, len(names), geo.sum())) % len(names)
        ]

        currency_code = accounts["currency_code"][account_idx].copy()
        crypto = types == "crypto"
        currency_code[crypto] = CRYPTO_CODES[pick_codes(rng, len(CRYPTO_RATES), crypto.sum())]
        currency = np.asarray(CURRENCIES, dtype=object)[currency_code]
        rate = CURRENCY_RATES[currency_code]
        minor = CURRENCY_MINOR_UNITS[currency_code]
        usd = np.round(usd, 2)
        amount = np.maximum(np.round(usd * rate * 10.0**minor) / 10.0**minor, 10.0 ** (-minor.astype(float)))
        declined = rng.random(n) < np.where(is_fraud, 0.35, 0.03)
        strings = {
            "account_id": accounts["account_id"][account_idx],
            "merchant_id": merchants["merchant_id"][merchant_idx],
            "merchant_category": category,
            "transaction_type": types,
            "currency": currency,
            "country": country,
            "fraud_pattern": pattern,
        }
        return pl.DataFrame(
            {name: pl.Series(name, values.tolist(), dtype=pl.String) for name, values in strings.items()}
            | {"seconds": seconds, "amount": amount, "amount_usd": usd, "declined": declined, "is_fraud": is_fraud}
        )

    def draw_offline(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return self.draw_offline_range(plan, cfg, seed, entities, 0)

    def draw_offline_range(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame], start: int
    ) -> pl.DataFrame:
        names = entities["merchants"].select("merchant_id", pl.col("name").str.to_uppercase().alias("merchant"))
        rows = plan.join(names, on="merchant_id", how="left", maintain_order="left")
        type_codes = codes_of(rows["transaction_type"], list(DESCRIPTIONS))
        pattern_codes = codes_of(rows["fraud_pattern"].fill_null("none"), list(NOTES))

        def draw(rng: np.random.Generator, n: int, row: int) -> pl.DataFrame:
            part = slice(row - start, row - start + n)
            return pl.DataFrame(
                {
                    "desc_t": pl.Series(
                        pick_within_codes(rng, type_codes[part], DESCRIPTIONS).tolist(), dtype=pl.String
                    ),
                    "note_t": pl.Series(pick_within_codes(rng, pattern_codes[part], NOTES).tolist(), dtype=pl.String),
                    "ref": rng.integers(1000, 99999, n),
                }
            )

        # The draws per block, the templates filled once over the range (a polars expression per block
        # would cost a collect each).
        drawn = draw_blocks(
            seed, self.name, "offline-text", plan.height, draw, start=start, block_rows=TRANSACTION_BLOCK
        )
        slots = {
            "merchant": pl.col("merchant"),
            "ref": pl.col("ref").cast(pl.String),
            "currency": pl.col("currency"),
            "category": pl.col("merchant_category"),
            "country": pl.col("country"),
        }
        return pl.concat([rows, drawn], how="horizontal").select(
            fill(pl.col("desc_t"), slots).str.slice(0, 120).alias("description"),
            fill(pl.col("note_t"), slots).alias("analyst_note"),
        )

    def build_prompt(self, plan_row: Mapping[str, Any], cfg: Any) -> str:
        fraud = (
            f"This transaction IS fraudulent (pattern: {plan_row['fraud_pattern']})."
            if plan_row["is_fraud"]
            else "This transaction is legitimate."
        )
        return (
            f"Transaction {plan_row['transaction_id']}: {plan_row['transaction_type']} payment of "
            f"{plan_row['amount']} {plan_row['currency']} (about {plan_row['amount_usd']:.2f} USD) "
            f"to a {plan_row['merchant_category']} merchant ({plan_row['merchant_id']}) "
            f"in {plan_row['country']} "
            f"on {plan_row['timestamp']:%Y-%m-%d %H:%M} UTC, status {plan_row['status']}. {fraud}\n"
            "Write the bank-statement description line (upper case, at most 60 characters) and one sentence "
            "a fraud analyst would note about it."
        )

    def check_dataset(self, records: pl.DataFrame, entities: Mapping[str, pl.DataFrame], cfg: Any) -> list[str]:
        problems: list[str] = []
        per_account = records.group_by("account_id").len()
        # An account's transactions have consecutive numbers: what lets shards sum only their edge accounts.
        runs = int((records["account_id"] != records["account_id"].shift(1)).fill_null(True).sum())
        if runs != per_account.height:
            problems.append(f"transactions of an account are not consecutive ({runs} runs of {per_account.height})")
        over = per_account.filter(pl.col("len") > cfg.transaction_count_max)
        if over.height:
            problems.append(
                f"{over.height} accounts exceed --transaction-count-max {cfg.transaction_count_max} "
                f"(e.g. {over['account_id'][0]} with {over['len'][0]})"
            )
        problems += self._block_problems(records)
        problems += self.fraud_share_problems(self.strata(records, whole_only=True), cfg)
        merchants = entities["merchants"].select("merchant_id", pl.col("category").alias("merchant_category_of"))
        joined = records.join(merchants, on="merchant_id", how="left")
        wrong = joined.filter(pl.col("merchant_category") != pl.col("merchant_category_of")).height
        if wrong:
            problems.append(f"{wrong} transactions name a merchant_category other than their merchant's")
        home = entities["accounts"].select("account_id", pl.col("country").alias("home"))
        geo = records.filter(pl.col("fraud_pattern") == "geo_mismatch").join(home, on="account_id")
        if geo.filter(pl.col("country") == pl.col("home")).height:
            problems.append("geo_mismatch fraud paid in the account's home country")
        currencies = records.join(
            entities["accounts"].select("account_id", "currency"), on="account_id", suffix="_acct"
        )
        bad_ccy = currencies.filter(
            (pl.col("transaction_type") != "crypto") & (pl.col("currency") != pl.col("currency_acct"))
        ).height
        if bad_ccy:
            problems.append(f"{bad_ccy} fiat transactions are not in their account's currency")
        return problems

    def _block_problems(self, records: pl.DataFrame) -> list[str]:
        """An account's transactions lie in its block, at or after its first one (the transaction its id
        numbers; that one may be missing from a run whose model skipped it)."""
        if not records.height:
            return []
        number = id_numbers(records["transaction_id"], "TXN-") - 1
        opened_at = id_numbers(records["account_id"], "ACC-") - 1
        outside = int(((opened_at > number) | (opened_at // TRANSACTION_BLOCK != number // TRANSACTION_BLOCK)).sum())
        if outside:
            return [f"{outside} transactions precede their account's first one or lie outside its block"]
        return []

    @staticmethod
    def strata(records: pl.DataFrame, *, whole_only: bool) -> dict[str, dict[str, int]]:
        """Rows and frauds per fraud stratum of ``records`` (by transaction number), keyed by the stratum's
        zero-padded number: only the strata of all ``FRAUD_STRATUM`` rows, or (``whole_only=False``) only the
        others, the strata a shard holds part of (their rows and frauds add up across shards)."""
        if not records.height:
            return {}
        stratum = pl.Series("stratum", (id_numbers(records["transaction_id"], "TXN-") - 1) // FRAUD_STRATUM)
        counts = (
            records.select(pl.col("is_fraud").cast(pl.Int64))
            .with_columns(stratum)
            .group_by("stratum")
            .agg(pl.len().alias("rows"), pl.col("is_fraud").sum().alias("frauds"))
            .filter((pl.col("rows") == FRAUD_STRATUM) == whole_only)
            .sort("stratum")
        )
        return {f"{k:09d}": {"rows": int(r), "frauds": int(f)} for k, r, f in counts.iter_rows()}

    @staticmethod
    def fraud_share_problems(strata: Mapping[str, Mapping[str, int]], cfg: Any) -> list[str]:
        """Every stratum of ``FRAUD_STRATUM`` rows holds exactly ``ceil(rate * FRAUD_STRATUM)`` frauds (a last,
        partial stratum holds its share on average only, and is not counted)."""
        per_stratum = math.ceil(cfg.fraud_rate * FRAUD_STRATUM) if cfg.fraud_rate > 0 else 0
        off = {k: v["frauds"] for k, v in strata.items() if v["rows"] == FRAUD_STRATUM and v["frauds"] != per_stratum}
        if not off:
            return []
        stratum, frauds = next(iter(off.items()))
        return [
            f"{len(off)} strata of {FRAUD_STRATUM} transactions do not hold exactly {per_stratum} frauds "
            f"(--fraud-rate {cfg.fraud_rate}; e.g. stratum {int(stratum)} with {frauds})"
        ]

    def shard_check_numbers(self, records: pl.DataFrame, cfg: Any) -> dict[str, Any]:
        """Transactions of the shard's first and last account: only they can continue in another shard
        (an account's transactions are consecutive, checked per shard), so their sums over the shards
        are the whole set's counts, capped by ``set_problems``. Likewise the rows and frauds of the fraud
        strata the shard holds part of: summed, each whole stratum's share is counted at the commit."""
        if not records.height:
            return {"edge_account_counts": {}, "edge_strata": {}}
        edges = {records["account_id"][0], records["account_id"][-1]}
        counts = records.filter(pl.col("account_id").is_in(list(edges))).group_by("account_id").len()
        return {
            "edge_account_counts": dict(counts.sort("account_id").iter_rows()),
            "edge_strata": self.strata(records, whole_only=False),
        }

    def set_problems(self, numbers: Mapping[str, Any], cfg: Any) -> list[str]:
        problems = self.fraud_share_problems(numbers.get("edge_strata", {}), cfg)
        over = {
            a: n for a, n in sorted(numbers.get("edge_account_counts", {}).items()) if n > cfg.transaction_count_max
        }
        if not over:
            return problems
        account, n = next(iter(over.items()))
        capped = (
            f"{len(over)} accounts exceed --transaction-count-max {cfg.transaction_count_max} over all shards "
            f"(e.g. {account} with {n})"
        )
        return [capped, *problems]
