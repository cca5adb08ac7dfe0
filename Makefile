# Vigie: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test venv models test-tools provision-tools lint clean wheel image lint-ansible docs translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# The pose model is a data file of the mediapipe wheel: install the wheel alone, no dependencies.
models: venv
	$(BIN)/python -m pip install --quiet --no-deps "mediapipe>=0.10.14,<0.10.15"
	$(BIN)/vigie models fetch

# System packages, installed with apt-get when missing and we are root (otherwise the command
# to run is printed and the tests that need them say so):
# - Mosquitto: the real broker of the tests (the demo falls back to the embedded amqtt broker);
# - nginx: the hub role's reverse proxy, in front of the hub in the login tests;
# - Chromium: the browser tests drive Debian's Chromium with Playwright (`playwright install`
#   cannot download browsers here);
# - iproute2 + nftables: network namespaces, for the network-cut chaos test and the box firewall;
# - debootstrap + zstd: the Debian 12 root filesystem of the provisioning tests and `make image`.
define apt_ensure
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
	  echo "$(2): found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "$(2): installing$$missing with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "$(2): missing$$missing; install with: sudo apt-get install$$missing"; \
	fi
endef

PROVISION_APT := debootstrap nftables iproute2 zstd
TEST_APT := mosquitto chromium nginx $(PROVISION_APT)

test-tools:
	$(call apt_ensure,$(TEST_APT),test system packages)

provision-tools:
	$(call apt_ensure,$(PROVISION_APT),provision tools)

demo: venv models
	$(BIN)/vigie demo

lint: venv
	$(BIN)/ruff check edge central tests benchmarks
	$(BIN)/mypy

test: venv test-tools models lint
	$(BIN)/pytest

# The configuration reference, generated from the box and hub config models.
docs: venv
	$(BIN)/python -m edge.tools.configref -o docs/reference/configuration.md

# The hub's gettext catalogues: new strings added, translations kept, .mo files compiled.
translations: venv
	$(BIN)/python -m central.devtools.catalogue

clean:
	rm -rf $(VENV) .demo test-output .pytest_cache .mypy_cache .ruff_cache

# -- fleet provisioning --------------------------------------------------------------
# The wheel Ansible installs on boxes and hubs.
wheel: venv
	rm -f dist/vigie-*.whl
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

# The edge box image: Debian 12 + the edge_box role, packed with its sha256 (see images/README.md).
image: venv wheel provision-tools models
	PATH="$(abspath $(BIN)):$$PATH" images/build.sh

lint-ansible: venv
	cd ansible && ../$(BIN)/yamllint -s . && ../$(BIN)/ansible-lint
