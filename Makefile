# CryptoViz: `make up` runs the whole platform locally, `make test` runs the full suite.
# Both install what is missing first (idempotently): Debian packages, a .venv, pinned Python packages.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# `apt-get install` of the Debian packages named after it that are missing, after one update; "java"
# is the first headless Java runtime Spark runs on that the archive has (Debian 12: 17; 13: 21),
# "chromium" the archive's name for it (Debian: chromium; Ubuntu: chromium-browser)
APT_INSTALL = if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq || exit 1; \
	  has() { apt-cache show "$$1" >/dev/null 2>&1; }; \
	  pkgs=""; for p in $$missing; do \
	    case $$p in \
	      java) for j in openjdk-17-jre-headless openjdk-21-jre-headless; do has $$j && { p=$$j; break; }; done ;; \
	      chromium) has chromium || p=chromium-browser ;; \
	    esac; pkgs="$$pkgs $$p"; \
	  done; \
	  echo "installing Debian packages:$$pkgs"; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$pkgs || exit 1; \
	fi
PYTEST_ARGS ?=
# the suite's processes: most of its time is waiting on real servers, not the CPU
TEST_WORKERS ?= 2

.PHONY: install system-packages test-packages up down status test test-compose lint format bench bench-docs models-docs clean

install: system-packages $(STAMP)
	@$(BIN)/python -m cryptoviz.models.build_core
	@$(BIN)/python -m cryptoviz.lake.cds

# Debian packages the platform needs, installed only when missing: Redis, Java for Spark, a C
# compiler and Python's headers for the model core, Python's venv for .venv.
system-packages:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	(command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -q -E 'version "(1[7-9]|2[0-9])') || missing="$$missing java"; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc"; \
	command -v g++ >/dev/null 2>&1 || missing="$$missing g++"; \
	version=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	$(PYTHON) -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
	  || missing="$$missing python$$version-dev"; \
	$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python$$version-venv"; \
	$(APT_INSTALL)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'

# The suite's own: Chromium for the browser tests, Prometheus for the metrics test (`make up` needs
# neither). The service Debian's prometheus package starts, listening on every interface, is
# stopped and disabled when it is installed here: the test starts its own on 127.0.0.1.
test-packages:
	@missing=""; \
	(command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1) || missing="$$missing chromium"; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	$(APT_INSTALL); \
	if [[ "$$missing" == *prometheus* ]] && [ -d /run/systemd/system ]; then \
	  $(SUDO) systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true; \
	fi

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)  # a venv made without pip is made again
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[all]'
	@touch $(STAMP)

up: install
	$(BIN)/cryptoviz up

down:
	@if [ -x $(BIN)/cryptoviz ]; then $(BIN)/cryptoviz down; else echo "nothing installed, nothing running"; fi

status: install
	$(BIN)/cryptoviz status

# Two passes: everything in TEST_WORKERS processes (a module stays in one; modules with the most
# tests go first, so the one-test chaos module starts near the end, beside little else), then the
# tests that assert a time budget, one at a time with the machine to themselves. Exit 5: none selected.
test: install test-packages lint
	$(BIN)/python -m pytest --ignore=tests/compose -m "not alone" -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS) || [ $$? = 5 ]
	$(BIN)/python -m pytest --ignore=tests/compose -m alone $(PYTEST_ARGS) || [ $$? = 5 ]

# The platform in containers: Docker engine, images (stand-ins where no registry answers), tests/compose.
test-compose: install test-packages
	tests/compose/run.sh

# ruff, then mypy over the package, the dashboard and tests, the benches, and each service's entry
# point on its own (they are all called main.py), then the package's layering contract
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy cryptoviz dashboard tests
	$(BIN)/mypy bench
	@for svc in scraper ml-processor spark-streaming monitor; do $(BIN)/mypy $$svc/main.py || exit 1; done
	$(BIN)/python -m cryptoviz.testing.layers

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every bench (each starts the servers it needs and records its JSON line in bench/results/), then
# the docs generated from the results. bare_consumer.py is a helper the latency benches run.
BENCHES := ml_throughput ml_pipeline ml_latency e2e_latency stack_latency scraper_publish stream_source \
	lake_throughput lake_query lake_month dashboard_read stack_memory stack_idle peer_quixstreams fetch_wait \
	group_restart stream_memory
bench: install
	@set -e; for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py; done
	@$(MAKE) --no-print-directory bench-docs

bench-docs:
	$(BIN)/python -m cryptoviz.testing.benchdoc

# The model tables of docs/models/, at the two cadences the platform sees: hourly rows (the replay,
# the warm start) and minute quotes (a live poll a minute)
models-docs: install
	$(BIN)/cryptoviz backtest --markdown docs/models/hourly.md
	$(BIN)/cryptoviz backtest --data data/binance_1m_20260323_20260422.csv.gz --markdown docs/models/minute.md

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
