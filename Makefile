# The two commands of README.md: `make run` and `make test`. Both work on a machine with only
# Python: without DATABASE_URL they start an embedded PostgreSQL in .data/pg.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
EMBED := $(PY) -m crm.embedded_db run --

.PHONY: run test lint bench install db-stop clean messages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	DEBUG=$${DEBUG:-1} $(EMBED) $(PY) -m crm.devserver --port $(PORT)

test: install
	DEBUG=$${DEBUG:-1} $(EMBED) $(PY) -m pytest $(PYTEST_ARGS)

# The desk's Korean catalogue: extract the messages, then compile them (GNU gettext's msgfmt);
# both files are committed, so `make run` and `make test` need no gettext.
messages: install
	DEBUG=1 $(EMBED) sh -c '$(PY) manage.py makemessages -l ko --ignore=.venv --ignore=.data --ignore=bench --ignore=tests --no-location && $(PY) manage.py compilemessages -l ko --ignore=.venv'

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=1 $(EMBED) sh -c '$(VENV)/bin/mypy . && $(PY) manage.py makemigrations --check --dry-run && $(PY) manage.py check'

# Seeds crm_bench, measures, and writes the report to bench/results/<date>-<commit>.md.
bench: install
	DEBUG=$${DEBUG:-1} $(EMBED) $(PY) -m bench.run $(BENCH_ARGS)

db-stop: install
	$(PY) -m crm.embedded_db stop

clean: db-stop
	rm -rf .data
