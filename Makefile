# The two commands a newcomer needs:
#   make run    the whole system locally (Azurite, MailDev, the API on :7071)
#   make test   the whole suite, against real Azurite and a real SMTP catcher
# Both install what they need: npm tools into tools/node_modules, Go modules.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
BUILD    := build
STAGE    := $(BUILD)/app
BINARY   := $(BUILD)/handler
TOOLS    := tools/node_modules/.installed
GOFILES  := $(shell find . -name '*.go' -not -path './tools/*' -not -path './build/*')
# The deploy package: the static linux/amd64 binary the Functions host runs,
# staged with host.json and one folder per function (function.json only).
LINUX_BIN := $(BUILD)/linux-amd64/handler
PACKAGE   := $(BUILD)/app.zip
FUNCTIONS := $(wildcard functions/*/function.json)
# zip keeps the execute bit; without it a small Go zipper does the same.
ZIPPER   ?= $(shell command -v zip)
# Against Azure: RG=<resource group> makes bootstrap-admin, sweep, audit-verify and privacy-record use the
# deployed app's settings (scripts/azure-env.sh) and your az login.
AZURE_ENV = $(if $(RG),scripts/azure-env.sh '$(RG)')
PARAMS   ?= infra/main.bicepparam
# Fuzz targets of the decoders that take outside input, as package:FuzzName
# (go test fuzzes one target per run). Seeds and crashers: <package>/testdata/fuzz.
FUZZ_TARGETS := ./handlers:FuzzDecodeBody ./handlers:FuzzUnwrap ./handlers:FuzzInvocation \
	./internal/delivery:FuzzDecodeMessage ./internal/accounts:FuzzListCursor \
	./internal/tablestore:FuzzAuditCursor ./internal/passwords:FuzzParsePHC ./internal/schedule:FuzzParse \
	./internal/accounts:FuzzCanonicalEmail ./internal/tablestore:FuzzDirectoryPosition
FUZZTIME ?= 1m

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

$(TOOLS): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: tools
tools: $(TOOLS) ## install Azurite and MailDev from npm into tools/node_modules

$(BINARY): $(GOFILES) go.mod go.sum
	$(GO) build -trimpath -o $@ ./cmd/handler

.PHONY: build
build: $(BINARY) ## build the handler for this machine

$(LINUX_BIN): $(GOFILES) go.mod go.sum
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '-s -w' -o $@ ./cmd/handler

.PHONY: stage
stage: $(LINUX_BIN) ## stage host.json, the function folders and the binary as the Functions host runs them
	rm -rf $(STAGE)
	mkdir -p $(STAGE)
	cp host.json $(STAGE)/
	for f in $(FUNCTIONS); do mkdir -p $(STAGE)/$$(basename $$(dirname $$f)) && cp $$f $(STAGE)/$$(basename $$(dirname $$f))/; done
	cp $(LINUX_BIN) $(STAGE)/handler
	chmod 0755 $(STAGE)/handler

.PHONY: package
package: stage ## build/app.zip: host.json, functions, the static linux/amd64 handler (mode 0755)
	rm -f $(PACKAGE)
	if [ -n "$(ZIPPER)" ]; then cd $(STAGE) && $(ZIPPER) -q -r -X ../app.zip .; else $(GO) run ./scripts/zipapp $(STAGE) $(PACKAGE); fi
	@echo "package: $(PACKAGE) ($$(du -h $(PACKAGE) | cut -f1))"

.PHONY: infra-check
infra-check: tools ## offline checks of infra/*.bicep: syntax (tree-sitter) and the deployment's rules
	node scripts/infra-check.mjs infra

.PHONY: deploy
deploy: package infra-check ## deploy to Azure: make deploy RG=<group> [LOCATION=westeurope] [PARAMS=infra/main.bicepparam]
	@test -n "$(RG)" || { echo "usage: make deploy RG=<resource group> [LOCATION=<EU region>] [PARAMS=infra/main.bicepparam]" >&2; exit 2; }
	RG='$(RG)' LOCATION='$(LOCATION)' PARAMS='$(PARAMS)' PACKAGE='$(PACKAGE)' scripts/deploy.sh

.PHONY: run
run: tools build ## start Azurite, MailDev and the handler in standalone mode (Ctrl-C stops all)
	scripts/run-local.sh

.PHONY: bootstrap-admin
bootstrap-admin: build ## invite the first admin: make bootstrap-admin EMAIL=a@b.fi [FIRST=..] [LAST=..] [LOCALE=fi|sv|en] [RG=<group>: in Azure]
	@test -n "$(EMAIL)" || { echo "usage: make bootstrap-admin EMAIL=<address> [FIRST=..] [LAST=..] [LOCALE=fi|sv|en]" >&2; exit 2; }
	$(AZURE_ENV) scripts/with-local-env.sh $(BINARY) bootstrap-admin -email '$(EMAIL)' -first '$(FIRST)' -last '$(LAST)' -locale '$(or $(LOCALE),fi)'

.PHONY: sweep
sweep: build ## one lifecycle sweep: make sweep [NOW=2027-05-22T02:00:00Z] [DRY_RUN=1] [RG=<group>: in Azure]
	$(AZURE_ENV) scripts/with-local-env.sh $(BINARY) sweep $(if $(NOW),-now '$(NOW)') $(if $(DRY_RUN),-dry-run)

.PHONY: audit-verify
audit-verify: build ## check every audit chain, print each broken one's first bad link: make audit-verify [LEGACY_UNTIL=2026-05] [RG=<group>: in Azure]
	$(AZURE_ENV) scripts/with-local-env.sh $(BINARY) audit verify $(if $(LEGACY_UNTIL),-legacy-until '$(LEGACY_UNTIL)')

.PHONY: privacy-record
privacy-record: build ## print the record of processing (GDPR Art. 30): make privacy-record [RECORD_LANG=fi|sv|en|all] [FORMAT=md|json] [RG=<group>: a deployment's settings]
	@$(AZURE_ENV) scripts/with-local-env.sh $(BINARY) privacy record -lang '$(or $(RECORD_LANG),all)' -format '$(or $(FORMAT),md)'

.PHONY: check
check: ## formatting and vet
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './tools/*' -not -path './build/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...

# Redocly CLI sends usage data unless told not to.
REDOCLY := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true tools/node_modules/.bin/redocly

.PHONY: api-lint
api-lint: tools ## lint api/openapi.yaml with Redocly CLI, the rules in api/redocly.yaml
	$(REDOCLY) lint api/openapi.yaml --config api/redocly.yaml --format=stylish

TS_CLIENT := clients/typescript
OPENAPI_TS := tools/node_modules/.bin/openapi-typescript

.PHONY: api-types
api-types: tools ## regenerate clients/typescript/schema.d.ts from api/openapi.yaml (commit the result)
	$(OPENAPI_TS) api/openapi.yaml -o $(TS_CLIENT)/schema.d.ts

.PHONY: api-client
api-client: tools ## the committed TypeScript types match the document, and the client and its example type-check
	mkdir -p $(BUILD)
	$(OPENAPI_TS) api/openapi.yaml -o $(BUILD)/schema.d.ts
	@cmp -s $(BUILD)/schema.d.ts $(TS_CLIENT)/schema.d.ts || { \
	  diff -u $(TS_CLIENT)/schema.d.ts $(BUILD)/schema.d.ts | head -40 >&2 || true; \
	  echo "$(TS_CLIENT)/schema.d.ts is not what api/openapi.yaml generates: run make api-types and commit it" >&2; exit 1; }
	tools/node_modules/.bin/tsc -p $(TS_CLIENT)/tsconfig.json

.PHONY: test
test: tools check package infra-check api-lint api-client ## the whole suite (starts its own Azurite and MailDev), then fuzz-smoke
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz-smoke

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 1m); a crasher is saved under testdata/fuzz
	for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $$t for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

.PHONY: fuzz-smoke
fuzz-smoke: ## each fuzz target for 3 s (part of make test)
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

.PHONY: bench
bench: tools ## benchmarks against Azurite (see README for the numbers)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

.PHONY: vuln
vuln: ## govulncheck (needs access to vuln.go.dev)
	$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.1.4 ./...

.PHONY: clean
clean: ## remove build output and local data
	rm -rf $(BUILD) .run
