"""``api_traces.truth`` on a workflow small enough to work out by hand.

Tiny chain: enter /a (0.75) or /b (0.25); /a -> /b 0.5, /exit 0.5; /b -> /a 0.2, /exit 0.8.
Expected visits solve v_a = 0.75 + 0.2 v_b, v_b = 0.25 + 0.5 v_a: v_a = 8/9, v_b = 25/36, v_exit = 1.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.domains.api_traces.truth import (
    ENTRY,
    TransitionComparison,
    TransitionEstimate,
    compare_transitions,
    estimate_transitions,
    expected_visits,
    ground_truth,
    ground_truth_json,
    recovery_verdict,
    session_path_violations,
    walk_steps,
)
from synth_pipelines.domains.api_traces.workflow import Workflow

TRUTH = {
    "entry_points": {"/a": 0.75, "/b": 0.25, "/exit": 0.0},
    "transitions": {"/a": {"/b": 0.5, "/exit": 0.5, "/a": 0.0}, "/b": {"/a": 0.2, "/exit": 0.8}},
    "exit_points": ["/exit"],
}


def tiny() -> Workflow:
    return Workflow(
        name="tiny-é",
        entry_points={"/a": 0.75, "/b": 0.25},
        transitions={"/a": {"/b": 0.5, "/exit": 0.5}, "/b": {"/a": 0.2, "/exit": 0.8}},
        exit_points=["/exit"],
        avg_response_times={"/a": 10.0, "/b": 10.0, "/exit": 10.0},
    )


def calls(rows: list[tuple[int, int, str, bool]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["session_id", "seq", "endpoint", "is_retry"], orient="row")


def test_expected_visits_and_the_ground_truth_file() -> None:
    visits = expected_visits(tiny())
    assert visits == pytest.approx({"/a": 8 / 9, "/b": 25 / 36, "/exit": 1.0}, abs=1e-12)
    truth = ground_truth(tiny())
    assert truth == {
        "workflow": "tiny-é",
        "states": ["/a", "/b", "/exit"],
        "entry_points": {"/a": 0.75, "/b": 0.25},
        "transitions": {"/a": {"/b": 0.5, "/exit": 0.5}, "/b": {"/a": 0.2, "/exit": 0.8}},
        "exit_points": ["/exit"],
        "expected_calls_per_session": round(93 / 36, 12),
        "expected_visits_per_session": {"/a": round(8 / 9, 12), "/b": round(25 / 36, 12), "/exit": 1.0},
    }
    text = ground_truth_json(tiny())
    assert text.startswith('{\n  "workflow": "tiny-é",\n  "states": [\n    "/a",') and text.endswith("}\n")
    assert json.loads(text) == truth


# Session 1 retries /a once; rows arrive shuffled.
WALKS = [
    (2, 1, "/exit", False),
    (1, 2, "/b", False),
    (1, 0, "/a", False),
    (2, 0, "/b", False),
    (1, 3, "/exit", False),
    (1, 1, "/a", True),
]


def test_walk_steps_and_the_estimate_count_each_step_once() -> None:
    assert walk_steps(calls(WALKS)).rows() == [
        (1, ENTRY, "/a"),
        (1, "/a", "/b"),
        (1, "/b", "/exit"),
        (2, ENTRY, "/b"),
        (2, "/b", "/exit"),
    ]
    estimate = estimate_transitions(calls(WALKS))
    assert estimate.entry_points == {"/a": 0.5, "/b": 0.5}
    assert estimate.transitions == {"/a": {"/b": 1.0}, "/b": {"/exit": 1.0}}
    assert estimate.observations == {ENTRY: 2, "/a": 1, "/b": 2}
    assert estimate.edges.columns == ["from", "to", "count", "probability"]
    assert estimate.edges.rows() == [
        (ENTRY, "/a", 1, 0.5),
        (ENTRY, "/b", 1, 0.5),
        ("/a", "/b", 1, 1.0),
        ("/b", "/exit", 2, 1.0),
    ]


def tolerance(z: float, p: float, n: int) -> float:
    return z * math.sqrt(p * (1 - p) / n) + 0.5 / n


def test_compare_with_counts_gives_each_edge_its_error_and_tolerance() -> None:
    estimate = estimate_transitions(calls(WALKS))
    learned = TransitionEstimate(
        estimate.entry_points,
        {**estimate.transitions, "/z": {"/exit": 1.0}},  # a state the truth does not know
        {**estimate.observations, "/z": 4},
        estimate.edges,
    )
    comparison = compare_transitions(learned, tiny(), z=2.0)
    assert comparison.missing_states == []
    expected = [
        (ENTRY, "/a", 0.75, 0.5, 0.25, tolerance(2, 0.75, 2)),
        (ENTRY, "/b", 0.25, 0.5, 0.25, tolerance(2, 0.25, 2)),
        ("/a", "/b", 0.5, 1.0, 0.5, tolerance(2, 0.5, 1)),
        ("/a", "/exit", 0.5, 0.0, 0.5, tolerance(2, 0.5, 1)),
        ("/b", "/a", 0.2, 0.0, 0.2, tolerance(2, 0.2, 2)),
        ("/b", "/exit", 0.8, 1.0, 0.2, tolerance(2, 0.8, 2)),
        ("/z", "/exit", 0.0, 1.0, 1.0, 0.5 / 4),
    ]
    assert comparison.edges.columns == ["from", "to", "truth", "learned", "abs_error", "tolerance"]
    for got, want in zip(comparison.edges.rows(), expected, strict=True):
        assert got[:2] == want[:2] and got[2:] == pytest.approx(want[2:])
    assert comparison.states["state"].to_list() == [ENTRY, "/a", "/b", "/z"]  # in the order of the edges
    states = {row[0]: row[1:] for row in comparison.states.rows()}
    assert comparison.states.columns == ["state", "edges", "observations", "max_abs_error", "mean_abs_error"]
    assert states == {
        ENTRY: (2, 2, pytest.approx(0.25), pytest.approx(0.25)),
        "/a": (2, 1, pytest.approx(0.5), pytest.approx(0.5)),
        "/b": (2, 2, pytest.approx(0.2), pytest.approx(0.2)),
        "/z": (1, 4, pytest.approx(1.0), pytest.approx(1.0)),
    }
    assert comparison.max_abs_error == pytest.approx(1.0)
    assert comparison.mean_abs_error == pytest.approx((0.25 + 0.25 + 0.5 + 0.5 + 0.2 + 0.2 + 1.0) / 7)
    assert not comparison.within(1.0) and comparison.within(1.0001)
    # /z's 1.0 is beyond its 0.125; every other edge is within its tolerance.
    assert not comparison.within_sampling_error()
    assert comparison.worst_edges(2)["to"].to_list() == ["/exit", "/b"]
    assert comparison.worst_edges(2)["from"].to_list() == ["/z", "/a"]


def test_compare_without_counts_or_entry_and_with_missing_states(tmp_path: Path) -> None:
    # A plain dict without "(entry)": the entry row is not compared; /b has no row: it is missing.
    comparison = compare_transitions({"/a": {"/b": 0.4, "/exit": 0.6}, "/b": {}}, tiny())
    assert comparison.missing_states == ["/b"]
    assert comparison.edges.select("from", "to", "abs_error").rows() == [
        ("/a", "/b", pytest.approx(0.1)),
        ("/a", "/exit", pytest.approx(0.1)),
    ]
    assert comparison.edges["tolerance"].to_list() == [math.inf, math.inf]
    assert comparison.within_sampling_error()
    assert comparison.states["observations"].to_list() == [None]
    # The ground_truth.json shape with entry_points None, and the truth as a path (a str).
    path = tmp_path / "truth.json"
    path.write_text(ground_truth_json(tiny()))
    shaped = {"entry_points": None, "transitions": {"/a": {"/b": 0.5, "/exit": 0.5}}}
    assert compare_transitions(shaped, str(path)).missing_states == ["/b"]
    frame = pl.DataFrame({"from": [ENTRY, "/a"], "to": ["/a", "/b"], "probability": [1, 1]})
    from_frame = compare_transitions(frame, {"transitions": tiny().transitions, "entry_points": None})
    assert from_frame.missing_states == ["/b"]
    assert from_frame.edges.select("from", "to", "abs_error").rows() == [
        (ENTRY, "/a", 1.0),  # a truth without entry points gives every entry probability 0
        ("/a", "/b", 0.5),
        ("/a", "/exit", 0.5),
    ]
    with pytest.raises(ValueError, match=r"missing \['from', 'probability'\]"):
        compare_transitions(pl.DataFrame({"to": ["/a"]}), tiny())


def test_an_empty_comparison_has_no_error() -> None:
    empty = TransitionComparison(
        states=pl.DataFrame(), edges=pl.DataFrame({"abs_error": []}, schema={"abs_error": pl.Float64})
    )
    assert (empty.max_abs_error, empty.mean_abs_error) == (0.0, 0.0)


def test_verdict_criteria_read_as_they_are_applied() -> None:
    good = compare_transitions({ENTRY: {"/a": 0.75, "/b": 0.25}, **tiny().transitions}, tiny())
    at_bound = recovery_verdict(good, 100_000)
    assert at_bound == type(at_bound)(
        passed=True,
        criterion="100,000 sessions >= 100,000: max abs error < 0.01 and every edge within 5 standard errors",
        within_bound=True,
        within_sampling_error=True,
    )
    below = recovery_verdict(good, 99_999)
    assert below.criterion == (
        "99,999 sessions < 100,000: every edge within 5 standard errors (the 0.01 bound applies from 100,000 sessions)"
    )
    assert (below.passed, below.within_bound, below.within_sampling_error) == (True, None, True)
    off = compare_transitions({ENTRY: {"/a": 0.74, "/b": 0.26}, **tiny().transitions}, tiny())  # 0.01 off
    assert recovery_verdict(off, 100_000).passed is False and recovery_verdict(off, 100_000).within_bound is False
    assert recovery_verdict(off, 99_999).passed is True  # no counts: infinite tolerance


def test_session_path_violations_names_every_break() -> None:
    tampered = calls(
        [
            (1, 0, "/a", False), (1, 1, "/b", False), (1, 2, "/exit", False),  # fine
            (2, 0, "/exit", False),  # entry probability 0
            (3, 0, "/a", False), (3, 1, "/a", True), (3, 2, "/exit", False),  # a proper retry
            (4, 0, "/b", False), (4, 2, "/a", False),  # a gap, and it ends at /a
            (5, 0, "/a", False), (5, 1, "/b", True), (5, 2, "/exit", False),  # a "retry" of another call
            (6, 0, "/a", True), (6, 1, "/exit", False),  # starts with a retry
            (7, 0, "/a", False), (7, 1, "/a", False), (7, 2, "/exit", False),  # /a -> /a has probability 0
        ]
    )  # fmt: skip
    assert session_path_violations(tampered, TRUTH).rows() == [
        (2, 0, "starts at /exit, which is not an entry point"),
        (4, 2, "ends at /a, which is not an exit point"),
        (4, 2, "seq 2 where 1 was expected"),
        (5, 1, "retry of /b follows /a"),
        (6, 0, "starts at /a, which is not an entry point"),
        (7, 1, "takes undeclared edge /a -> /a"),
    ]
    clean = tampered.filter(pl.col("session_id").is_in([1, 3]))
    assert session_path_violations(clean, TRUTH).height == 0


def test_edges_are_sorted_by_state_then_next_state_and_no_calls_estimate_nothing() -> None:
    walks = [*WALKS, (3, 0, "/b", False), (3, 1, "/a", False), (3, 2, "/exit", False)]
    edges = estimate_transitions(calls(walks)).edges
    assert edges.select("from", "to").rows() == [
        (ENTRY, "/a"),
        (ENTRY, "/b"),
        ("/a", "/b"),
        ("/a", "/exit"),
        ("/b", "/a"),
        ("/b", "/exit"),
    ]
    nothing = estimate_transitions(
        calls([]).cast({"session_id": pl.Int64, "seq": pl.Int64, "endpoint": pl.String, "is_retry": pl.Boolean})
    )
    assert (nothing.entry_points, nothing.transitions, nothing.observations) == ({}, {}, {})


def test_learned_shapes_with_and_without_an_entry_distribution() -> None:
    shaped = {"entry_points": {"/a": 0.5, "/b": 0.5}, "transitions": tiny().transitions}
    comparison = compare_transitions(shaped, tiny())
    assert comparison.edges.filter(pl.col("from") == ENTRY)["abs_error"].to_list() == [0.25, 0.25]
    frame = pl.DataFrame({"from": ["/a", "/a"], "to": ["/b", "/exit"], "probability": [0.5, 0.5]})
    without_entry = compare_transitions(frame, tiny())  # no "(entry)" rows: the entry is not compared
    assert without_entry.edges["from"].unique().to_list() == ["/a"]
    assert without_entry.missing_states == ["/b"]
    with pytest.raises(ValueError) as raised:
        compare_transitions({}, {"entry_points": {}})
    assert (
        str(raised.value) == "truth must be a Workflow, a ground_truth.json path or its parsed dict (no 'transitions')"
    )


def test_a_missing_first_state_does_not_hide_the_later_ones() -> None:
    comparison = compare_transitions({"/b": {"/a": 0.1, "/exit": 0.9}, "/q": {"/exit": 1.0}}, tiny())
    assert comparison.missing_states == ["/a"]
    assert comparison.edges.select("from", "to", "abs_error", "tolerance").rows() == [
        ("/b", "/a", pytest.approx(0.1), math.inf),
        ("/b", "/exit", pytest.approx(0.1), math.inf),
        ("/q", "/exit", 1.0, math.inf),  # a state the truth lacks, without counts: no tolerance either
    ]


def test_an_error_equal_to_its_tolerance_is_within_it_and_worst_edges_shows_ten() -> None:
    rows = {s: dict(row) for s, row in tiny().transitions.items()}
    rows["/a"]["/c"] = 0.125  # p = 0, n = 4: tolerance 0.5 / 4 = 0.125 exactly
    observations = {ENTRY: 4, "/a": 4, "/b": 4}
    estimate = TransitionEstimate(dict(tiny().entry_points), rows, observations, pl.DataFrame())
    comparison = compare_transitions(estimate, tiny())
    edge = comparison.edges.filter(pl.col("to") == "/c").row(0)
    assert (edge[4], edge[5]) == (0.125, 0.125)
    assert comparison.within_sampling_error()
    many = {"/a": {f"/n{i:02}": 1 / 12 for i in range(12)}, "/b": tiny().transitions["/b"]}
    assert compare_transitions(many, tiny()).worst_edges().height == 10


def test_session_path_violations_sorts_its_input_and_checks_the_first_and_last_rows() -> None:
    """Rows arrive shuffled; the first session (sorted) starts with a retry and the last ends off an exit:
    the very first and very last rows have no neighbour, and are still checked."""
    shuffled = calls(
        [
            (2, 1, "/b", False), (1, 0, "/b", False), (0, 1, "/exit", False),
            (2, 0, "/a", False), (0, 0, "/b", True), (1, 1, "/b", False),
            (1, 3, "/exit", False), (1, 2, "/a", True),  # 1: /b, /b (undeclared), /a (a retry of /b), /exit
        ]
    )  # fmt: skip
    # Within a session, problems come in seq order (here the reverse of their text order).
    assert session_path_violations(shuffled, TRUTH).rows() == [
        (0, 0, "starts at /b, which is not an entry point"),
        (1, 1, "takes undeclared edge /b -> /b"),
        (1, 2, "retry of /a follows /b"),
        (2, 1, "ends at /b, which is not an exit point"),
    ]
    assert (
        session_path_violations(
            calls([]).cast({"session_id": pl.Int64, "seq": pl.Int64, "endpoint": pl.String, "is_retry": pl.Boolean}),
            TRUTH,
        ).height
        == 0
    )
