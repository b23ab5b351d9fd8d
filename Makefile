# The two commands the README promises: `make demo` and `make test`.
# Both build .venv from pyproject.toml first; nothing else needs installing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test demo bench clean aws-install browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# The operator page's browser tests drive Debian's chromium through chromedriver (CI runs as root and
# reaches Debian's archive). Nothing to do when both are there; without root, say what to run instead.
CHROMIUM_PACKAGES := chromium chromium-driver
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
		echo "browser: chromium and chromedriver are installed"; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "browser: chromium/chromedriver missing and not root, so not installed here:" \
			"run 'sudo apt-get install -y $(CHROMIUM_PACKAGES)' (the operator page's tests need them)"; \
	else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CHROMIUM_PACKAGES); \
	fi

demo: $(STAMP)
	$(BIN)/flowdrop demo

bench: $(STAMP)
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/local_runtime.py
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/triggers.py

clean:
	rm -rf $(VENV) .flowdrop .pytest_cache

# Install the deployer on AWS: the README's two commands, for one stage.
#   make aws-install STAGE=dev ARTIFACTS=my-bucket SUBNETS=subnet-1,subnet-2 SECURITY_GROUPS=sg-1 TOKEN=secret
STAGE ?= dev
STACK ?= flowdrop-$(STAGE)
aws-install: $(STAMP)
	@test -n "$(ARTIFACTS)" -a -n "$(SUBNETS)" -a -n "$(SECURITY_GROUPS)" -a -n "$(TOKEN)" || \
		{ echo "aws-install needs ARTIFACTS, SUBNETS, SECURITY_GROUPS and TOKEN (see README: Installing)"; exit 2; }
	$(BIN)/chalice package --stage $(STAGE) --merge-template .chalice/resources.json out/$(STAGE)/
	aws cloudformation package --template-file out/$(STAGE)/sam.json --s3-bucket $(ARTIFACTS) \
		--output-template-file out/$(STAGE)/packaged.yaml
	aws cloudformation deploy --template-file out/$(STAGE)/packaged.yaml --stack-name $(STACK) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--parameter-overrides Stage=$(STAGE) Subnets=$(SUBNETS) SecurityGroups=$(SECURITY_GROUPS) \
		ApiTokenHashes=$$(printf %s "$(TOKEN)" | sha256sum | cut -d' ' -f1)
	FLOWDROP_API_TOKEN=$(TOKEN) $(BIN)/flowdrop aws config --stack $(STACK)
