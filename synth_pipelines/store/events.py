"""Each accepted version as a Dagster asset materialization, so the UI shows a kept dataset's history.

Edits are interactive, not runs: the event is reported run-less (``report_runless_asset_event``) on the
instance of ``DAGSTER_HOME``, asset key ``kept_datasets/<id>``, with the diff as metadata. Without
``DAGSTER_HOME`` nothing is reported (the CLI says so once); a failure to report never undoes a version.
"""

from __future__ import annotations

import json
import os
from typing import Any

from synth_pipelines.store.catalog import DatasetInfo

ASSET_PREFIX = "kept_datasets"


def report_version(
    info: DatasetInfo, version: int, kind: str, feedback: str | None, plan: dict[str, Any], diff: dict[str, Any]
) -> str | None:
    """Report the event; returns a note for the user when it could not be reported, else None."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    try:
        import dagster as dg

        instance = dg.DagsterInstance.get()
        metadata: dict[str, Any] = {
            "dataset_id": info.id,
            "version": version,
            "kind": kind,
            "seed": info.seed,
            "rows_added": diff["totals"]["added"],
            "rows_changed": diff["totals"]["changed"],
            "rows_deleted": diff["totals"]["deleted"],
            "diff": dg.MetadataValue.json(json.loads(json.dumps(diff, default=str))),
            "plan": dg.MetadataValue.json(json.loads(json.dumps(plan, default=str))),
        }
        if info.asset_group:
            metadata["asset_group"] = info.asset_group
        if feedback:
            metadata["feedback"] = feedback
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey([ASSET_PREFIX, info.id]),
                description=f"{info.label} version {version} ({kind})",
                metadata=metadata,
            )
        )
        return None
    except Exception as exc:  # the version is committed; the event is a view of it
        return f"version {version} is saved, but the Dagster event was not reported: {type(exc).__name__}: {exc}"


QUESTIONS_ASSET_PREFIX = "kept_dataset_questions"


def report_questions(info: DatasetInfo, summary: dict[str, Any], last: dict[str, Any]) -> str | None:
    """After each logged question: a materialization of ``kept_dataset_questions/<id>`` whose metadata is the
    log's counts (the UI plots numeric metadata over time) and the last question. None, or a note."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    try:
        import dagster as dg

        instance = dg.DagsterInstance.get()
        metadata: dict[str, Any] = {"dataset_id": info.id, **summary}
        metadata["last_question"] = dg.MetadataValue.json(json.loads(json.dumps(last, default=str)))
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey([QUESTIONS_ASSET_PREFIX, info.id]),
                description=f"questions asked of {info.label}",
                metadata=metadata,
            )
        )
        return None
    except Exception as exc:  # the log row is written; the event is a view of it
        return f"the question is logged, but the Dagster event was not reported: {type(exc).__name__}: {exc}"
