"""Every domain that becomes a plain ``config -> raw -> normalized -> validated -> exported`` group.

Domains with a different asset shape (relational: one asset per table) add their own
``Definitions`` in ``definitions.py``.
"""

from __future__ import annotations

from synth_pipelines.core.domain import Domain


def pipeline_domains() -> list[Domain]:
    from synth_pipelines.domains.agent_traces.domain import AgentTracesDomain
    from synth_pipelines.domains.api_logs.domain import ApiLogsDomain
    from synth_pipelines.domains.cv_logs.domain import CvLogsDomain
    from synth_pipelines.domains.nlp.domain import NLPDomain

    return [CvLogsDomain(), ApiLogsDomain(), AgentTracesDomain(), NLPDomain()]


def domain_by_name(name: str) -> Domain:
    """Look a domain up by group name (``cv_logs``) or CLI name (``cv-logs``)."""
    for domain in pipeline_domains():
        if name in (domain.name, domain.cli_name):
            return domain
    known = ", ".join(d.cli_name for d in pipeline_domains())
    raise KeyError(f"unknown domain {name!r}; known domains: {known}")
