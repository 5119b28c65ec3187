"""A Vega-Lite chart for an answer, built by code from the result's shape (never written by the model).

A result gets a chart when it has at least two rows and is either

- one category column (text, boolean, or a number named ``id`` / ``*_id``) and one or two numeric
  columns: a bar chart (grouped bars for two), or
- one time column (date, timestamp) and one or two numeric columns: a line chart (one line per measure).

The data goes inline, in long form (``x``, ``measure``, ``value``), so column names never become Vega
field expressions (a name like ``count(*)`` or ``a.b`` would be parsed as one); titles carry the names.
The spec is deterministic in the rows: the same answer gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

Kind = Literal["quantitative", "nominal", "temporal"]

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
# The HTML page loads these pinned scripts; the spec and data are inline in the page.
EMBED_SCRIPTS = (
    "https://cdn.jsdelivr.net/npm/vega@5.30.0",
    "https://cdn.jsdelivr.net/npm/vega-lite@5.21.0",
    "https://cdn.jsdelivr.net/npm/vega-embed@6.26.0",
)


def column_kind(values: Sequence[Any]) -> Kind | None:
    """What a column holds, judged by every non-null value; None when empty or mixed."""
    kinds: set[Kind] = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool | str | time):
            kinds.add("nominal")
        elif isinstance(value, int | float | Decimal):
            kinds.add("quantitative")
        elif isinstance(value, date | datetime):
            kinds.add("temporal")
        else:
            return None
    return kinds.pop() if len(kinds) == 1 else None


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return value


def chart_spec(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> dict[str, Any] | None:
    """The Vega-Lite spec for a result of a chartable shape, else None."""
    if len(rows) < 2 or len(columns) not in (2, 3):
        return None
    kinds = [column_kind([row[i] for row in rows]) for i in range(len(columns))]
    # A numeric identifier (member_id) names things; it is not a measure to plot.
    kinds = [
        "nominal" if k == "quantitative" and (c.lower() == "id" or c.lower().endswith("_id")) else k
        for c, k in zip(columns, kinds, strict=True)
    ]
    keys = [i for i, k in enumerate(kinds) if k in ("nominal", "temporal")]
    measures = [i for i, k in enumerate(kinds) if k == "quantitative"]
    if len(keys) != 1 or len(measures) != len(columns) - 1:
        return None
    key = keys[0]
    temporal = kinds[key] == "temporal"
    values = [
        {"x": _json_value(row[key]), "measure": columns[m], "value": _json_value(row[m])}
        for row in rows
        for m in measures
    ]
    x: dict[str, Any] = {"field": "x", "type": kinds[key], "title": columns[key]}
    if not temporal:
        x["sort"] = None  # keep the query's ORDER BY
    encoding: dict[str, Any] = {
        "x": x,
        "y": {"field": "value", "type": "quantitative", "title": columns[measures[0]] if len(measures) == 1 else ""},
        "tooltip": [
            {"field": "x", "type": kinds[key], "title": columns[key]},
            {"field": "measure", "type": "nominal", "title": "measure"},
            {"field": "value", "type": "quantitative", "title": "value"},
        ],
    }
    if len(measures) == 2:
        encoding["color"] = {"field": "measure", "type": "nominal", "title": None}
        if not temporal:
            encoding["xOffset"] = {"field": "measure"}
    spec: dict[str, Any] = {
        "$schema": VEGA_LITE_SCHEMA,
        "data": {"values": values},
        "mark": {"type": "line", "point": True} if temporal else {"type": "bar"},
        "encoding": encoding,
        "width": 480,
        "height": 280,
    }
    if title:
        spec["title"] = title
    return spec


def chart_html(spec: dict[str, Any]) -> str:
    """A page that draws the spec with vega-embed; the spec and its data are inline."""
    # "</" inside a <script> would end it: data values come from the dataset, so escape them.
    payload = json.dumps(spec, sort_keys=True, ensure_ascii=False).replace("</", "<\\/")
    scripts = "\n".join(f'<script src="{src}"></script>' for src in EMBED_SCRIPTS)
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>synth ask chart</title>\n'
        f'{scripts}\n</head>\n<body>\n<div id="chart"></div>\n<script>\n'
        f'vegaEmbed("#chart", {payload}, {{"actions": false}});\n</script>\n</body>\n</html>\n'
    )


def write_chart(spec: dict[str, Any], path: Path) -> str:
    """Write the chart: ``.png`` rendered offline by vl-convert, anything else as the HTML page.
    Returns what was written ("png" or "html")."""
    from synth_pipelines.core.atomic import atomic_path

    path = Path(path)
    if path.suffix.lower() == ".png":
        import vl_convert

        data = vl_convert.vegalite_to_png(spec, scale=2)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return "png"
    with atomic_path(path) as tmp:
        tmp.write_text(chart_html(spec), encoding="utf-8")
    return "html"
