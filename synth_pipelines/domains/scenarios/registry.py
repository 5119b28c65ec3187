"""Which scenarios exist: the built-ins, plus every plugin in the entry-point group.

A third-party package exposes a scenario class in its packaging metadata::

    [project.entry-points."synth_pipelines.scenarios"]
    insurance-claims = "my_package.claims:InsuranceClaimsScenario"

and, once installed beside synth-pipelines, it shows up in ``synth scenario --list`` and as a
Dagster asset group, with no change to this project. A plugin that fails to import or is not a
``Scenario`` is reported (``broken_plugins``, a warning in the log) instead of taking the CLI down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from synth_pipelines.domains.scenarios.base import Scenario

ENTRY_POINT_GROUP = "synth_pipelines.scenarios"
log = logging.getLogger(__name__)


def builtin_scenarios() -> dict[str, type[Scenario]]:
    """The scenarios shipped in this package, by name (listed here, so no module imports the registry back)."""
    from synth_pipelines.domains.scenarios.financial import FinancialScenario
    from synth_pipelines.domains.scenarios.healthcare import HealthcareScenario
    from synth_pipelines.domains.scenarios.tech_support import TechSupportScenario

    builtins: dict[str, type[Scenario]] = {}
    for cls in (TechSupportScenario, FinancialScenario, HealthcareScenario):
        if cls.name in builtins:
            raise TypeError(f"scenario name {cls.name!r} is registered twice ({builtins[cls.name].__qualname__})")
        builtins[cls.name] = cls
    return builtins


@dataclass(frozen=True)
class RegisteredScenario:
    scenario: Scenario
    origin: str  # "built-in" or "plugin <distribution> (<module:attr>)"


@dataclass(frozen=True)
class BrokenPlugin:
    entry_point: str
    error: str


@dataclass(frozen=True)
class ScenarioCatalog:
    scenarios: dict[str, RegisteredScenario]
    broken: tuple[BrokenPlugin, ...]

    def get(self, name: str) -> Scenario:
        if name not in self.scenarios:
            known = ", ".join(sorted(self.scenarios)) or "(none)"
            raise KeyError(f"unknown scenario {name!r}; known scenarios: {known}")
        return self.scenarios[name].scenario


def load_catalog() -> ScenarioCatalog:
    """Built-ins first; a plugin cannot replace a built-in or another plugin of the same name."""
    found = {name: RegisteredScenario(cls(), "built-in") for name, cls in sorted(builtin_scenarios().items())}
    broken: list[BrokenPlugin] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        label = f"{ep.name} = {ep.value}"
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break the other scenarios
            broken.append(BrokenPlugin(label, f"import failed: {type(exc).__name__}: {exc}"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Scenario)):
            broken.append(BrokenPlugin(label, f"{cls!r} is not a subclass of synth_pipelines Scenario"))
            continue
        if cls.name in found:
            broken.append(
                BrokenPlugin(label, f"scenario name {cls.name!r} is already taken ({found[cls.name].origin})")
            )
            continue
        try:
            found[cls.name] = RegisteredScenario(cls(), f"plugin {dist} ({ep.value})")
        except Exception as exc:
            broken.append(BrokenPlugin(label, f"could not be created: {type(exc).__name__}: {exc}"))
    for plugin in broken:
        log.warning("scenario plugin %s skipped: %s", plugin.entry_point, plugin.error)
    return ScenarioCatalog(found, tuple(broken))


def get_scenario(name: str) -> Scenario:
    return load_catalog().get(name)
