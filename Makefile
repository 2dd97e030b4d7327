# The README's two commands. Both bootstrap .venv themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
GATEWAY_SANDBOX ?= 1
GATEWAY_PUBLIC_URL ?= http://$(HOST):$(PORT)
export GATEWAY_SANDBOX GATEWAY_PUBLIC_URL
# The operator console needs an admin key: `make run` makes one up for this run unless you set your own.
ifndef GATEWAY_ADMIN_KEYS
SANDBOX_ADMIN_KEY := $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(18))')
GATEWAY_ADMIN_KEYS := sandbox=$(SANDBOX_ADMIN_KEY)
endif
export GATEWAY_ADMIN_KEYS

TRY_ORDER := \"amount\":2856,\"currency\":\"CAD\",\"subject\":\"Coffee\",\"body\":\"1kg\"

.PHONY: run test lint bench mutate clean scaffold-template

PLUGINS := plugins/iotpay plugins/stripe

# The built-in providers are distributions of their own, installed exactly as a third party's plugin is.
$(STAMP): setup.cfg pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]' $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gateway db upgrade
	@echo
	@echo "gateway on http://$(HOST):$(PORT) (sandbox=$(GATEWAY_SANDBOX): IOTPay and Stripe are built-in simulators)"
	@echo "Try one order of each kind: POST it, do what its next_action says, then GET it until status is paid."
	@echo "  curl -s -X POST http://$(HOST):$(PORT)/v1/orders -H 'Content-Type: application/json' -d '<one of these>'"
	@echo "  app SDK      {\"channel\":\"WX_APP\",$(TRY_ORDER)}"
	@echo "               next_action.params go to the app's SDK; pay: curl -s -X POST http://$(HOST):$(PORT)/sandbox/iotpay/pay -d payOrderId=<provider_order_id>"
	@echo "  QR code      {\"channel\":\"WX_NATIVE\",$(TRY_ORDER)}"
	@echo "               open next_action.data in a browser (the wallet's page, with the code) and press Pay;"
	@echo "               the code as an image: http://$(HOST):$(PORT)/v1/orders/<id>/qr_code (or ?format=png)"
	@echo "  redirect     {\"channel\":\"ALIPAY_PC\",\"return_url\":\"http://$(HOST):$(PORT)/docs\",$(TRY_ORDER)}"
	@echo "               open next_action.url, press Pay: the browser comes back to return_url; the notify pays the order"
	@echo "  mini program {\"channel\":\"WX_JSAPI\",\"provider_options\":{\"open_id\":\"o1\",\"app_id\":\"wx1\"},$(TRY_ORDER)}"
	@echo "               next_action.params go to wx.requestPayment; pay as for the app SDK"
	@echo "  then         curl -s http://$(HOST):$(PORT)/v1/orders/<id>      # status: paid"
	@echo
	@echo "API docs:         http://$(HOST):$(PORT)/docs"
	@echo "operator console: http://$(HOST):$(PORT)/console/   admin key: $(or $(SANDBOX_ADMIN_KEY),yours (GATEWAY_ADMIN_KEYS))"
	@echo
	$(BIN)/gateway run --bind $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy
	PYTHONPATH=examples/gateway-example-provider $(BIN)/lint-imports

# Ratios against baselines measured in the same run (bench/README.md). BENCH_SMOKE=1: seconds, checks only.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "bench: wrk could not be installed; the Python load generator drives the servers instead"
	$(BIN)/python -m bench.run

# How many bugs the conformance kit notices, per plugin: every mutant of the example and both built-in providers,
# each judged by that plugin's kit run alone (hours on two cores: mutation/README.md has the last result).
# MUTATE_ARGS narrows it, e.g. MUTATE_ARGS="--plugin example --sample 20 --budget 300" (what CI runs).
mutate: $(STAMP)
	$(BIN)/python -m mutation.run $(MUTATE_ARGS)

# The scaffold's template is the example with its names as tokens: write it again after changing the example.
scaffold-template: $(STAMP)
	$(BIN)/python -c 'from pathlib import Path; from gateway.scaffold import write_template; write_template(Path("examples/gateway-example-provider"))'

clean:
	rm -rf $(VENV) instance .pytest_cache
