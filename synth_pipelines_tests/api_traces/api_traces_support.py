"""Shared helpers for the api_traces tests: a custom (non built-in) workflow with self-loops."""

from __future__ import annotations

from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.workflow import Workflow, parse_workflow

# Not a built-in: a help-desk flow with two self-loops, every state visited often.
SUPPORT_DESK_YAML = """\
name: support-desk
entry_points:
  /tickets: 0.7
  /kb/search: 0.3
transitions:
  /tickets:
    /tickets/{ticket_id}: 0.6
    /kb/search: 0.2
    /logout: 0.2
  /kb/search:
    /kb/search: 0.35
    /kb/articles/{article_id}: 0.45
    /logout: 0.2
  /tickets/{ticket_id}:
    /tickets/{ticket_id}/comments: 0.5
    /tickets: 0.3
    /logout: 0.2
  /kb/articles/{article_id}:
    /tickets: 0.5
    /kb/search: 0.3
    /logout: 0.2
  /tickets/{ticket_id}/comments:
    /tickets/{ticket_id}/comments: 0.25
    /tickets: 0.35
    /logout: 0.4
exit_points:
  - /logout
avg_response_times:
  /tickets: 90
  /kb/search: 140
  /tickets/{ticket_id}: 60
  /kb/articles/{article_id}: 50
  /tickets/{ticket_id}/comments: 120
  /logout: 30
"""


def support_desk() -> Workflow:
    return parse_workflow(SUPPORT_DESK_YAML, "support_desk.yaml")


def small_config(**overrides: object) -> ApiTracesConfig:
    values: dict[str, object] = {"users": 300, "sessions_per_user_mean": 2.0, "sessions_per_user_std": 1.0}
    values.update(overrides)
    return ApiTracesConfig.model_validate(values)
