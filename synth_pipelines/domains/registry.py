"""Every domain package and the ``synth`` commands it adds: one list for ``defs`` and for the CLI.

Light on purpose (no polars, Dagster or LangChain at import): ``synth --help`` reads the command
names and one-line helps from here, and only the command that runs imports its package. Adding a
domain is a folder under ``domains/`` plus one line below; nothing in ``orchestration/`` learns
its name.

A package's ``domain.py`` exposes ``domains() -> list[Domain]`` (a relational group per DDL file,
a scenario group per registered scenario, one for the others); its ``cli.py`` adds its commands.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth_pipelines.core.domain import Domain


@dataclass(frozen=True)
class DomainPackage:
    package: str  # folder under synth_pipelines/domains/
    commands: tuple[tuple[str, str], ...]  # (synth subcommand, one-line help)
    has_domains: bool = True  # False: commands only (``validate`` works on files of the log domains)

    @property
    def module(self) -> str:
        return f"synth_pipelines.domains.{self.package}"


DOMAIN_PACKAGES: tuple[DomainPackage, ...] = (
    DomainPackage("cv_logs", (("cv-logs", "computer-vision model-run logs, with an invalid raw mirror"),)),
    DomainPackage("api_logs", (("api-logs", "API call logs, with an invalid raw mirror"),)),
    DomainPackage("agent_traces", (("agent-logs", "LLM-agent traces (one line per step), with an invalid mirror"),)),
    DomainPackage("logs", (("validate", "validate a JSONL file of a log domain line by line"),), has_domains=False),
    DomainPackage("api_traces", (("api-traces", "API call traces from a Markov-chain workflow, with ground truth"),)),
    DomainPackage("relational", (("relational", "multi-table data from a SQL DDL file, every constraint verified"),)),
    DomainPackage("nlp", (("nlp", "NLP training sets: qa, pair, triplet, pair-class, pair-score, custom formats"),)),
    DomainPackage("scenarios", (("scenario", "business-domain records by scenario (tech-support, financial, ...)"),)),
)


def all_domains() -> list[Domain]:
    """Every domain instance, in registry order: each becomes one seed-partitioned asset group."""
    found: list[Domain] = []
    for package in DOMAIN_PACKAGES:
        if package.has_domains:
            found += importlib.import_module(f"{package.module}.domain").domains()
    return found


def domain_by_name(name: str) -> Domain:
    """Look a domain up by group name (``cv_logs``) or CLI name (``cv-logs``)."""
    domains = all_domains()
    for domain in domains:
        if name in (domain.name, domain.cli_name):
            return domain
    known = ", ".join(d.name for d in domains)
    raise KeyError(f"unknown domain {name!r}; known domains: {known}")
