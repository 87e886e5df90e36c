# FeeFiFoFunds candle pipeline.
#   make run    start the local QuestDB and the whole pipeline on ./inbox
#   make test   start the local QuestDB and run every test (QuestDB tests included)
#   make bench  print the throughput and memory figures (docs/PERFORMANCE.md)
#   make fuzz   run every go test -fuzz target for FUZZTIME each (docs/RELIABILITY.md#fuzzing)
#   make chaos  the fault suite: kill -9s under load, then exact rows (docs/RELIABILITY.md)
GO        ?= go
BIN       ?= bin
INBOX     ?= ./inbox
BENCH_ROWS ?= 5000000
# e.g. BENCH_FLAGS="--cpuprofile /tmp/e2e.pprof --compare-partitions" or "--json"
BENCH_FLAGS ?=
FUZZTIME  ?= 10s
# e.g. CHAOS_FLAGS="--cluster", "--short", "--trials 5 --seed 42"
CHAOS_FLAGS ?=

.PHONY: all build test unit questdb questdb-stop run bench fuzz chaos vet fmt clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

questdb:
	scripts/questdb.sh start

questdb-stop:
	scripts/questdb.sh stop

vet:
	$(GO) vet ./...

# The README's test command: QuestDB comes up first, so its tests run rather
# than skip (under CI=true they fail if it is missing).
test: questdb vet
	$(GO) test -count=1 -timeout 14m ./...

# Tests that need nothing but Go.
unit:
	$(GO) test -count=1 -short ./...

run: build questdb
	mkdir -p $(INBOX)
	$(BIN)/fff up --inbox $(INBOX)

bench: build questdb
	$(GO) test -run '^$$' -bench . -benchmem ./pipeline/contract/ ./pipeline/parser/
	$(BIN)/fff bench --rows $(BENCH_ROWS) $(BENCH_FLAGS)

fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

# Not part of test: a trial takes minutes. Needs nats-server v2.15.2 (PATH or
# GOPATH/bin), a JDK and Maven; runs its own QuestDB on free ports.
chaos:
	$(GO) run ./internal/chaos/cmd $(CHAOS_FLAGS)

fmt:
	gofmt -l -w .

clean:
	rm -rf $(BIN) ./var
