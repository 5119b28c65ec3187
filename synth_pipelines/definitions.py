"""The one ``defs``: every registered domain turned into its asset group by the one factory.

Domains come from ``domains/registry.py`` (the list the CLI reads too); the factory
(``orchestration/factory.py``) knows no domain by name.
"""

import dagster as dg

from synth_pipelines.domains.registry import all_domains
from synth_pipelines.orchestration.factory import build_domain_assets
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines.orchestration.schedules import all_domains_job, nightly_regeneration, seed_file_sensor
from synth_pipelines.orchestration.shard_job import sharded_jobs

defs = dg.Definitions(
    assets=[asset for domain in all_domains() for asset in build_domain_assets(domain)],
    # <group>__sharded: one seed partition as K parallel shard steps, K from run config (orchestration/shard_job.py).
    jobs=[all_domains_job, *sharded_jobs()],
    schedules=[nightly_regeneration],
    sensors=[seed_file_sensor],
    resources=default_resources(),
)
