"""dagster-dask's executor with one fix: a run that uses a concurrency pool can be submitted to dask.

``dagster_dask.DaskExecutor.execute`` passes the ``DagsterRun`` to ``Client.submit`` as a task
argument. dask (2026.8) walks every tuple among the arguments looking for futures, and a run with
op concurrency (our LLM steps use the ``llm`` pool) holds a ``RunOpConcurrency`` record, which
refuses iteration: the run failed before its first step ("Iteration is not allowed on `@record`
RunOpConcurrency"). Here the Dagster objects travel inside ``_Opaque``, which dask does not walk;
everything else (config schema, cluster types, one dask task per step, dependencies as futures)
is dagster-dask's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
import dask.distributed
from dagster._core.errors import raise_execution_interrupts
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._utils import iterate_with_context
from dagster_dask import dask_executor
from dagster_dask.executor import DaskExecutor, get_dask_resource_requirements, query_on_dask_worker

# dagster-dask's cluster types other than "existing": where each cluster class lives.
_CLUSTERS = {
    "local": ("dask.distributed", "LocalCluster"),
    "ssh": ("dask.distributed", "SSHCluster"),
    "yarn": ("dask_yarn", "YarnCluster"),
    "pbs": ("dask_jobqueue", "PBSCluster"),
    "moab": ("dask_jobqueue", "MoabCluster"),
    "sge": ("dask_jobqueue", "SGECluster"),
    "lsf": ("dask_jobqueue", "LSFCluster"),
    "slurm": ("dask_jobqueue", "SLURMCluster"),
    "oar": ("dask_jobqueue", "OARCluster"),
    "kube": ("dask_kubernetes", "KubeCluster"),
}


class _Opaque:
    """Task arguments dask must pass through untouched (it would iterate a tuple, and records forbid it)."""

    def __init__(self, **values: Any) -> None:
        self.values = values


def run_step_on_worker(dependencies: Sequence[Any], step_keys: list[str], bundle: _Opaque) -> Sequence[DagsterEvent]:
    """dagster-dask's worker function, with the Dagster objects unwrapped. ``dependencies``: futures dask awaits."""
    v = bundle.values
    return query_on_dask_worker(
        dependencies, v["recon_job"], v["run"], v["run_config"], step_keys, v["instance_ref"], v["known_state"]
    )


class SynthDaskExecutor(DaskExecutor):
    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        if not plan_context.instance.is_persistent:
            raise dg.DagsterInvariantViolationError("Dask execution requires a persistent DagsterInstance")
        job_name = plan_context.job_name
        if self.cluster_type == "existing":
            cluster: Any = self.cluster_configuration["address"]
        else:
            module, name = _CLUSTERS[self.cluster_type]
            cluster = getattr(importlib.import_module(module), name)(**self.build_dict(job_name))
        bundle = _Opaque(
            recon_job=plan_context.reconstructable_job,
            run=plan_context.dagster_run,
            run_config=plan_context.run_config,
            instance_ref=plan_context.instance.get_ref(),
            known_state=execution_plan.known_state,
        )
        with dask.distributed.Client(cluster) as client:
            futures: dict[str, Any] = {}
            # dask puts a task on a worker holding its inputs (scheduler.decide_worker), so the K steps of a
            # fan-out (shard steps all reading one config step) would queue on that one worker. The steps of a
            # level are spread round-robin instead; loose (allow_other_workers), so a lost worker is no trap.
            workers = sorted(client.scheduler_info().get("workers", {}))
            for level in execution_plan.get_steps_to_execute_by_level():
                for index, step in enumerate(level):
                    placement: dict[str, Any] = {}
                    if len(level) > 1 and len(workers) > 1:
                        placement = {"workers": [workers[index % len(workers)]], "allow_other_workers": True}
                    dependencies = [
                        futures[key] for step_input in step.step_inputs for key in step_input.dependency_keys
                    ]
                    futures[step.key] = client.submit(
                        run_step_on_worker,
                        dependencies,
                        [step.key],
                        bundle,
                        key=f"{job_name}.{step.key}",
                        resources=get_dask_resource_requirements(step.tags),
                        **placement,
                    )
            finished = dask.distributed.as_completed(list(futures.values()), with_results=True)
            for _future, events in iterate_with_context(raise_execution_interrupts, finished):
                yield from events


@dg.executor(
    name="dask",
    requirements=dg.multiple_process_executor_requirements(),
    config_schema=dask_executor.config_schema,
)
def synth_dask_executor(init_context: dg.InitExecutorContext) -> SynthDaskExecutor:
    """``dagster_dask.dask_executor`` (same run config) that also runs steps in a concurrency pool."""
    ((cluster_type, cluster_configuration),) = init_context.executor_config["cluster"].items()
    return SynthDaskExecutor(cluster_type, cluster_configuration)
