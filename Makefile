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

.PHONY: stage
stage: $(BINARY) ## stage host.json, the function folders and the binary as the Functions host runs them
	rm -rf $(STAGE)
	mkdir -p $(STAGE)
	cp host.json $(STAGE)/
	cp -r functions/. $(STAGE)/
	cp $(BINARY) $(STAGE)/handler
	chmod +x $(STAGE)/handler

.PHONY: run
run: tools build ## start Azurite, MailDev and the handler in standalone mode (Ctrl-C stops all)
	scripts/run-local.sh

.PHONY: bootstrap-admin
bootstrap-admin: build ## invite the first admin: make bootstrap-admin EMAIL=a@b.fi [FIRST=..] [LAST=..] [LOCALE=fi|sv|en]
	@test -n "$(EMAIL)" || { echo "usage: make bootstrap-admin EMAIL=<address> [FIRST=..] [LAST=..] [LOCALE=fi|sv|en]" >&2; exit 2; }
	scripts/with-local-env.sh $(BINARY) bootstrap-admin -email '$(EMAIL)' -first '$(FIRST)' -last '$(LAST)' -locale '$(or $(LOCALE),fi)'

.PHONY: sweep
sweep: build ## one lifecycle sweep: make sweep [NOW=2027-05-22T02:00:00Z] [DRY_RUN=1]
	scripts/with-local-env.sh $(BINARY) sweep $(if $(NOW),-now '$(NOW)') $(if $(DRY_RUN),-dry-run)

.PHONY: check
check: ## formatting and vet
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './tools/*' -not -path './build/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...

.PHONY: test
test: tools check stage ## the whole suite (starts its own Azurite and MailDev)
	$(GO) test -count=1 -timeout 8m ./...

.PHONY: bench
bench: tools ## benchmarks against Azurite (see README for the numbers)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

.PHONY: vuln
vuln: ## govulncheck (needs access to vuln.go.dev)
	$(GO) run golang.org/x/vuln/cmd/govulncheck@latest ./...

.PHONY: clean
clean: ## remove build output and local data
	rm -rf $(BUILD) .run
