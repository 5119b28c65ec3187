"""The one ``defs`` of the project: every domain's assets and checks, resources, schedules, sensors."""

from __future__ import annotations

import dagster as dg

from synth_pipelines.domains.api_traces.assets import api_traces_assets
from synth_pipelines.domains.registry import pipeline_domains
from synth_pipelines.domains.relational.assets import build_all_relational_assets
from synth_pipelines.domains.scenarios.assets import scenario_assets
from synth_pipelines.orchestration.factory import build_domain_assets
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines.orchestration.schedules import all_domains_job, nightly_regeneration, seed_file_sensor

defs = dg.Definitions(
    assets=[
        *(asset for domain in pipeline_domains() for asset in build_domain_assets(domain)),
        # One asset group per DDL file in data/schemas/ (one asset per table, deps follow the FKs).
        *build_all_relational_assets(),
        # One asset group per registered scenario plugin (built-ins and entry points).
        *scenario_assets(),
        *api_traces_assets(),  # the factory's five assets plus workflow_fit (two more checks)
    ],
    jobs=[all_domains_job],
    schedules=[nightly_regeneration],
    sensors=[seed_file_sensor],
    resources=default_resources(),
)
