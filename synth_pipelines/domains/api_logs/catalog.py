"""Controlled vocabulary of the API call logs: services, routes, clients, error classes (all synthetic).

HTTP methods, integer status codes and error classes follow the same conventions as the API
traces domain, so the two can be joined or compared.
"""

from __future__ import annotations

import re

import numpy as np

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Route kinds drive latency and payload sizes: collections and searches are slower and bigger.
ROUTE_KINDS = ("item", "list", "search", "action")

# (service, route template, kind, {method: share}); ``{id}`` is filled with ``<id prefix>-<8 hex>``.
ROUTES: tuple[tuple[str, str, str, dict[str, float]], ...] = (
    ("orders", "/api/orders", "list", {"GET": 0.75, "POST": 0.25}),
    ("orders", "/api/orders/{id}", "item", {"GET": 0.7, "PUT": 0.08, "PATCH": 0.15, "DELETE": 0.07}),
    ("orders", "/api/orders/{id}/items", "list", {"GET": 0.85, "POST": 0.15}),
    ("orders", "/api/orders/{id}/cancel", "action", {"POST": 1.0}),
    ("payments", "/api/payments", "list", {"GET": 0.4, "POST": 0.6}),
    ("payments", "/api/payments/{id}", "item", {"GET": 1.0}),
    ("payments", "/api/payments/{id}/refunds", "action", {"POST": 1.0}),
    ("catalog", "/api/products", "list", {"GET": 0.93, "POST": 0.07}),
    ("catalog", "/api/products/{id}", "item", {"GET": 0.88, "PUT": 0.05, "PATCH": 0.05, "DELETE": 0.02}),
    ("catalog", "/api/products/search", "search", {"GET": 1.0}),
    ("inventory", "/api/stock/{id}", "item", {"GET": 0.8, "PUT": 0.2}),
    ("inventory", "/api/stock/reservations", "action", {"POST": 1.0}),
    ("accounts", "/api/accounts/{id}", "item", {"GET": 0.85, "PATCH": 0.13, "DELETE": 0.02}),
    ("accounts", "/api/accounts/{id}/sessions", "action", {"POST": 0.7, "DELETE": 0.3}),
    ("accounts", "/api/auth/token", "action", {"POST": 1.0}),
    ("shipping", "/api/shipments", "list", {"GET": 0.7, "POST": 0.3}),
    ("shipping", "/api/shipments/{id}", "item", {"GET": 0.8, "PATCH": 0.2}),
    ("shipping", "/api/shipments/{id}/tracking", "item", {"GET": 1.0}),
    ("search", "/api/search", "search", {"GET": 1.0}),
    ("search", "/api/search/suggest", "search", {"GET": 1.0}),
    ("notifications", "/api/notifications", "list", {"GET": 1.0}),
    ("notifications", "/api/notifications/{id}/read", "action", {"POST": 1.0}),
)
ROUTE_SHARES = np.array([9, 14, 4, 1, 3, 4, 1, 10, 16, 8, 6, 3, 5, 3, 4, 3, 4, 5, 9, 6, 4, 2], dtype=np.float64)
ROUTE_SHARES /= ROUTE_SHARES.sum()
# The id prefix of the resource a route's ``{id}`` names.
ID_PREFIX = {
    "orders": "ord",
    "payments": "pay",
    "catalog": "prd",
    "inventory": "sku",
    "accounts": "acc",
    "shipping": "shp",
    "notifications": "ntf",
}

SERVICES = tuple(dict.fromkeys(r[0] for r in ROUTES))
TEMPLATES = tuple(r[1] for r in ROUTES)
ROUTE_SERVICE = {r[1]: r[0] for r in ROUTES}
ROUTE_KIND = np.array([ROUTE_KINDS.index(r[2]) for r in ROUTES])
ROUTE_METHODS = {r[1]: tuple(r[3]) for r in ROUTES}
# Cumulative method shares per route (rows) over METHODS (columns), for a vectorized draw.
METHOD_CUMSHARES = np.cumsum(np.array([[r[3].get(m, 0.0) for m in METHODS] for r in ROUTES]), axis=1)
HAS_PLACEHOLDER = np.array(["{id}" in t for t in TEMPLATES])
TEMPLATE_HEAD = tuple(t.split("{id}")[0] for t in TEMPLATES)
TEMPLATE_TAIL = tuple(t.split("{id}")[1] if "{id}" in t else "" for t in TEMPLATES)


def forbidden_method(template: str) -> str:
    """A method a route does not serve, the way a client bug would misuse it."""
    allowed = ROUTE_METHODS[template]
    if allowed == ("GET",):
        return "DELETE"  # a mutation on a read-only route
    if "GET" not in allowed:
        return "GET"  # a read on an action route
    return "POST" if "POST" not in allowed else "DELETE"


def template_regex(template: str) -> str:
    """Anchored regex of the concrete paths of a route (an optional query string allowed)."""
    pieces = [re.escape(p) for p in template.split("{id}")]
    return "^" + "[^/?]+".join(pieces) + r"(\?[^?]*)?$"


ROUTE_REGEX = {t: template_regex(t) for t in TEMPLATES}

# Search terms for query strings (URL-encoded, synthetic).
SEARCH_TERMS = (
    "blue+mug",
    "usb-c+cable",
    "standing+desk",
    "trail+shoes",
    "espresso+beans",
    "led+bulb",
    "yoga+mat",
    "phone+case",
    "garden+hose",
    "noise+cancelling",
)

# Client applications. A client id keeps its app and version across all its requests.
CLIENT_APPS = ("web-storefront", "ios-app", "android-app", "partner-sync", "batch-exporter", "admin-console")
CLIENT_APP_SHARES = (0.40, 0.22, 0.22, 0.07, 0.04, 0.05)
CLIENT_POOL = 5_000

# Error classes shared with the API traces domain, and the status codes each may carry.
ERROR_CLASSES = (
    "bad_request",
    "unauthorized",
    "not_found",
    "rate_limited",
    "internal_error",
    "unavailable",
    "timeout",
)
ERROR_CLASS_SHARES = (0.24, 0.12, 0.20, 0.10, 0.14, 0.10, 0.10)
ERROR_STATUSES: dict[str, tuple[int, ...]] = {
    "bad_request": (400, 422),
    "unauthorized": (401, 403),
    "not_found": (404,),
    "rate_limited": (429,),
    "internal_error": (500,),
    "unavailable": (502, 503),
    "timeout": (504,),
}
ERROR_STATUS_PAIRS = tuple(f"{cls}:{status}" for cls, statuses in ERROR_STATUSES.items() for status in statuses)
# Gateway time limits (ms): a timed-out call lasts at least the shortest one.
TIMEOUT_LIMITS_MS = (5_000, 10_000, 30_000)
MIN_TIMEOUT_MS = float(TIMEOUT_LIMITS_MS[0])
NO_BODY_STATUSES = (204, 304)
