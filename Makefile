# egov — the two commands a new machine needs: `make demo` and `make test`.
# Both install what they need (Debian packages, a virtual environment) first.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INVENTORY ?= inventory/lab.yaml
export PYTHONDONTWRITEBYTECODE := 1

# Debian packages the control machine needs: the lab (containers, bridges, firewall, image
# build), and the real tools the tests check generated files and repositories with.
SYSTEM_PACKAGES := python3-venv systemd-container debootstrap util-linux nftables iproute2 \
	e2fsprogs openssh-client apt-utils restic rclone prometheus prometheus-alertmanager \
	prometheus-blackbox-exporter
# What the tests add on the control node: a real PostgreSQL 15 for the restore tests and the
# heartbeat (initdb, pg_ctl, psql), htpasswd for the REST repositories' password files.
TEST_PACKAGES := postgresql-15 postgresql-client-15 apache2-utils

.PHONY: demo test lint unit lab-test system-packages test-packages install clean

# The main job on the lab: bring it up, deploy every host, back up and replicate to the three
# sites, the estate's health, then the quarterly test failover with its report.
demo: install
	$(BIN)/egov inventory validate -i $(INVENTORY)
	$(BIN)/egov lab up -i $(INVENTORY)
	$(BIN)/egov deploy -i $(INVENTORY)
	$(BIN)/egov backup run -i $(INVENTORY)
	$(BIN)/egov backup replicate -i $(INVENTORY)
	$(BIN)/egov backup status -i $(INVENTORY) \
		--state-dir /var/lib/egov/lab/estates/camau-lab/hosts/primary-mon-01/root/var/lib/egov/state
	$(BIN)/egov monitor dashboards -i $(INVENTORY) build/dashboards
	@echo "→ waiting 30 s for the first scrapes"; sleep 30
	$(BIN)/egov monitor status -i $(INVENTORY)
	$(BIN)/egov drill run quarterly-test-failover --mode test -i $(INVENTORY) \
		--reason "make demo" --note "Run by make demo on the lab."
	@echo
	@echo "On each site's monitoring host: Prometheus :9090, Alertmanager :9093,"
	@echo "egov metrics :9640/metrics. Grafana dashboards and provisioning: build/dashboards/"
	@echo "The drill's journal and reports (vi, en; HTML, Markdown) are listed above; all drills: egov drill history"

test: install lint unit lab-test

lint: install
	$(BIN)/ruff check egov tests bench
	$(BIN)/ruff format --check egov tests bench
	$(BIN)/mypy egov

# On every core, a test file to a worker; the lab suites run alone (they share one lab).
unit: install test-packages
	$(BIN)/pytest -q -n auto --dist loadfile tests --ignore=tests/lab --ignore=tests/lab_songxanh

# The end-to-end suite: one lab brought up for the whole session, down at the end. Then a
# second province's lab (inventory/songxanh-lab.yaml), alone, so the two never share the CPUs.
lab-test: install test-packages
	$(BIN)/pytest -q -p no:cacheprovider tests/lab --durations=15
	$(BIN)/pytest -q -p no:cacheprovider tests/lab_songxanh --durations=5

install: system-packages $(STAMP)

# Install the Debian packages named in $(1) that are missing; one apt-get run, root only.
define apt_install
missing=""; for package in $(1); do \
  dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" != 0 ]; then echo "egov: need root to install:$$missing" >&2; exit 2; fi; \
  echo "installing Debian packages:$$missing"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-packages:
	@$(call apt_install,$(SYSTEM_PACKAGES))

test-packages:
	@$(call apt_install,$(TEST_PACKAGES))

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
