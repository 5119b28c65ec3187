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
from synth_pipelines.studio.service import AskRequest, GenerateJob, ModifyRequest, ProviderChoice, StudioError

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


def provider_settings(config: dict[str, Any]) -> ProviderChoice:
    """The provider for AI generation, feedback edits and questions in words: offline, or the one the server
    is configured with. The key stays in the server's environment and is never shown."""
    st.sidebar.subheader("Provider")
    offered = ["offline"] if config["provider"] == "offline" else ["offline", config["provider"]]
    provider = st.sidebar.radio("Provider", offered, horizontal=True, key="provider", label_visibility="collapsed")
    offline = provider == "offline"
    model = st.sidebar.text_input("Model", value=str(config.get("model") or ""), disabled=offline, key="model")
    temperature = st.sidebar.slider("Temperature", 0.0, 2.0, 0.0, 0.1, disabled=offline, key="temperature")
    base_url = st.sidebar.text_input(
        "Base URL", value="", placeholder="the server's", disabled=offline, key="base_url",
        help="the server's own, or one of SYNTH_STUDIO_LLM_BASE_URLS (the key is only sent there)",
    )  # fmt: skip
    if config["provider"] == "offline":
        st.sidebar.caption("No provider is configured (SYNTH_LLM_PROVIDER and its key where the studio runs).")
    else:
        st.sidebar.caption(f"API key: {'set' if config['apiKeySet'] else 'not set'} in the studio's environment.")
    if offline:
        return ProviderChoice(provider="offline")
    return ProviderChoice(provider=provider, model=model or None, temperature=temperature, base_url=base_url or None)


def generation_settings(config: dict[str, Any], llm: ProviderChoice) -> dict[str, Any]:
    st.sidebar.subheader("Configuration")
    seed = st.sidebar.number_input("Seed", min_value=0, value=42, step=1)
    rows = st.sidebar.number_input(
        "Rows per table", min_value=0, max_value=config["maxRowsPerTable"], value=config["defaultNumRecords"]
    )
    table_rows = st.sidebar.text_input("Per-table rows", placeholder="loans=300,reviews=200")
    ai = st.sidebar.toggle(
        "AI hybrid", value=False, disabled=llm.provider == "offline", help="one spec-patch request per table"
    )
    return {"seed": int(seed), "rows": int(rows), "table_rows": table_rows, "ai": ai, "llm": llm}


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
                llm=options["llm"],
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
    st.session_state.pop("ai_note", None)
    if "ai" in result:
        ai = result["ai"]
        st.session_state["ai_note"] = (
            f"AI hybrid ({ai['model']}): {ai['applied']} tables patched, {ai['fallback']} kept the inferred spec."
        )
    st.session_state["dataset_id"] = result["datasetId"]
    st.session_state.pop("last_edit", None)


def dataset_view(dataset_id: str, llm: ProviderChoice) -> None:
    dataset = guarded(lambda: service.get_dataset(dataset_id))
    if dataset is None:
        return
    label = f"{dataset['id']} ({dataset['name']})" if dataset["name"] else dataset["id"]
    st.subheader(f"Dataset {label}: version {dataset['currentVersion']}")
    if st.session_state.get("ai_note"):
        st.caption(st.session_state["ai_note"])
    validation_view(dataset["validation"])
    previews(dataset)
    spec_editor(dataset)
    modification(dataset, llm)
    st.markdown("**Version history**")
    table_of(
        ["version", "kind", "when", "what changed"],
        [[v["version"], v["kind"], v["createdAt"][:19], v["summary"]] for v in dataset["versions"]],
    )
    downloads(dataset)
    promotion(dataset)


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


def spec_editor(dataset: dict[str, Any]) -> None:
    """The spec the version was drawn with, editable; regenerating from it makes a new dataset (same DDL and
    seed). A spec that does not parse or fit the schema is refused with one line."""
    with st.expander("Generation spec (YAML): edit and regenerate"):
        text = st.text_area("Spec (YAML)", value=dataset["spec"], height=300, key=f"spec-{dataset['id']}")
        if st.button("Regenerate from this spec"):
            job = guarded(
                lambda: GenerateJob(
                    ddl=dataset["ddl"],
                    filename=dataset.get("ddlFile") or "schema.sql",
                    dialect=dataset["dialect"],
                    seed=dataset["seed"],
                    spec=text,
                    name=dataset["name"],
                )
            )
            if job is not None:
                run_generation(job)
                if st.session_state.get("dataset_id") != dataset["id"]:  # the new dataset replaces this view
                    st.rerun()


def promotion(dataset: dict[str, Any]) -> None:
    st.markdown("**Promote to the Dagster project**")
    st.caption(
        "Writes the DDL and this version's spec to data/schemas/: the dataset becomes a seed-partitioned asset "
        "group, regenerated by the nightly schedule (SQL row edits are not part of it)."
    )
    left, right = st.columns([3, 1])
    name = left.text_input("Group name", value=dataset["name"] or dataset["id"], key=f"group-{dataset['id']}")
    if right.button("Promote"):
        promoted = guarded(lambda: service.promote(dataset["id"], name or None))
        if promoted is not None:
            st.session_state["promoted"] = promoted
    promoted = st.session_state.get("promoted")
    if promoted and promoted["datasetId"] == dataset["id"]:
        st.success(
            f"Promoted to asset group `{promoted['group']}` ({promoted['ddlFile']}). "
            f"[Open {promoted['group']} in the Dagster UI]({promoted['dagsterUrl']})"
        )


def modification(dataset: dict[str, Any], llm: ProviderChoice) -> None:
    st.markdown("**Modify**")
    mode = st.radio("Edit with", ["SQL", "Feedback"], horizontal=True, key="edit-mode")
    text = st.text_area(
        "Edit",
        key="edit-text",
        placeholder="UPDATE members SET tier = 'premium' WHERE member_id % 10 < 3\n(one statement per line)",
    )
    if mode == "Feedback" and llm.provider == "offline":
        st.caption("Feedback goes through the provider: choose it in the sidebar.")
    if st.button("Submit edit"):
        submit_edit(dataset["id"], mode, text, llm)
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


def submit_edit(dataset_id: str, mode: str, text: str, llm: ProviderChoice) -> None:
    if not text.strip():
        st.warning("Write the edit first.")
        return
    if mode == "SQL":
        request = ModifyRequest(sql=[line for line in text.splitlines() if line.strip()])
    else:
        request = ModifyRequest(feedback=text, llm=llm)
    outcome = guarded(lambda: service.modify(dataset_id, request))
    if outcome is not None:
        st.session_state["last_edit"] = outcome
        st.rerun()


def diff_view(edit: dict[str, Any]) -> None:
    st.info(f"Version {edit['version']}: {edit['summary']}")
    if edit.get("explanation"):
        st.caption(f"The model's edit: {edit['explanation']}")
        with st.expander("The model's plan", expanded=False):
            st.json(edit["edit"])
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


# A prompt starting with a SQL keyword is SQL (the gate answers, refusing all but one SELECT); anything else is
# a question in words (through the provider) or a catalog question.
SQL_WORDS = frozenset((
    "select", "with", "insert", "update", "delete", "drop", "create", "alter", "copy", "attach", "detach", "pragma",
    "set", "call", "export", "import", "install", "load", "truncate", "merge",
))  # fmt: skip


def talk(llm: ProviderChoice) -> None:
    st.header("Talk to your data")
    datasets = guarded(service.list_datasets) or []
    if not datasets:
        st.info("No kept dataset yet: generate one in Data Generation.")
        return
    labels = {f"{d['id']} ({d['name']})" if d["name"] else d["id"]: d["id"] for d in reversed(datasets)}
    dataset_id = labels[st.selectbox("Dataset", list(labels))]
    if llm.provider == "offline":
        st.caption("Offline, ask in SQL (one SELECT), or: tables · describe TABLE · sample TABLE")
    else:
        st.caption(f"Ask in words ({llm.provider}), in SQL (one SELECT), or: tables · describe TABLE · sample TABLE")
    history: list[dict[str, Any]] = st.session_state.setdefault(f"chat-{dataset_id}", [])
    prompt = st.chat_input("Ask a question, SELECT ..., or 'tables'")
    if prompt:
        is_sql = prompt.strip().split()[0].lower().rstrip(";") in SQL_WORDS
        # A follow-up continues the conversation of the last question in words.
        conversation = next((t["answer"].get("conversation") for t in reversed(history) if t.get("words")), None)
        request = AskRequest(sql=prompt) if is_sql else AskRequest(question=prompt, llm=llm, conversation=conversation)
        try:
            answer = service.ask(dataset_id, request)
            history.append({"prompt": prompt, "answer": answer, "words": not is_sql and bool(answer["explanation"])})
        except StudioError as exc:
            history.append({"prompt": prompt, "refused": str(exc)})
        except Exception as exc:  # shown, never a traceback
            history.append({"prompt": prompt, "refused": f"{type(exc).__name__}: {exc}"})
    for turn in history:
        with st.chat_message("user"):
            st.write(turn["prompt"])
        with st.chat_message("assistant"):
            answer_view(turn)


def answer_view(turn: dict[str, Any]) -> None:
    if "refused" in turn:
        st.warning(f"Not answered: {turn['refused']}")
        return
    answer = turn["answer"]
    if answer["outcome"] != "answered":
        st.warning(f"Not answered: {answer['reason']}")
    else:
        if answer["summary"]:
            st.write(answer["summary"])
        shown = answer["rows"][:ANSWER_ROWS]
        more = " (truncated by the row cap)" if answer["truncated"] else ""
        st.caption(f"{len(answer['rows'])} rows{more}; showing {len(shown)}")
        table_of(answer["columns"], shown)
        if answer["chart"]:
            st.vega_lite_chart(answer["chart"], use_container_width=False)
    if answer["sql"]:
        label = "SQL" if answer["outcome"] == "answered" else "SQL (the model's; not run)"
        with st.expander(label, expanded=True):
            st.code(answer["sql"], language="sql")


# --------------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="synth studio", layout="wide")
    st.sidebar.title("synth studio")
    page = st.sidebar.radio("Page", PAGES, label_visibility="collapsed")
    config = guarded(service.config)
    if config is None:
        return
    llm = provider_settings(config)
    if page == PAGES[0]:
        options = generation_settings(config, llm)
        generation_form(config, options)
        if "dataset_id" in st.session_state:
            dataset_view(st.session_state["dataset_id"], llm)
    else:
        talk(llm)


main()
