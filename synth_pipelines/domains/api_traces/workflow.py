"""Workflow definitions: a Markov chain over API endpoints, loaded from YAML safely and validated.

A workflow has exactly five required fields::

    name: ecommerce
    entry_points: {/api/auth/login: 0.6, /api/products: 0.4}      # endpoint -> probability
    transitions:                                                   # endpoint -> {next -> probability}
      /api/auth/login: {/api/products: 1.0}
      /api/products: {/api/products/{product_id}: 0.7, /api/auth/logout: 0.3}
      /api/products/{product_id}: {/api/products: 0.5, /api/auth/logout: 0.5}
    exit_points: [/api/auth/logout]
    avg_response_times: {/api/auth/login: 120, /api/products: 80, ...}   # endpoint -> ms

and optional extras, none of them required:

- ``description``: free text.
- ``methods``: endpoint -> GET/POST/PUT/PATCH/DELETE (default: inferred from the path, see
  ``infer_method``).
- ``error_rates``: endpoint -> share of calls failing with a baseline (non-cascade) error; the
  default is ``1 - success_rate`` of the generation config.
- ``query_params``: endpoint -> {name -> kind}; kinds are ``search_term``, ``page``, ``int`` or a
  list of literal values to choose from.
- ``parameters``: placeholder name -> ``user`` (the session's user id) or ``{min: a, max: b}``
  (uniform integer ids); placeholders not listed use ``{min: 1, max: 99999}``, and ``user_id``
  (or any placeholder right after a ``users`` segment) defaults to ``user``.
- ``think_time_mean_s``: mean pause between a response and the next call (a person browsing takes
  seconds, a service calling the next service milliseconds); the generation config may override it.

An endpoint is *defined* by having outgoing transitions or by being an exit point. Exit points end
the session, so they declare no transitions.
"""

from __future__ import annotations

import math
import os
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from synth_pipelines.core.safe_yaml import load_yaml

REQUIRED_FIELDS = ("name", "entry_points", "transitions", "exit_points", "avg_response_times")
OPTIONAL_FIELDS = ("description", "methods", "error_rates", "query_params", "parameters", "think_time_mean_s")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
QUERY_KINDS = ("search_term", "page", "int")
PROBABILITY_TOLERANCE = 1e-6
# Upper bounds a workflow's numbers must respect: beyond them the simulated timestamps leave the calendar
# (1e308 ms overflowed a datetime in polars). An hour per call and a day's mean pause are far past real use.
MAX_RESPONSE_MS = 3_600_000.0
MAX_THINK_TIME_S = 86_400.0
BUILTIN_PACKAGE = "synth_pipelines.domains.api_traces.workflows"

# Values in messages: a YAML file can hold a huge value (aliases share it, so it loads small); its
# repr is bounded in size and depth instead of built in full.
_SHOWN = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 3, 80, 80
_SHOWN.maxlist = _SHOWN.maxdict = _SHOWN.maxtuple = _SHOWN.maxset = 6


def shown(value: object) -> str:
    return _SHOWN.repr(value)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Last static path segments that name an action rather than a resource: such endpoints are POSTs.
_MUTATION_SEGMENTS = frozenset(
    {"login", "logout", "checkout", "pay", "payment", "payments", "charge", "confirm", "register", "signup",
     "cancel", "send", "publish", "submit", "reserve", "refund"}
)  # fmt: skip


class WorkflowError(ValueError):
    """A workflow file is malformed; the message names the file and each offending endpoint."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        head = f"{source}: invalid workflow ({len(problems)} problem{'s' if len(problems) != 1 else ''})"
        super().__init__(head + "".join(f"\n  - {p}" for p in problems))


@dataclass(frozen=True)
class Workflow:
    """A validated workflow. Dicts keep the declared order, which fixes the state order everywhere."""

    name: str
    entry_points: dict[str, float]
    transitions: dict[str, dict[str, float]]
    exit_points: list[str]
    avg_response_times: dict[str, float]
    description: str | None = None
    methods: dict[str, str] = field(default_factory=dict)
    error_rates: dict[str, float] = field(default_factory=dict)
    query_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    think_time_mean_s: float | None = None

    @property
    def endpoints(self) -> list[str]:
        """Every defined endpoint: transition sources in declared order, then exit points."""
        return [*self.transitions, *(e for e in self.exit_points if e not in self.transitions)]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The transition matrix and the entry vector as declared, in ``endpoints`` order."""
        index = {e: i for i, e in enumerate(self.endpoints)}
        matrix = np.zeros((len(index), len(index)))
        for src, row in self.transitions.items():
            for dst, p in row.items():
                matrix[index[src], index[dst]] = p
        entry = np.zeros(len(index))
        for e, p in self.entry_points.items():
            entry[index[e]] = p
        return matrix, entry

    def method_of(self, endpoint: str) -> str:
        return self.methods.get(endpoint) or infer_method(endpoint)

    def to_dict(self) -> dict[str, Any]:
        """The YAML shape: required fields, then the extras that are set."""
        out: dict[str, Any] = {
            "name": self.name,
            "entry_points": dict(self.entry_points),
            "transitions": {src: dict(row) for src, row in self.transitions.items()},
            "exit_points": list(self.exit_points),
            "avg_response_times": dict(self.avg_response_times),
        }
        for key in OPTIONAL_FIELDS:
            value = getattr(self, key)
            if value is not None and value != {}:
                out[key] = value
        return out


def infer_method(endpoint: str) -> str:
    """POST when the last static segment is an action (``/login``, ``/checkout``...), else GET."""
    static = [s for s in endpoint.strip("/").split("/") if s and not _PLACEHOLDER.fullmatch(s)]
    return "POST" if static and static[-1].lower() in _MUTATION_SEGMENTS else "GET"


def placeholders(endpoint: str) -> list[str]:
    return _PLACEHOLDER.findall(endpoint)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _check_distribution(where: str, row: Any, problems: list[str]) -> dict[str, float]:
    """A mapping of endpoint -> probability in [0, 1] summing to 1; problems name ``where``."""
    if not isinstance(row, Mapping) or not row:
        problems.append(f"{where}: expected a non-empty mapping of endpoint -> probability, got {shown(row)}")
        return {}
    clean: dict[str, float] = {}
    for target, p in row.items():
        value = _number(p)
        if not isinstance(target, str) or not target:
            problems.append(f"{where}: endpoint names must be non-empty strings, got {shown(target)}")
        elif value is None or math.isnan(value):
            problems.append(f"{where} -> {target}: probability must be a number, got {shown(p)}")
        elif not 0.0 <= value <= 1.0:
            problems.append(f"{where} -> {target}: probability {value} is outside [0, 1]")
        else:
            clean[target] = value
    total = sum(clean.values())
    if len(clean) == len(row) and abs(total - 1.0) > PROBABILITY_TOLERANCE:
        problems.append(f"{where}: probabilities sum to {total:.9g}, not 1 (tolerance {PROBABILITY_TOLERANCE:g})")
    return clean


def _check_endpoint_name(endpoint: str, problems: list[str]) -> None:
    if not endpoint.startswith("/"):
        problems.append(f"endpoint {endpoint}: must be a path starting with '/'")
    stripped = _PLACEHOLDER.sub("", endpoint)
    if "{" in stripped or "}" in stripped:
        problems.append(f"endpoint {endpoint}: braces must enclose a placeholder name like {{product_id}}")


def workflow_from_dict(data: Any, source: str = "<workflow>") -> Workflow:
    """Validate a parsed YAML document; raise ``WorkflowError`` listing every problem found."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise WorkflowError(source, [f"top level must be a mapping with fields {', '.join(REQUIRED_FIELDS)}"])
    missing = [k for k in REQUIRED_FIELDS if k not in data]
    unknown = [k for k in data if k not in REQUIRED_FIELDS + OPTIONAL_FIELDS]
    if missing:
        problems.append(f"missing required field(s): {', '.join(missing)}")
    if unknown:
        problems.append(
            f"unknown field(s): {', '.join(map(str, unknown))} "
            f"(allowed: {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)})"
        )
    if missing:
        raise WorkflowError(source, problems)

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        problems.append(f"name: expected a non-empty string, got {shown(name)}")

    entry = _check_distribution("entry_points", data["entry_points"], problems)

    raw_transitions = data["transitions"]
    transitions: dict[str, dict[str, float]] = {}
    if not isinstance(raw_transitions, Mapping) or not raw_transitions:
        problems.append("transitions: expected a non-empty mapping of endpoint -> {next endpoint -> p}")
        raw_transitions = {}
    for src, row in raw_transitions.items():
        if not isinstance(src, str) or not src:
            problems.append(f"transitions: endpoint names must be non-empty strings, got {shown(src)}")
            continue
        transitions[src] = _check_distribution(f"transitions of {src}", row, problems)

    raw_exits = data["exit_points"]
    exits: list[str] = []
    if not isinstance(raw_exits, list) or not raw_exits:
        problems.append(f"exit_points: expected a non-empty list of endpoints, got {shown(raw_exits)}")
    else:
        for e in raw_exits:
            if not isinstance(e, str) or not e:
                problems.append(f"exit_points: endpoint names must be non-empty strings, got {shown(e)}")
            elif e in exits:
                problems.append(f"exit_points: endpoint {e} is listed twice")
            else:
                exits.append(e)

    defined = set(transitions) | set(exits)
    for endpoint in [*transitions, *(e for e in exits if e not in transitions)]:
        _check_endpoint_name(endpoint, problems)
    for e in exits:
        if transitions.get(e):
            problems.append(f"exit point {e}: declares transitions, but an exit point ends the session")
    for target in entry:
        if target not in defined:
            problems.append(f"entry point {target}: not defined (no transitions and not an exit point)")
    for src, row in transitions.items():
        for target in row:
            if target not in defined:
                problems.append(
                    f"transitions of {src} -> {target}: {target} has no outgoing transitions and is not an exit point"
                )

    raw_times = data["avg_response_times"]
    times: dict[str, float] = {}
    if not isinstance(raw_times, Mapping):
        problems.append("avg_response_times: expected a mapping of endpoint -> milliseconds")
        raw_times = {}
    for endpoint, ms in raw_times.items():
        value = _number(ms)
        if endpoint not in defined:
            problems.append(f"avg_response_times of {endpoint}: endpoint is not defined")
        elif value is None or not math.isfinite(value) or not 0 < value <= MAX_RESPONSE_MS:
            problems.append(
                f"avg_response_times of {endpoint}: expected a positive number of ms up to {MAX_RESPONSE_MS:.0f} "
                f"(an hour), got {shown(ms)}"
            )
        else:
            times[endpoint] = value
    for endpoint in sorted(defined - set(raw_times)):
        problems.append(f"endpoint {endpoint}: missing from avg_response_times")

    methods, error_rates, query_params, parameters = _check_extras(data, defined, problems)
    if "think_time_mean_s" in data:
        think = _number(data["think_time_mean_s"])
        if think is None or not math.isfinite(think) or not 0 <= think <= MAX_THINK_TIME_S:
            problems.append(
                f"think_time_mean_s: expected seconds from 0 to {MAX_THINK_TIME_S:.0f} (a day), "
                f"got {shown(data['think_time_mean_s'])}"
            )

    # Reachability: every endpoint must be able to end its session (walk the positive edges backwards).
    if not problems:
        reaches_exit = set(exits)
        changed = True
        while changed:
            changed = False
            for src, row in transitions.items():
                if src not in reaches_exit and any(p > 0 and t in reaches_exit for t, p in row.items()):
                    reaches_exit.add(src)
                    changed = True
        for src in transitions:
            if src not in reaches_exit:
                problems.append(f"endpoint {src}: cannot reach any exit point, so sessions would never end")
        if not any(p > 0 for p in entry.values()):
            problems.append("entry_points: no entry point has a positive probability")

    description = data.get("description")
    if description is not None and not isinstance(description, str | int | float):
        problems.append(f"description: expected text, got {shown(description)}")
    if problems:
        raise WorkflowError(source, problems)
    think = _number(data.get("think_time_mean_s"))
    return Workflow(
        name=name,
        entry_points=entry,
        transitions=transitions,
        exit_points=exits,
        avg_response_times=times,
        description=str(description) if description else None,
        methods=methods,
        error_rates=error_rates,
        query_params=query_params,
        parameters=parameters,
        think_time_mean_s=think,
    )


def _check_extras(
    data: Mapping[str, Any], defined: set[str], problems: list[str]
) -> tuple[dict[str, str], dict[str, float], dict[str, dict[str, Any]], dict[str, Any]]:
    def mapping(key: str, shape: str) -> Mapping[Any, Any]:
        value = data.get(key) or {}
        if isinstance(value, Mapping):
            return value
        problems.append(f"{key}: expected a mapping of {shape}, got {shown(value)}")
        return {}

    methods: dict[str, str] = {}
    for endpoint, method in mapping("methods", "endpoint -> HTTP method").items():
        if endpoint not in defined:
            problems.append(f"methods of {endpoint}: endpoint is not defined")
        elif method not in METHODS:
            problems.append(f"methods of {endpoint}: {shown(method)} is not one of {', '.join(METHODS)}")
        else:
            methods[endpoint] = method
    error_rates: dict[str, float] = {}
    for endpoint, rate in mapping("error_rates", "endpoint -> share").items():
        value = _number(rate)
        if endpoint not in defined:
            problems.append(f"error_rates of {endpoint}: endpoint is not defined")
        elif value is None or not 0.0 <= value <= 1.0:
            problems.append(f"error_rates of {endpoint}: expected a share in [0, 1], got {shown(rate)}")
        else:
            error_rates[endpoint] = value
    query_params: dict[str, dict[str, Any]] = {}
    for endpoint, params in mapping("query_params", "endpoint -> {name -> kind}").items():
        if endpoint not in defined:
            problems.append(f"query_params of {endpoint}: endpoint is not defined")
            continue
        if not isinstance(params, Mapping):
            problems.append(f"query_params of {endpoint}: expected a mapping of name -> kind")
            continue
        for pname, kind in params.items():
            ok_list = isinstance(kind, list) and kind and all(isinstance(v, str | int) for v in kind)
            if kind not in QUERY_KINDS and not ok_list:
                problems.append(
                    f"query_params of {endpoint} -> {pname}: kind must be one of {', '.join(QUERY_KINDS)} "
                    f"or a list of values, got {shown(kind)}"
                )
        query_params[endpoint] = dict(params)
    parameters: dict[str, Any] = {}
    for pname, spec in mapping("parameters", "placeholder -> 'user' or {min, max}").items():
        if spec == "user":
            parameters[pname] = spec
        elif (
            isinstance(spec, Mapping)
            and set(spec) == {"min", "max"}
            and all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in spec)
            and 0 <= spec["min"] <= spec["max"]
        ):
            parameters[pname] = {"min": spec["min"], "max": spec["max"]}
        else:
            problems.append(f"parameters of {{{pname}}}: expected 'user' or {{min: int, max: int}}, got {shown(spec)}")
    return methods, error_rates, query_params, parameters


def parse_workflow(text: str, source: str = "<workflow>") -> Workflow:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or exc
        raise WorkflowError(source, [f"{where}not valid YAML ({reason})"]) from exc
    return workflow_from_dict(data, source)


def builtin_workflows() -> dict[str, str]:
    """Built-in workflow name -> its one-line description."""
    out: dict[str, str] = {}
    for item in sorted(resources.files(BUILTIN_PACKAGE).iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            wf = parse_workflow(item.read_text(), f"built-in {item.name}")
            out[item.name.removesuffix(".yaml")] = wf.description.strip().splitlines()[0] if wf.description else ""
    return out


def load_workflow(ref: str | os.PathLike[str]) -> Workflow:
    """A built-in by name (``ecommerce``, ``microservices``) or a YAML file path."""
    text_ref = str(ref)
    builtin = resources.files(BUILTIN_PACKAGE).joinpath(f"{text_ref}.yaml")
    if "/" not in text_ref and not text_ref.endswith((".yaml", ".yml")) and builtin.is_file():
        return parse_workflow(builtin.read_text(), f"built-in workflow {text_ref}")
    path = Path(text_ref)
    if not path.is_file():
        known = ", ".join(builtin_workflows())
        raise FileNotFoundError(f"workflow {text_ref!r} is neither a built-in ({known}) nor an existing file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WorkflowError(str(path), [f"not a UTF-8 text file (byte {exc.start}): a workflow is YAML text"]) from None
    return parse_workflow(text, str(path))


def dump_workflow(workflow: Workflow) -> str:
    return yaml.safe_dump(workflow.to_dict(), sort_keys=False, allow_unicode=True, width=120)


def save_workflow(workflow: Workflow, path: str | os.PathLike[str]) -> Path:
    from synth_pipelines.core.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(dump_workflow(workflow))
    return path
