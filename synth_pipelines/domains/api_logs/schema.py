"""Field inventory and cross-field rules of API call logs."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_pipelines.domains.api_logs.catalog import (
    CLIENT_APPS,
    ERROR_CLASSES,
    ERROR_STATUS_PAIRS,
    ERROR_STATUSES,
    METHODS,
    MIN_TIMEOUT_MS,
    NO_BODY_STATUSES,
    ROUTE_METHODS,
    ROUTE_REGEX,
    ROUTE_SERVICE,
    SERVICES,
    TEMPLATES,
    forbidden_method,
)
from synth_pipelines.domains.logs.fields import FieldSpec, Inventory, Rule, set_values

FIELDS = [
    FieldSpec("timestamp", "timestamp", "When the gateway received the request (UTC)."),
    FieldSpec("request_id", "string", "Unique id of the request.", pattern=r"req-[0-9a-f]{16}"),
    FieldSpec("service", "string", "Service that owns the route.", vocabulary=SERVICES),
    FieldSpec("method", "string", "HTTP method.", vocabulary=METHODS),
    FieldSpec("route", "string", "Route template the request matched.", vocabulary=TEMPLATES),
    FieldSpec(
        "path",
        "string",
        "Concrete request path (route with its id filled, optional query string).",
        pattern=r"/api(/[A-Za-z0-9._~-]+)+(\?[A-Za-z0-9=&+%._~-]*)?",
    ),
    FieldSpec("status", "int", "HTTP status code.", ge=100, le=599),
    FieldSpec("latency_ms", "float", "Time to the last response byte, ms.", ge=0.1, le=600_000),
    FieldSpec("bytes.request", "int", "Request body size, bytes.", ge=0, le=100_000_000),
    FieldSpec("bytes.response", "int", "Response body size, bytes.", ge=0, le=1_000_000_000),
    FieldSpec("client.app", "string", "Calling application.", vocabulary=CLIENT_APPS),
    FieldSpec("client.version", "string", "Version of the calling application.", pattern=r"\d+\.\d+\.\d+"),
    FieldSpec("client.id", "string", "Synthetic client installation id (no IP, no user).", pattern=r"cl-[0-9a-f]{16}"),
    FieldSpec(
        "error_class",
        "string",
        "Error class; only on failed calls (status 400 and above).",
        required=False,
        vocabulary=ERROR_CLASSES,
    ),
]

_failed = pl.col("status") >= 400


def _per_route(values: dict[str, str]) -> pl.Expr:
    """The value of ``values`` for each row's route (null for an unknown route)."""
    return pl.col("route").replace_strict(values, default=None, return_dtype=pl.String)


def _path_matches_route() -> pl.Expr:
    """Whether the path matches its route's template (null for an unknown route)."""
    (first, first_regex), *rest = ROUTE_REGEX.items()
    expr = pl.when(pl.col("route") == first).then(pl.col("path").str.contains(first_regex))
    for template, regex in rest:
        expr = expr.when(pl.col("route") == template).then(pl.col("path").str.contains(regex))
    return expr


def _other_service(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    shifted = {s: SERVICES[(i + 1) % len(SERVICES)] for i, s in enumerate(SERVICES)}
    return df.with_columns(service=pl.col("service").replace_strict(shifted))


def _forbidden_method(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return df.with_columns(method=_per_route({t: forbidden_method(t) for t in TEMPLATES}))


def _foreign_path(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    # A path under another prefix, as a proxy rewriting paths wrongly would log it.
    return df.with_columns(path=pl.concat_str([pl.lit("/api/archive"), pl.col("path").str.slice(4)]))


def _status_of_other_family(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    server_side = pl.col("error_class").is_in(["internal_error", "unavailable", "timeout"])
    return df.with_columns(status=pl.when(server_side).then(pl.lit(400)).otherwise(pl.lit(503)))


METHOD_PAIRS = [f"{t} {m}" for t, methods in ROUTE_METHODS.items() for m in methods]

RULES = [
    Rule(
        "error_class_only_on_failure",
        "error_class",
        "error_class is present exactly on failed calls (status 400 and above)",
        holds=_failed == pl.col("error_class").is_not_null(),
        applies=~_failed,
        violate=lambda df, rng: set_values(df, error_class="internal_error"),
    ),
    Rule(
        "status_fits_error_class",
        "status",
        "a failed call's status is one its error class allows: "
        + "; ".join(f"{c} {'/'.join(map(str, s))}" for c, s in ERROR_STATUSES.items()),
        holds=~_failed
        | pl.col("error_class").is_null()
        | pl.concat_str([pl.col("error_class"), pl.lit(":"), pl.col("status").cast(pl.String)]).is_in(
            list(ERROR_STATUS_PAIRS)
        ),
        applies=_failed & pl.col("error_class").is_not_null(),
        violate=_status_of_other_family,
    ),
    Rule(
        "route_belongs_to_service",
        "service",
        "the route is one the service owns",
        holds=pl.col("service") == _per_route(ROUTE_SERVICE),
        applies=pl.lit(True),
        violate=_other_service,
    ),
    Rule(
        "method_served_by_route",
        "method",
        "the route serves the method (reads on collections, searches and items; mutations only where the "
        "route takes them: POST creates and actions, PUT/PATCH/DELETE on items)",
        holds=pl.concat_str([pl.col("route"), pl.lit(" "), pl.col("method")]).is_in(METHOD_PAIRS),
        applies=pl.lit(True),
        violate=_forbidden_method,
    ),
    Rule(
        "path_matches_route",
        "path",
        "the path is the route template with its id filled in (and an optional query string)",
        holds=_path_matches_route(),
        applies=pl.lit(True),
        violate=_foreign_path,
    ),
    Rule(
        "timeout_is_slow",
        "latency_ms",
        f"a timed-out call lasted at least the shortest gateway limit ({MIN_TIMEOUT_MS:g} ms)",
        holds=(pl.col("error_class") != "timeout") | (pl.col("latency_ms") >= MIN_TIMEOUT_MS),
        applies=pl.col("error_class") == "timeout",
        violate=lambda df, rng: set_values(df, latency_ms=12.5),
    ),
    Rule(
        "no_content_has_no_body",
        "bytes.response",
        "responses with status 204 or 304 have an empty body",
        holds=~pl.col("status").is_in(list(NO_BODY_STATUSES)) | (pl.col("bytes_response") == 0),
        applies=pl.col("status").is_in(list(NO_BODY_STATUSES)),
        violate=lambda df, rng: set_values(df, bytes_response=512),
    ),
]

INVENTORY = Inventory("api_logs", FIELDS, RULES, id_field="request_id")
