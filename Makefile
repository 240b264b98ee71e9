# egov — the two commands a new machine needs: `make demo` and `make test`.
# Both install what they need (Debian packages, a virtual environment) first.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INVENTORY ?= inventory/lab.yaml
export PYTHONDONTWRITEBYTECODE := 1

# Debian packages the tests and the demo need on the control machine.
SYSTEM_PACKAGES := python3-venv

.PHONY: demo test lint unit system-packages install clean

demo: install
	$(BIN)/egov inventory validate -i $(INVENTORY)
	$(BIN)/egov inventory show -i $(INVENTORY)

test: install lint unit

lint: install
	$(BIN)/ruff check egov tests bench
	$(BIN)/ruff format --check egov tests bench
	$(BIN)/mypy egov

unit: install
	$(BIN)/pytest -q tests --ignore=tests/lab

install: $(STAMP)

$(STAMP): pyproject.toml
	$(MAKE) system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-packages:
	@missing=""; for package in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "egov: need root to install:$$missing" >&2; exit 2; fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
