"""Workflow files: every kind of mistake is refused with a message naming the endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from api_traces_support import SUPPORT_DESK_YAML, support_desk

from synth_pipelines.domains.api_traces.workflow import (
    WorkflowError,
    builtin_workflows,
    dump_workflow,
    infer_method,
    load_workflow,
    parse_workflow,
    save_workflow,
    workflow_from_dict,
)


def good() -> dict:
    return yaml.safe_load(SUPPORT_DESK_YAML)


def problems_of(data: object) -> str:
    with pytest.raises(WorkflowError) as info:
        workflow_from_dict(data, "flow.yaml")
    message = str(info.value)
    assert message.startswith("flow.yaml: invalid workflow")
    return message


def test_a_valid_custom_workflow_loads() -> None:
    wf = support_desk()
    assert wf.endpoints[0] == "/tickets" and wf.exit_points == ["/logout"]
    assert wf.transitions["/kb/search"]["/kb/search"] == 0.35  # a self-loop is fine


def test_probability_outside_unit_interval_names_the_edge() -> None:
    data = good()
    data["transitions"]["/tickets"] = {"/tickets/{ticket_id}": 1.2, "/kb/search": -0.2, "/logout": 0.0}
    message = problems_of(data)
    assert "transitions of /tickets -> /tickets/{ticket_id}: probability 1.2 is outside [0, 1]" in message
    assert "/kb/search: probability -0.2 is outside [0, 1]" in message


def test_row_not_summing_to_one_names_the_endpoint() -> None:
    data = good()
    data["transitions"]["/kb/search"]["/logout"] = 0.3
    assert "transitions of /kb/search: probabilities sum to 1.1, not 1" in problems_of(data)


def test_sum_within_tolerance_is_accepted_and_beyond_is_not() -> None:
    data = good()
    data["entry_points"] = {"/tickets": 0.7 + 5e-7, "/kb/search": 0.3}
    workflow_from_dict(data)
    data["entry_points"] = {"/tickets": 0.7 + 5e-6, "/kb/search": 0.3}
    assert "entry_points: probabilities sum to" in problems_of(data)


def test_non_exit_endpoint_without_transitions_is_refused() -> None:
    data = good()
    data["transitions"]["/tickets"]["/reports"] = 0.1
    data["transitions"]["/tickets"]["/logout"] = 0.1
    assert "transitions of /tickets -> /reports: /reports has no outgoing transitions and is not an exit point" in (
        problems_of(data)
    )


def test_undefined_entry_point_is_refused() -> None:
    data = good()
    data["entry_points"] = {"/home": 1.0}
    assert "entry point /home: not defined" in problems_of(data)


def test_undefined_endpoint_in_extras_and_response_times_is_refused() -> None:
    data = good()
    data["avg_response_times"]["/ghost"] = 5
    data["methods"] = {"/phantom": "POST"}
    message = problems_of(data)
    assert "avg_response_times of /ghost: endpoint is not defined" in message
    assert "methods of /phantom: endpoint is not defined" in message


def test_endpoint_that_cannot_reach_an_exit_is_refused() -> None:
    data = good()
    # /kb/articles and /kb/search now only lead to each other: a trap with no way out.
    data["transitions"]["/kb/search"] = {"/kb/search": 0.5, "/kb/articles/{article_id}": 0.5}
    data["transitions"]["/kb/articles/{article_id}"] = {"/kb/search": 1.0}
    message = problems_of(data)
    assert "endpoint /kb/search: cannot reach any exit point" in message
    assert "endpoint /kb/articles/{article_id}: cannot reach any exit point" in message
    assert "endpoint /tickets:" not in message


def test_zero_probability_edges_do_not_count_as_a_way_out() -> None:
    data = good()
    data["transitions"]["/kb/search"] = {"/kb/search": 1.0, "/logout": 0.0}
    assert "endpoint /kb/search: cannot reach any exit point" in problems_of(data)


def test_entry_points_must_exist() -> None:
    data = good()
    data["entry_points"] = {}
    assert "entry_points: expected a non-empty mapping" in problems_of(data)
    del data["entry_points"]
    assert "missing required field(s): entry_points" in problems_of(data)


def test_exit_point_with_transitions_is_refused() -> None:
    data = good()
    data["transitions"]["/logout"] = {"/tickets": 1.0}
    assert "exit point /logout: declares transitions" in problems_of(data)


def test_every_endpoint_needs_a_response_time() -> None:
    data = good()
    del data["avg_response_times"]["/kb/search"]
    assert "endpoint /kb/search: missing from avg_response_times" in problems_of(data)


def test_unknown_top_level_field_is_refused() -> None:
    data = good()
    data["transition"] = {}
    assert "unknown field(s): transition" in problems_of(data)


def test_all_problems_are_reported_at_once() -> None:
    data = good()
    data["entry_points"] = {"/tickets": 0.5}
    data["avg_response_times"]["/logout"] = -1
    with pytest.raises(WorkflowError) as info:
        workflow_from_dict(data, "flow.yaml")
    assert len(info.value.problems) == 2


def test_yaml_is_loaded_safely() -> None:
    evil = "!!python/object/apply:os.system ['echo pwned']\n"
    with pytest.raises(WorkflowError, match="not valid YAML"):
        parse_workflow(evil, "evil.yaml")


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(WorkflowError, match=r"broken.yaml: (?s:.*)line 2, column 20: not valid YAML"):
        parse_workflow("name: x\nentry_points: {a: 1]\n", "broken.yaml")


def test_save_load_round_trip(tmp_path: Path) -> None:
    for wf in [support_desk(), load_workflow("ecommerce"), load_workflow("microservices")]:
        path = save_workflow(wf, tmp_path / f"{wf.name}.yaml")
        assert load_workflow(path) == wf
        assert parse_workflow(dump_workflow(wf)) == wf


def test_round_trip_keeps_the_yaml_semantics(tmp_path: Path) -> None:
    path = save_workflow(support_desk(), tmp_path / "desk.yaml")
    assert yaml.safe_load(path.read_text()) == yaml.safe_load(SUPPORT_DESK_YAML)


def test_builtins_are_listed_and_valid() -> None:
    names = builtin_workflows()
    assert set(names) == {"ecommerce", "microservices"}
    shop = load_workflow("ecommerce")
    assert len(shop.endpoints) == 15
    for word in ("login", "profile", "products", "search", "reviews", "cart", "checkout", "payments",
                 "confirmation", "orders", "tracking", "settings", "logout"):  # fmt: skip
        assert any(word in e for e in shop.endpoints), word


def test_unknown_workflow_reference_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="neither a built-in"):
        load_workflow("nope")


def test_methods_fit_the_endpoint() -> None:
    assert infer_method("/api/auth/login") == "POST"
    assert infer_method("/api/orders/{order_id}/cancel") == "POST"
    assert infer_method("/api/orders/{order_id}") == "GET"
    shop = load_workflow("ecommerce")
    assert shop.method_of("/api/checkout") == "POST"
    assert shop.method_of("/api/users/{user_id}/settings") == "PATCH"
