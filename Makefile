# jitsudo-serverless — the make targets are the interface for people and CI.
#   make dev     the whole system on localhost (no AWS, no Docker)
#   make test    everything CI runs

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
GO           ?= go
# -trimpath for every go command make runs (vet, tests, fuzzing, and the builds tests run): compiled
# packages then do not depend on where the repository is checked out, so a fresh clone reuses the Go
# build cache that earlier clones filled (CI's clean clones; measured in docs/development.md#tests).
# Code finds the repository with infra/modroot, not runtime.Caller, whose file names it changes.
export GOFLAGS := $(strip -trimpath $(filter-out -trimpath,$(GOFLAGS)))
# One cgo setting for every go command: the functions are static (CGO_ENABLED=0) on Lambda, and with
# cgo on for the tests (Go's default where gcc is installed) net, os/user and every package above them
# would be compiled twice, once for go test and once for the RIE suite's host binaries (invoke.Build).
export CGO_ENABLED ?= 0
FUNCTIONS    := $(notdir $(wildcard functions/*))
ARCH         ?= arm64
BUILD_DIR    ?= .build/$(ARCH)
# 13 MiB: verify-audit-log links the KMS and S3 clients (the audit chain's MAC and anchors), ~12.1 MiB.
# A function that outgrows it has probably linked something it does not use (see TestAWSBinariesLinkNoStandIns).
MAX_BINARY_BYTES := 13631488
GOBUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
# An execution count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a -fuzztime duration expires mid-exec under load
# (golang/go#75804, fixed in 1.27); a count has no deadline to race.
# 20000 executions a target: make test's fuzz step is a regression smoke run over the seed corpora
# plus a short exploration (~2-4 s a target on an idle machine, most of the step is compiling the
# instrumented packages); the former 100000x cost about 4x the fuzzing time.
# Fuzz for real with `make fuzz FUZZTIME=2000000x`.
FUZZTIME     ?= 20000x
ADDR         ?= 127.0.0.1:8080
SFN_DIR      := infra/stepfunctions
WEBTEST_DIR  := infra/webtest

.PHONY: goaws dev sam-build test test-go test-browser test-external-dynamodb fuzz build sizes invoke validate lint bench tools npm clean

## dev: run the API, authorizer, embedded DynamoDB and a dev OIDC issuer on $(ADDR)
## (built, then exec'd rather than `go run`: `go run` exits 1 on Ctrl-C, jitsudo-dev exits 0)
dev: npm goaws
	@$(GO) build -o .bin/jitsudo-dev ./infra/devstack/cmd/jitsudo-dev
	@exec .bin/jitsudo-dev -addr $(ADDR)

## test: lint, unit + integration tests (incl. RIE invocations), brief fuzzing, arm64 build size check
## (the browser tests are a step of their own, test-browser, so their time shows apart in the summary).
## infra/steps/run.sh runs the stages in order, the steps of a stage (comma-joined) side by side, and
## prints each step's output whole and the time per step, per stage and in total.
TEST_STAGES := lint,validate test-go,test-external-dynamodb fuzz,build test-browser
test: npm goaws
	@infra/steps/run.sh $(TEST_STAGES)

BROWSER_PKG := ./$(WEBTEST_DIR)
# -vet=off: lint's `go vet ./...` has vetted every package (tests included); go test would vet again
# (the jitsudo_local run keeps it: lint does not vet that tag's files).
GOTEST := $(GO) test -count=1 -vet=off
test-go:
	$(GOTEST) $$($(GO) list ./... | grep -v '/$(WEBTEST_DIR)$$')
	$(GO) test -count=1 -tags jitsudo_local -run '^TestProviderLocal$$' ./shared/wiring/

## test-browser: the Approvals page's browser tests (Chromium through chromedp; infra/webtest)
test-browser: npm
	$(GOTEST) $(BROWSER_PKG)

## test-external-dynamodb: the DynamoDB suites on a second, independent engine: moto's DynamoDB
## (moto_server, Python; on the machine image, `pip install 'moto[server]==5.2.1'` elsewhere) behind
## infra/serialproxy (one request at a time: moto's transactions are not atomic under concurrency).
## Point JITSUDO_TEST_DYNAMODB_ENDPOINT at DynamoDB Local or AWS and run `go test` to run them there.
test-external-dynamodb:
	infra/moto/with-moto.sh $(GOTEST) ./shared/store/... ./shared/access/... ./shared/provider/... ./shared/workflow/...

## fuzz: run every fuzz target briefly beyond its seed corpus
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzNormalize$$' -fuzztime=$(FUZZTIME) ./shared/policy/
	$(GO) test -run='^$$' -fuzz='^FuzzPermissionSetNeverSidesteps$$' -fuzztime=2000x ./shared/policy/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeCursor$$' -fuzztime=$(FUZZTIME) ./shared/store/
	$(GO) test -run='^$$' -fuzz='^FuzzAuthenticate$$' -fuzztime=$(FUZZTIME) ./shared/auth/
	$(GO) test -run='^$$' -fuzz='^FuzzUnmarshalStrict$$' -fuzztime=$(FUZZTIME) ./shared/httpapi/
	$(GO) test -run='^$$' -fuzz='^FuzzNormalizeInput$$' -fuzztime=$(FUZZTIME) ./shared/access/
	$(GO) test -run='^$$' -fuzz='^FuzzGuardCheckURL$$' -fuzztime=$(FUZZTIME) ./shared/notify/
	$(GO) test -run='^$$' -fuzz='^FuzzChannelInput$$' -fuzztime=$(FUZZTIME) ./shared/notify/

## build: every function as a static linux bootstrap for $(ARCH) (arm64 for AWS), size-checked
## (one `go build` for all of them: it links them in parallel and loads the package graph once;
## `go build -o dir/` names each binary after its directory, which then becomes <fn>/bootstrap)
build:
	@rm -rf $(BUILD_DIR).tmp && mkdir -p $(BUILD_DIR).tmp
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build $(GOBUILD_FLAGS) -o $(BUILD_DIR).tmp/ ./functions/...
	@for fn in $(FUNCTIONS); do mkdir -p $(BUILD_DIR)/$$fn && mv $(BUILD_DIR).tmp/$$fn $(BUILD_DIR)/$$fn/bootstrap; done; rmdir $(BUILD_DIR).tmp
	@$(MAKE) --no-print-directory sizes

## sam-build: `sam build` with make build's flags. SAM's Go builder runs a plain `go build`
## (about twice the size: symbols, DWARF, the RPC runtime); GOFLAGS carries the same flags
## (-ldflags=-s drops DWARF too since Go 1.22, so it equals -s -w).
SAM_GOFLAGS := -tags=lambda.norpc -trimpath -ldflags=-s
sam-build:
	CGO_ENABLED=0 GOFLAGS='$(SAM_GOFLAGS)' sam build $(SAM_ARGS)

sizes:
	@fail=0; for fn in $(FUNCTIONS); do \
	  size=$$(stat -c %s $(BUILD_DIR)/$$fn/bootstrap); \
	  printf '%-24s %9d bytes\n' $$fn $$size; \
	  if [ $$size -gt $(MAX_BINARY_BYTES) ]; then echo "  ^ over the 13 MiB budget"; fail=1; fi; \
	done; exit $$fail

## invoke: run one function under the Lambda RIE with an event: make invoke FN=healthz EVENT=events/healthz.json
invoke:
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=events/<file>.json"; exit 2; }
	$(GO) run ./infra/invoke/cmd/invoke -fn $(FN) -event $(EVENT)

## validate: both templates with cfn-lint (AWS's own linter, runs the SAM transform); every ASL file with
## asl-validator. The template's semantic checks (routes <-> functions <-> events, IAM scoping) are Go tests
## in infra/template, run once, by test-go.
CFN_LINT ?= cfn-lint
validate: npm
	@command -v $(CFN_LINT) >/dev/null || { echo "cfn-lint not found: pip install 'cfn-lint==1.51.0'"; exit 1; }
	$(CFN_LINT) template.yaml infra/tenant-role/template.yaml
	$(SFN_DIR)/node_modules/.bin/asl-validator $(addprefix --json-path ,$(wildcard statemachines/*.json))

## npm: the local Step Functions' Node packages (aws-local-stepfunctions, asl-validator) and the
## browser tests' axe-core (infra/webtest), from the committed lockfiles
npm: $(SFN_DIR)/node_modules/.package-lock.json $(WEBTEST_DIR)/node_modules/.package-lock.json
$(SFN_DIR)/node_modules/.package-lock.json: $(SFN_DIR)/package-lock.json
	cd $(SFN_DIR) && npm ci --no-audit --no-fund
	@touch $@
$(WEBTEST_DIR)/node_modules/.package-lock.json: $(WEBTEST_DIR)/package-lock.json
	cd $(WEBTEST_DIR) && npm ci --no-audit --no-fund
	@touch $@

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.build/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## bench: the benchmarks reported in the README
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./shared/policy/
	$(GO) test -run='^$$' -bench=BenchmarkCreateRequest -benchmem -benchtime=200x ./shared/api/
	$(GO) test -run='^$$' -bench=BenchmarkNotificationLatency -benchtime=200x ./infra/devstack/

## tools: the pinned Lambda Runtime Interface Emulator and goaws (local SNS) in .bin/ (tests install them on demand too)
tools: goaws
	GOBIN=$(CURDIR)/.bin CGO_ENABLED=0 $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d

## goaws: the local SNS stand-in, github.com/Admiral-Piett/goaws at the version go.mod pins (a `tool` there)
goaws: .bin/goaws
.bin/goaws: go.mod go.sum
	CGO_ENABLED=0 $(GO) build -o $@ github.com/Admiral-Piett/goaws/app/cmd

clean:
	rm -rf .build .bin .dev $(SFN_DIR)/node_modules $(WEBTEST_DIR)/node_modules
