"""The studio app (Streamlit): **Data Generation** and **Talk to your data**.

Widgets and layout only: every action is one call into ``service.py`` (the same functions the API
serves). Every ``StudioError`` or unexpected failure is shown as a message in the page, never a traceback.
Run it with ``synth studio`` (or ``make studio``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from synth_pipelines.studio import service
from synth_pipelines.studio.service import GenerateJob, ModifyRequest, StudioError

PREVIEW_ROWS = 10
ANSWER_ROWS = 50
PAGES = ("Data Generation", "Talk to your data")


def guarded(action: Callable[[], Any]) -> Any:
    """Run one service call; a failure becomes a message in the page."""
    try:
        return action()
    except StudioError as exc:
        st.error(str(exc))
    except Exception as exc:  # shown, not raised: the page must never turn into a traceback
        st.error(f"Something went wrong: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return None


def table_of(columns: list[str], rows: list[list[Any]]) -> None:
    """A small HTML table (readable and selectable in the page, unlike the canvas data grid)."""
    import pandas as pd

    st.table(pd.DataFrame(rows, columns=columns))


def parse_table_rows(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, number = part.partition("=")
        if not number.strip().isdigit():
            raise StudioError(f"per-table rows: {part!r} is not TABLE=N", 400)
        found[name.strip()] = int(number)
    return found


# --------------------------------------------------------------------------------------------------
# Data Generation


def generation_settings(config: dict[str, Any]) -> dict[str, Any]:
    st.sidebar.subheader("Configuration")
    provider = st.sidebar.selectbox("Provider", ["offline"], help="LLM providers arrive with the ask/feedback work")
    st.sidebar.text_input("Model", value=str(config.get("model") or "offline"), disabled=True)
    st.sidebar.slider("Temperature", 0.0, 1.0, 0.0, disabled=provider == "offline")
    seed = st.sidebar.number_input("Seed", min_value=0, value=42, step=1)
    rows = st.sidebar.number_input(
        "Rows per table", min_value=0, max_value=config["maxRowsPerTable"], value=config["defaultNumRecords"]
    )
    table_rows = st.sidebar.text_input("Per-table rows", placeholder="loans=300,reviews=200")
    ai = st.sidebar.toggle("AI hybrid", value=False, disabled=not config["aiEnabled"], help="needs a provider")
    return {"seed": int(seed), "rows": int(rows), "table_rows": table_rows, "ai": ai}


def generation_form(config: dict[str, Any], options: dict[str, Any]) -> None:
    st.header("Data Generation")
    source = st.radio("Schema", ["Upload a DDL", "Sample schema"], horizontal=True)
    ddl: str | None = None
    sample: str | None = None
    filename = "upload.sql"
    if source == "Upload a DDL":
        uploaded = st.file_uploader("DDL file", type=["sql", "ddl", "txt"])
        if uploaded is not None:
            filename = uploaded.name
            ddl = uploaded.getvalue().decode("utf-8", errors="replace")
            parsed = guarded(lambda: service.parse_ddl_upload(uploaded.getvalue(), uploaded.name))
            if parsed:
                st.caption(
                    f"{len(parsed['tables'])} tables ({parsed['dialect']}), insert order: "
                    + " → ".join(parsed["insertOrder"])
                )
    else:
        sample = st.selectbox("Sample schema", config["samples"])
    dialect = st.selectbox("Dialect", ["detect", "postgres", "mysql", "sqlite"])
    instructions = st.text_area("Instructions", placeholder="Used by the AI hybrid (needs a provider)")
    name = st.text_input("Dataset name (optional)")
    if st.button("Generate", type="primary", disabled=ddl is None and sample is None):
        job = guarded(
            lambda: GenerateJob(
                ddl=ddl,
                sample=sample,
                filename=filename,
                dialect=None if dialect == "detect" else dialect,
                seed=options["seed"],
                rows=options["rows"],
                table_rows=parse_table_rows(options["table_rows"]),
                instructions=instructions or None,
                ai=options["ai"],
                name=name or None,
            )
        )
        if job is not None:
            run_generation(job)


def run_generation(job: GenerateJob) -> None:
    status = st.status("Generating…", expanded=True)
    bars: dict[str, Any] = {}

    def on_event(event: str, payload: dict[str, Any]) -> None:
        if event == "schema:parsed":
            for table in payload["insertOrder"]:
                bars[table] = status.progress(0.0, text=f"{table}: waiting")
        elif event in ("table:progress", "table:complete"):
            total = payload["rows"]
            done = payload.get("rowsDone", payload["rows"])
            share = 1.0 if not total else min(1.0, done / total)
            label = "done" if event == "table:complete" else f"{done:,}/{total:,} rows"
            bars[payload["table"]].progress(share, text=f"{payload['table']}: {label}")

    result = guarded(lambda: service.generate(job, on_event))
    if result is None:
        status.update(label="Generation failed", state="error")
        return
    status.update(label=f"Generated {result['datasetId']}", state="complete", expanded=False)
    st.session_state["dataset_id"] = result["datasetId"]
    st.session_state.pop("last_edit", None)


def dataset_view(dataset_id: str) -> None:
    dataset = guarded(lambda: service.get_dataset(dataset_id))
    if dataset is None:
        return
    label = f"{dataset['id']} ({dataset['name']})" if dataset["name"] else dataset["id"]
    st.subheader(f"Dataset {label}: version {dataset['currentVersion']}")
    validation_view(dataset["validation"])
    previews(dataset)
    with st.expander("Generation spec (YAML)"):
        st.code(dataset["spec"], language="yaml")
    modification(dataset)
    st.markdown("**Version history**")
    table_of(
        ["version", "kind", "when", "what changed"],
        [[v["version"], v["kind"], v["createdAt"][:19], v["summary"]] for v in dataset["versions"]],
    )
    downloads(dataset)


def validation_view(validation: dict[str, Any]) -> None:
    if validation["ok"]:
        st.success(
            f"Validation passed: {validation['checked']} constraints and rules checked "
            f"over {sum(validation['rows'].values()):,} rows, 0 violations."
        )
        return
    lines = [f"- {f['table']}: {f['constraint']}: {f['violations']} rows" for f in validation["failing"]]
    st.error("Validation failed:\n" + "\n".join(lines))


def previews(dataset: dict[str, Any]) -> None:
    st.markdown("**Tables**")
    names = list(dataset["tables"])
    for name, tab in zip(names, st.tabs(names), strict=True):
        with tab:
            total = dataset["tables"][name]
            pages = max(1, -(-total // PREVIEW_ROWS))
            page = st.number_input(f"Page of {name}", 1, pages, 1, key=f"page-{dataset['id']}-{name}")
            data = guarded(
                lambda n=name, p=page: service.get_dataset(dataset["id"], True, int(p), PREVIEW_ROWS, n)["data"][n]
            )
            if data:
                st.caption(f"{name}: {total:,} rows, page {data['page']} of {data['pages']}")
                table_of(data["columns"], data["rows"])


def modification(dataset: dict[str, Any]) -> None:
    st.markdown("**Modify**")
    mode = st.radio("Edit with", ["SQL", "Feedback (needs a provider)"], horizontal=True, key="edit-mode")
    text = st.text_area(
        "Edit",
        key="edit-text",
        placeholder="UPDATE members SET tier = 'premium' WHERE member_id % 10 < 3\n(one statement per line)",
    )
    if st.button("Submit edit"):
        submit_edit(dataset["id"], mode, text)
    edit = st.session_state.get("last_edit")
    if edit and edit["datasetId"] == dataset["id"]:
        diff_view(edit)
        keep, undo_col = st.columns(2)
        if keep.button(f"Keep version {edit['version']}"):
            st.session_state.pop("last_edit")
            st.toast(f"Kept version {edit['version']}")
            st.rerun()
        if undo_col.button("Undo this edit"):
            undone = guarded(lambda: service.undo(dataset["id"]))
            if undone is not None:
                st.session_state.pop("last_edit")
                st.session_state["undone"] = undone
                st.rerun()
    undone = st.session_state.pop("undone", None)
    if undone:
        st.info(f"Undone: version {undone['version']} restores version {undone['plan']['restores']}.")


def submit_edit(dataset_id: str, mode: str, text: str) -> None:
    if not text.strip():
        st.warning("Write the edit first.")
        return
    if mode == "SQL":
        request = ModifyRequest(sql=[line for line in text.splitlines() if line.strip()])
    else:
        request = ModifyRequest(feedback=text)
    outcome = guarded(lambda: service.modify(dataset_id, request))
    if outcome is not None:
        st.session_state["last_edit"] = outcome
        st.rerun()


def diff_view(edit: dict[str, Any]) -> None:
    st.info(f"Version {edit['version']}: {edit['summary']}")
    rows = [[n, t["added"], t["changed"], t["deleted"]] for n, t in edit["diff"]["tables"].items()]
    table_of(["table", "added", "changed", "deleted"], rows)
    for name, entry in edit["diff"]["tables"].items():
        changed = entry.get("samples", {}).get("changed") or []
        if changed:
            st.caption(f"{name}: changed rows, before → after")
            columns = list(changed[0]["before"])
            rows = []
            for pair in changed:
                rows += [["before", *pair["before"].values()], ["after", *pair["after"].values()]]
            table_of(["", *columns], rows)


def downloads(dataset: dict[str, Any]) -> None:
    csv_zip = guarded(lambda: service.export_zip(dataset["id"]))
    parquet_zip = guarded(lambda: service.export_zip(dataset["id"], fmt="parquet"))
    left, right = st.columns(2)
    if csv_zip is not None:
        left.download_button(
            "Download ZIP (CSV)", csv_zip, f"{dataset['id']}.zip", "application/zip", on_click="ignore"
        )  # no rerun: a rerun would replace the file while the browser is still fetching it
    if parquet_zip is not None:
        right.download_button(
            "Download ZIP (Parquet)", parquet_zip, f"{dataset['id']}-parquet.zip", "application/zip", on_click="ignore"
        )


# --------------------------------------------------------------------------------------------------
# Talk to your data


CATALOG_WORDS = ("tables", "describe", "sample")


def talk() -> None:
    st.header("Talk to your data")
    datasets = guarded(service.list_datasets) or []
    if not datasets:
        st.info("No kept dataset yet: generate one in Data Generation.")
        return
    labels = {f"{d['id']} ({d['name']})" if d["name"] else d["id"]: d["id"] for d in reversed(datasets)}
    dataset_id = labels[st.selectbox("Dataset", list(labels))]
    st.caption("Offline, ask in SQL (one SELECT), or: tables · describe TABLE · sample TABLE")
    history: list[dict[str, Any]] = st.session_state.setdefault(f"chat-{dataset_id}", [])
    prompt = st.chat_input("SELECT ... or 'tables'")
    if prompt:
        is_catalog = prompt.strip().split()[0].lower() in CATALOG_WORDS
        try:
            answer = service.ask(dataset_id, None if is_catalog else prompt, prompt if is_catalog else None)
            history.append({"prompt": prompt, "answer": answer})
        except StudioError as exc:
            history.append({"prompt": prompt, "refused": str(exc)})
        except Exception as exc:  # shown, never a traceback
            history.append({"prompt": prompt, "refused": f"{type(exc).__name__}: {exc}"})
    for turn in history:
        with st.chat_message("user"):
            st.write(turn["prompt"])
        with st.chat_message("assistant"):
            if "refused" in turn:
                st.warning(f"Not answered: {turn['refused']}")
                continue
            answer = turn["answer"]
            shown = answer["rows"][:ANSWER_ROWS]
            more = " (truncated by the row cap)" if answer["truncated"] else ""
            st.caption(f"{len(answer['rows'])} rows{more}; showing {len(shown)}")
            table_of(answer["columns"], shown)
            if answer["sql"]:
                with st.expander("SQL", expanded=True):
                    st.code(answer["sql"], language="sql")


# --------------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="synth studio", layout="wide")
    st.sidebar.title("synth studio")
    page = st.sidebar.radio("Page", PAGES, label_visibility="collapsed")
    config = guarded(service.config)
    if config is None:
        return
    if page == PAGES[0]:
        options = generation_settings(config)
        generation_form(config, options)
        if "dataset_id" in st.session_state:
            dataset_view(st.session_state["dataset_id"])
    else:
        talk()


main()
