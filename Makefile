# Vigie: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test venv models mosquitto chromium netns-tools lint clean

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

# The network-cut chaos test runs the agent in a network namespace (iproute2) and cuts its
# link with an nftables drop rule; both are installed with apt-get when missing and we are root.
netns-tools:
	@if command -v ip >/dev/null && command -v nft >/dev/null; then \
	  echo "iproute2, nftables: found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "iproute2, nftables: installing with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 nftables >/dev/null; \
	else \
	  echo "iproute2/nftables: not installed and not root; install them with: sudo apt-get install iproute2 nftables"; \
	fi

demo: venv models
	$(BIN)/vigie demo

lint: venv
	$(BIN)/ruff check edge central tests benchmarks
	$(BIN)/mypy

test: venv mosquitto chromium netns-tools models lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .demo test-output .pytest_cache .mypy_cache .ruff_cache
