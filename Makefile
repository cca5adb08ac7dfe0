# Vigie: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test venv models mosquitto chromium lint clean provision-tools wheel image lint-ansible

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

models: venv
	$(BIN)/vigie models fetch

# Mosquitto is installed with apt-get when it is missing and we are root; otherwise the
# demo falls back to the embedded amqtt broker and the tests say what to install.
mosquitto:
	@if command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto; then \
	  echo "mosquitto: found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "mosquitto: installing with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto >/dev/null; \
	else \
	  echo "mosquitto: not installed and not root; install it with: sudo apt-get install mosquitto"; \
	fi

# The browser tests drive Debian's Chromium with Playwright (`playwright install` cannot
# download browsers here); it is installed with apt-get when missing and we are root.
chromium:
	@if command -v chromium >/dev/null || test -x /usr/bin/chromium; then \
	  echo "chromium: found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "chromium: installing with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
	  echo "chromium: not installed and not root; install it with: sudo apt-get install chromium"; \
	fi

demo: venv models
	$(BIN)/vigie demo

lint: venv
	$(BIN)/ruff check edge central tests benchmarks
	$(BIN)/mypy

test: venv mosquitto chromium provision-tools models lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .demo test-output .pytest_cache .mypy_cache .ruff_cache

# -- fleet provisioning (issue 10) --------------------------------------------------------------
# The provisioning tests bootstrap a Debian 12 root filesystem, check nftables rulesets and load
# them in network namespaces: debootstrap, nftables and iproute2 are installed with apt-get when
# missing and we are root (systemd-analyze, from systemd, is used when present).
PROVISION_APT := debootstrap nftables iproute2 zstd
provision-tools:
	@missing=""; for p in $(PROVISION_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then \
	  echo "provision tools: found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "provision tools: installing$$missing with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "provision tools: missing$$missing; install them with: sudo apt-get install$$missing"; \
	fi

# The wheel Ansible installs on boxes and hubs.
wheel: venv
	rm -f dist/vigie-*.whl
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

# The edge box image: Debian 12 + the edge_box role, packed with its sha256 (see images/README.md).
image: venv wheel provision-tools models
	PATH="$(abspath $(BIN)):$$PATH" images/build.sh

lint-ansible: venv
	cd ansible && ../$(BIN)/yamllint -s . && ../$(BIN)/ansible-lint
