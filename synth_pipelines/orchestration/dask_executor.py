"""dagster-dask's executor, run the way Dagster's own executors run a plan; same run config.

dagster-dask 0.29 submits the whole static plan to dask at once, each step a task depending on its
upstream tasks, and never looks at what a step produced. So a dynamic fan-out (``DynamicOut``) ran only
its first mapped step and reported success, a step whose optional input was never yielded failed on a
missing file instead of being skipped, a fan-in saw none of its upstream values (the worker's known state
was the plan's at the start) and a step below a failed one ran anyway. Here an ``ActiveExecution`` (as in
the multiprocess executor) decides what runs: a step is submitted when its inputs are ready, with the
known state so far (produced outputs, dynamic mapping keys), its events are fed back, and skipped and
abandoned steps are settled between completions. Pools (``concurrency_key``) are claimed as the
multiprocess executor claims them.

Also: dask (2026.8) walks every tuple among a task's arguments looking for futures, and a run with op
concurrency (our LLM steps use the ``llm`` pool) holds a ``RunOpConcurrency`` record, which refuses
iteration ("Iteration is not allowed on `@record` RunOpConcurrency"); the Dagster objects travel inside
``_Opaque``, which dask does not walk. The cluster types and their config are dagster-dask's own.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import dagster as dg
import dask.distributed
from dagster._core.errors import raise_execution_interrupts
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._utils.error import serializable_error_info_from_exc_info
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
    """dagster-dask's worker function, with the Dagster objects unwrapped (``dependencies``: unused, always empty)."""
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
        with ExitStack() as stack:
            concurrency = stack.enter_context(
                InstanceConcurrencyContext(plan_context.instance, plan_context.dagster_run)
            )
            active = stack.enter_context(
                ActiveExecution(execution_plan, retry_mode=self.retries, instance_concurrency_context=concurrency)
            )
            client = stack.enter_context(dask.distributed.Client(cluster))
            workers = sorted(client.scheduler_info().get("workers", {}))
            finished = dask.distributed.as_completed()
            running: dict[str, str] = {}  # dask key -> step key
            submitted = 0
            while not active.is_complete:
                steps = active.get_steps_to_execute()
                yield from active.concurrency_event_iterator(plan_context)
                for step in steps:
                    # dask puts a task on a worker holding its inputs (scheduler.decide_worker), so the K shard
                    # steps, which all read the one shard_config step, would queue on that step's worker. Steps that
                    # become ready together are spread round-robin instead; loose (allow_other_workers), so a lost
                    # worker is no trap.
                    placement: dict[str, Any] = {}
                    if len(steps) > 1 and len(workers) > 1:
                        placement = {"workers": [workers[submitted % len(workers)]], "allow_other_workers": True}
                    submitted += 1
                    bundle = _Opaque(
                        recon_job=plan_context.reconstructable_job,
                        run=plan_context.dagster_run,
                        run_config=plan_context.run_config,
                        instance_ref=plan_context.instance.get_ref(),
                        # What has run so far: the outputs produced (a fan-in loads only those), dynamic mappings.
                        known_state=active.get_known_state(),
                    )
                    key = f"{job_name}.{plan_context.run_id}.{step.key}.{submitted}"
                    future = client.submit(
                        run_step_on_worker,
                        [],
                        [step.key],
                        bundle,
                        key=key,
                        resources=get_dask_resource_requirements(step.tags),
                        **placement,
                    )
                    running[future.key] = step.key
                    finished.add(future)
                if not running:
                    # Nothing in flight: settle skipped/abandoned steps, or wait for a pool slot or a retry's delay.
                    yield from active.plan_events_iterator(plan_context)
                    if not active.is_complete:
                        active.sleep_til_ready()
                    continue
                with raise_execution_interrupts():
                    future = next(finished)
                step_key = running.pop(future.key)
                try:
                    events: Sequence[DagsterEvent] = future.result()
                except Exception:
                    step = active.get_step_by_key(step_key)
                    events = [
                        self.log_failure_or_retry_event_after_error(
                            plan_context.for_step(step),
                            serializable_error_info_from_exc_info(sys.exc_info()),
                            active.get_known_state(),
                        )
                    ]
                for event in events:
                    yield event
                    active.handle_event(event)
                active.verify_complete(plan_context, step_key)
                # Steps whose inputs were all skipped (an optional output not yielded) are skipped here, and the
                # steps below a failure abandoned, as the multiprocess executor does; dagster-dask ran them anyway.
                yield from active.plan_events_iterator(plan_context)


@dg.executor(
    name="dask",
    requirements=dg.multiple_process_executor_requirements(),
    config_schema=dask_executor.config_schema,
)
def synth_dask_executor(init_context: dg.InitExecutorContext) -> SynthDaskExecutor:
    """``dagster_dask.dask_executor`` (same run config), following the plan as it runs; pool steps allowed."""
    ((cluster_type, cluster_configuration),) = init_context.executor_config["cluster"].items()
    return SynthDaskExecutor(cluster_type, cluster_configuration)
