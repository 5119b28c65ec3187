# Two commands set up a fresh clone:  `make run`  (every domain, default seed, offline)  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEED ?= 42
export DAGSTER_HOME := $(CURDIR)/.dagster_home
# In-process executor: one process instead of one per step (about 3 s instead of 15 s per group).
IN_PROCESS := {"execution": {"config": {"in_process": {}}}}

COUNT ?= 5000
OUT ?= data/synthetic

.PHONY: run test mutate lint bench dev dev-all seed clean generate generate.raw studio serve

$(BIN)/synth: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,studio]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	ln -sf ../dagster.yaml $@

# The main job: every domain for the default seed into data/ (DuckDB warehouse + exports).
run: $(BIN)/synth $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/synth seed add $(SEED)
	$(BIN)/dagster asset materialize -m synth_pipelines.definitions --select '*' --partition $(SEED) \
		--config-json '$(IN_PROCESS)'
	@echo
	@echo "Done. Exports:   data/exports/<domain>/seed=$(SEED)/"
	@echo "      Catalog:   data/warehouse.duckdb (a schema per group, a view per table over the validated data)"
	@echo "      UI:        make dev   (then open http://127.0.0.1:3000)"

# The CV-log generator's two targets: the clean set, and the clean set with its invalid raw mirror.
generate: | $(BIN)/synth
	$(BIN)/synth cv-logs --count $(COUNT) --seed $(SEED) --no-mirror --out $(OUT)

generate.raw: | $(BIN)/synth
	$(BIN)/synth cv-logs --count $(COUNT) --seed $(SEED) --out $(OUT)

# The relational tests prove the data against a real PostgreSQL and the studio's tests drive a real Chromium:
# install both where possible (as .ci/run does) and then require them; where one cannot be installed, say so
# loudly before and after instead of a quiet skip.
test: $(BIN)/synth
	@required=""; missing=""; \
	if bash scripts/install_postgres.sh; then required="$$required SYNTH_REQUIRE_POSTGRES=1"; \
	else missing="$$missing the-relational-PostgreSQL-proof"; fi; \
	if bash scripts/install_chromium.sh; then required="$$required SYNTH_REQUIRE_BROWSER=1"; \
	else missing="$$missing the-studio-browser-test"; fi; \
	if [ -n "$$missing" ]; then echo "make test: could not install what$$missing needs: it will be SKIPPED" >&2; fi; \
	status=0; env $$required $(BIN)/python -m pytest -q -rs || status=$$?; \
	if [ -n "$$missing" ]; then echo "make test: WARNING: did NOT run:$$missing (install it and rerun)" >&2; fi; \
	exit $$status

# Mutation testing with mutmut ([tool.mutmut] in pyproject.toml: the modules that carry the guarantees and
# the tests that state them). Slow, so outside CI; narrow it with MUTANTS, e.g.
#   make mutate MUTANTS='synth_pipelines.core.ids* synth_pipelines.llm.cache*'
# Results: README "Mutation testing"; `.venv/bin/mutmut show NAME` shows one mutant.
MUTANTS ?=
mutate: $(BIN)/synth
	$(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results

lint: $(BIN)/synth
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/synth
	$(BIN)/python bench/bench_logs.py

# The Dagster UI (http://127.0.0.1:3000). The studio runs beside it: `make serve` (API, :4000) and `make studio`
# (app, :8501) in two more terminals, or all three from one with `make dev-all`. A dataset promoted in the studio
# lands in data/schemas/ and shows up as an asset group here (the studio links to it).
dev: $(BIN)/synth $(DAGSTER_HOME)/dagster.yaml
	@echo "Dagster UI http://127.0.0.1:3000; beside it: make serve (API http://127.0.0.1:4000/docs) and make studio (app http://127.0.0.1:8501), or make dev-all for the three at once"
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The three side by side; Ctrl-C stops them all (the API and the app each run in their own process group).
dev-all: $(BIN)/synth $(DAGSTER_HOME)/dagster.yaml
	@trap 'kill -- -$$serve -$$studio 2>/dev/null' EXIT INT TERM; \
	setsid $(BIN)/synth serve & serve=$$!; \
	setsid $(BIN)/synth studio & studio=$$!; \
	echo "API http://127.0.0.1:4000/docs · studio http://127.0.0.1:8501 · Dagster UI http://127.0.0.1:3000"; \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The studio app (http://127.0.0.1:8501) and its API (http://127.0.0.1:4000, OpenAPI at /docs): docs/api.md.
studio: $(BIN)/synth
	$(BIN)/synth studio

serve: $(BIN)/synth
	$(BIN)/synth serve

seed: $(BIN)/synth $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/synth seed add $(SEED)

clean:
	rm -rf data/exports data/synthetic data/warehouse.duckdb data/warehouse.duckdb.wal
