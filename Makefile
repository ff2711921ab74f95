# berth — make help lists the targets.
GO      ?= go
BIN     ?= bin/berth
PKGS    ?= ./...
E2E_TIMEOUT ?= 40m

.PHONY: help build test test-unit test-e2e lint bench demo deps clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build the static berth binary, shim program appended, into bin/
	GO=$(GO) scripts/build.sh $(BIN)

deps: ## install what berth and its tests need (Debian, as root)
	scripts/install-deps.sh

test: test-unit test-e2e ## unit tests, then end-to-end tests (root)

test-unit: ## unit and package tests (those needing root skip without it)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e '/test$$' -e '/test/')

test-e2e: ## end-to-end tests: a real daemon, real containers, the stock docker CLI
	$(GO) test -count=1 -timeout $(E2E_TIMEOUT) ./test/...

lint: ## gofmt, go vet, staticcheck (pinned in go.mod; staticcheck.conf)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

bench: build ## run, create+start, memory, pull and push, cp and commit: berth beside the reference dockerd, with ratios
	bench/bench.sh
	bench/pull.sh
	bench/files.sh

demo: build ## start a daemon, import busybox, run a container, publish a port
	scripts/demo.sh

clean:
	rm -rf bin
