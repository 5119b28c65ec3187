"""Vectorized draw of clean API call records: every column is drawn for a whole block at once."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_pipelines.core.ids import hex16, unique_ids
from synth_pipelines.core.rng import block_rng
from synth_pipelines.domains.api_logs.catalog import (
    CLIENT_APP_SHARES,
    CLIENT_APPS,
    CLIENT_POOL,
    ERROR_CLASS_SHARES,
    ERROR_CLASSES,
    ERROR_STATUSES,
    HAS_PLACEHOLDER,
    ID_PREFIX,
    METHOD_CUMSHARES,
    METHODS,
    NO_BODY_STATUSES,
    ROUTE_KIND,
    ROUTE_KINDS,
    ROUTE_SHARES,
    ROUTES,
    SEARCH_TERMS,
    SERVICES,
    TEMPLATE_HEAD,
    TEMPLATE_TAIL,
    TEMPLATES,
    TIMEOUT_LIMITS_MS,
)

DOMAIN = "api_logs"
REQUEST_INTERVAL_MS = 50  # about 20 requests a second through the gateway
FAILURE_RATE = 0.05
# Median latency by route kind (item, list, search, action), ms; mutations take longer.
KIND_LATENCY_MS = np.array([18.0, 95.0, 160.0, 70.0])
MUTATION_SLOWDOWN = 1.6
SLOW_SERVICES = {"payments": 2.5}  # calls an external payment provider
TRANSFER_BYTES_PER_MS = 50_000  # response bytes add transfer time
# Median response size by route kind, bytes: pages of items and search results are big.
KIND_RESPONSE_BYTES = np.array([1_800.0, 24_000.0, 38_000.0, 260.0])

_KIND = {name: i for i, name in enumerate(ROUTE_KINDS)}
_ERR = {name: i for i, name in enumerate(ERROR_CLASSES)}
_METHOD = {name: i for i, name in enumerate(METHODS)}


def _pick(values: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(idx)


def _client_pool(seed: int) -> tuple[pl.Series, np.ndarray, pl.Series]:
    """The clients of a seed (id, app index, version): one fixed pool, so a client keeps its app."""
    rng = block_rng(seed, DOMAIN, "clients", 0)
    ids = unique_ids(seed, DOMAIN, "client", 0, CLIENT_POOL, "cl-")
    apps = rng.choice(len(CLIENT_APPS), size=CLIENT_POOL, p=CLIENT_APP_SHARES)
    major = rng.integers(1, 7, CLIENT_POOL)
    minor = rng.integers(0, 30, CLIENT_POOL)
    patch = rng.integers(0, 10, CLIENT_POOL)
    version = pl.DataFrame({"a": major, "b": minor, "c": patch}).select(
        pl.concat_str([pl.col("a"), pl.col("b"), pl.col("c")], separator=".")
    )
    return ids, apps, version.to_series()


def _failure_statuses(cls: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A status allowed for each error class, uniformly among its options."""
    options = [ERROR_STATUSES[c] for c in ERROR_CLASSES]
    width = max(len(o) for o in options)
    table = np.array([list(o) + [o[0]] * (width - len(o)) for o in options])
    counts = np.array([len(o) for o in options])
    return table[cls, (u * counts[cls]).astype(np.int64)]


def draw_api_calls(seed: int, rng: np.random.Generator, start: int, n: int, start_ms: int) -> pl.DataFrame:
    """Clean API call records for rows ``start .. start+n``, values plausible together."""
    route = rng.choice(len(ROUTES), size=n, p=ROUTE_SHARES)
    kind = ROUTE_KIND[route]
    cum = METHOD_CUMSHARES[route]
    method = (cum / cum[:, -1:] <= rng.random(n)[:, None]).sum(axis=1)
    is_get = method == _METHOD["GET"]
    mutation = ~is_get
    with_body = np.isin(method, [_METHOD["POST"], _METHOD["PUT"], _METHOD["PATCH"]])
    service = np.array([SERVICES.index(r[0]) for r in ROUTES])[route]

    # Failures and their classes; a missing resource needs a route that names one.
    failed = rng.random(n) < FAILURE_RATE
    err = rng.choice(len(ERROR_CLASSES), size=n, p=ERROR_CLASS_SHARES)
    err = np.where((err == _ERR["not_found"]) & ~HAS_PLACEHOLDER[route], _ERR["bad_request"], err)
    fail_status = _failure_statuses(err, rng.random(n))

    created = (method == _METHOD["POST"]) & (kind == _KIND["list"])
    not_modified = is_get & (kind == _KIND["item"]) & (rng.random(n) < 0.06)
    ok_status = np.select(
        [created, method == _METHOD["DELETE"], not_modified],
        [201, 204, 304],
        default=200,
    )
    status = np.where(failed, fail_status, ok_status)
    no_body = np.isin(status, NO_BODY_STATUSES)

    # Sizes: request bodies on POST/PUT/PATCH; responses by route kind, small JSON error bodies.
    request_bytes = np.where(
        with_body,
        np.where(kind == _KIND["action"], rng.lognormal(np.log(150), 0.6, n), rng.lognormal(np.log(700), 0.9, n)),
        0,
    )
    request_bytes = np.clip(np.round(request_bytes), 0, 100_000_000).astype(np.int64)
    response_median = np.where(created, KIND_RESPONSE_BYTES[_KIND["item"]], KIND_RESPONSE_BYTES[kind])
    response_bytes = np.where(
        failed,
        rng.lognormal(np.log(160), 0.3, n),
        response_median * rng.lognormal(0.0, np.where(kind == _KIND["list"], 1.0, 0.6), n),
    )
    response_bytes = np.where(no_body, 0, np.clip(np.round(response_bytes), 2, 1_000_000_000)).astype(np.int64)

    # Latency: route kind, mutation and service set the median; the response adds transfer time.
    service_factor = np.array([SLOW_SERVICES.get(s, 1.0) for s in SERVICES])[service]
    median = KIND_LATENCY_MS[kind] * np.where(mutation, MUTATION_SLOWDOWN, 1.0) * service_factor
    served = median * rng.lognormal(0.0, 0.55, n) + response_bytes / TRANSFER_BYTES_PER_MS
    rejected_early = median * rng.uniform(0.1, 0.5, n)  # validation, auth and lookups fail fast
    latency = np.select(
        [
            ~failed,
            err == _ERR["rate_limited"],
            err == _ERR["internal_error"],
            err == _ERR["unavailable"],
            err == _ERR["timeout"],
        ],
        [
            served,
            0.3 + rng.lognormal(np.log(2.0), 0.4, n),
            median * rng.uniform(0.3, 3.0, n),
            0.5 + rng.lognormal(np.log(8.0), 0.8, n),
            np.asarray(TIMEOUT_LIMITS_MS, dtype=np.float64)[rng.integers(0, len(TIMEOUT_LIMITS_MS), n)]
            + rng.uniform(0.0, 250.0, n),
        ],
        default=rejected_early,
    )
    latency = np.clip(np.round(latency, 3), 0.1, 600_000.0)

    # Concrete paths: the template with an id of its resource, a query string on collection reads.
    id_hex = hex16(rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)).str.slice(8)
    prefix = pl.Series([ID_PREFIX.get(r[0], "id") + "-" for r in ROUTES]).gather(route)
    page = pl.Series(rng.integers(1, 21, n)).cast(pl.String)
    limit = pl.Series(np.array([20, 50, 100])[rng.integers(0, 3, n)]).cast(pl.String)
    term = _pick(SEARCH_TERMS, rng.integers(0, len(SEARCH_TERMS), n))
    paged_list = is_get & (kind == _KIND["list"]) & (rng.random(n) < 0.5)
    search = kind == _KIND["search"]
    search_paged = search & (rng.random(n) < 0.4)
    parts = pl.DataFrame(
        {
            "head": _pick(TEMPLATE_HEAD, route),
            "prefix": prefix,
            "id_hex": id_hex,
            "has_id": HAS_PLACEHOLDER[route],
            "tail": _pick(TEMPLATE_TAIL, route),
            "page": page,
            "limit": limit,
            "term": term,
            "paged_list": paged_list,
            "search": search,
            "search_paged": search_paged,
        }
    )
    path = parts.select(
        pl.concat_str(
            [
                pl.col("head"),
                pl.when(pl.col("has_id"))
                .then(pl.concat_str([pl.col("prefix"), pl.col("id_hex")]))
                .otherwise(pl.lit("")),
                pl.col("tail"),
                pl.when(pl.col("paged_list"))
                .then(pl.concat_str([pl.lit("?page="), pl.col("page"), pl.lit("&limit="), pl.col("limit")]))
                .when(pl.col("search"))
                .then(
                    pl.concat_str(
                        [
                            pl.lit("?q="),
                            pl.col("term"),
                            pl.when(pl.col("search_paged"))
                            .then(pl.concat_str([pl.lit("&page="), pl.col("page")]))
                            .otherwise(pl.lit("")),
                        ]
                    )
                )
                .otherwise(pl.lit("")),
            ]
        )
    ).to_series()

    # Clients: a skewed pool (a few heavy integrations, a long tail of app installs).
    client_ids, client_apps, client_versions = _client_pool(seed)
    client = np.minimum((CLIENT_POOL * rng.random(n) ** 2).astype(np.int64), CLIENT_POOL - 1)

    timestamps = start_ms + np.arange(start, start + n) * REQUEST_INTERVAL_MS + rng.integers(0, REQUEST_INTERVAL_MS, n)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(timestamps).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            "request_id": unique_ids(seed, DOMAIN, "request", start, n, "req-"),
            "service": _pick(SERVICES, service),
            "method": _pick(METHODS, method),
            "route": _pick(TEMPLATES, route),
            "path": path,
            "status": status.astype(np.int64),
            "latency_ms": latency,
            "bytes_request": request_bytes,
            "bytes_response": response_bytes,
            "client_app": _pick(CLIENT_APPS, client_apps[client]),
            "client_version": client_versions.gather(client),
            "client_id": client_ids.gather(client),
            "error_class": _pick(ERROR_CLASSES, err).set(pl.Series(~failed), None),  # type: ignore[arg-type]
        }
    )
