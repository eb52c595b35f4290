# SoccerPredict — one Makefile for the whole workspace. `make run` and `make test` are the two
# commands a newcomer needs; everything else is what they are built from.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
# VERSION is stamped into the host (soccerpredict version / --version): the git tag or commit.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SDK_MODULE := github.com/soccerpredict/soccerpredict/sdk
PROTO_FILES := $(wildcard sdk/proto/soccerpredict/v1/*.proto) sdk/proto/inference/grpc_predict_v2.proto
# Plugins are discovered, not listed: every module under plugins/<kind>s/<name>/ (its go.mod) is
# tested, and every command in it named cmd/soccer-<kind>-<name>[-variant] is built into bin/.
PLUGIN_MODULES := $(patsubst %/go.mod,%,$(wildcard plugins/*/*/go.mod))
PLUGIN_CMDS := $(wildcard $(addsuffix /cmd/soccer-*,$(PLUGIN_MODULES)))
export GOFLAGS := -buildvcs=false

.PHONY: image all build host plugins test lint proto proto-check run evaluate tools clean ort chart-test bench-http bench-async bench-scale fuzz faults

MODULES := ./sdk/... ./host/... $(foreach p,$(PLUGIN_MODULES),./$(p)/...) ./charts/...

all: build

build: host plugins

host:
	@mkdir -p $(BIN)
	cd host && $(GO) build -ldflags "-X github.com/soccerpredict/soccerpredict/host/internal/cli.Version=$(VERSION)" -o $(BIN)/soccerpredict ./cmd/soccerpredict

# test is what CI runs (.ci/run): formatting, vet, generated code, then every module's tests against
# the real PostgreSQL on localhost (SOCCERPREDICT_TEST_POSTGRES overrides the URL).
test: lint proto-check build ort
	ONNXRUNTIME_LIB=$(CURDIR)/$(ORT_LIB) $(GO) test -count=1 $(MODULES)
	$(MAKE) --no-print-directory fuzz

# fuzz runs every fuzz target for FUZZTIME (part of `make test`). A crasher the fuzzer finds is
# written under the package's testdata/fuzz/ and fails the run: commit it, and every later
# `go test` replays it as a regression case. The budget is a count of executions, not a duration:
# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a failure ("context
# deadline exceeded", golang/go#75804, fixed in Go 1.27), which a count never arms.
# Each target carries its own count, about ten seconds of work on a 2-core machine;
# FUZZTIME=<n>x or FUZZTIME=<duration> overrides every count (make fuzz FUZZTIME=5m for a long run).
FUZZTIME ?=
FUZZ_TARGETS := plugins/sources/footballdata:.:FuzzParseSeason:100000x \
  host:./internal/api:FuzzDecodePrediction:20000x host:./internal/api:FuzzPredictionJSON:8000x \
  host:./internal/api:FuzzOIPRequest:30000x host:./internal/contract:FuzzParse:100000x \
  host:./internal/config:FuzzLoad:20000x plugins/models/onnx:./onnxgo:FuzzCompile:100000x
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  IFS=: read -r mod pkg fn n <<< "$$t"; if [ -n "$(FUZZTIME)" ]; then n=$(FUZZTIME); fi; \
	  echo "fuzz $$mod $$pkg $$fn ($$n)"; \
	  log=$$(mktemp); \
	  if (cd $$mod && $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$n $$pkg) > $$log 2>&1; then tail -1 $$log; rm -f $$log; \
	  else grep -v '^fuzz: elapsed' $$log; rm -f $$log; echo "fuzz $$fn failed (a crasher, if any, is under $$mod/$$pkg/testdata/fuzz/$$fn)" >&2; exit 1; fi; \
	done

# chart-test renders charts/soccerpredict with Helm's engine and decodes every manifest strictly
# into the Kubernetes API types (also part of `make test`).
chart-test:
	$(GO) test -count=1 ./charts/...

lint:
	@out=$$(gofmt -l sdk host plugins charts); if [ -n "$$out" ]; then echo "gofmt would change:" $$out >&2; exit 1; fi
	$(GO) vet $(MODULES)

# run: build host and plugins, fetch ONNX Runtime, ingest the shipped data into the embedded SQLite
# store (var/), train and register a champion when there is none that fits, then serve on :8080.
# A second run reuses the store and the model.
run: build ort
	./bin/soccerpredict ingest --config configs/local.yaml
	./bin/soccerpredict models train --if-no-champion --config configs/local.yaml
	./bin/soccerpredict serve --config configs/local.yaml

# evaluate: walk-forward evaluation of the configured model on every shipped league (evaluate.leagues),
# each and pooled, beside Pinnacle's pre-match and closing prices and last season's base rates.
evaluate: build ort
	./bin/soccerpredict evaluate --config configs/local.yaml

# bench-http: the HTTP load harness. It builds everything, makes a store of the shipped data with a
# champion under var/bench (apart from `make run`'s), then bin/soccerload starts `soccerpredict serve`
# and a bare Go ceiling server, each its own process, and drives both from its own process at
# 1, 16 and 64 clients: distinct real fixtures (uncached), one fixture (cached), and the ceiling.
# It prints req/s, p50, p99, server CPU and RSS per row and each row's share of the ceiling.
# BENCH_FLAGS passes flags to soccerload (e.g. BENCH_FLAGS="-duration 20s -clients 64").
BENCH_FLAGS ?=
bench-http: build ort
	cd host && $(GO) build -o $(BIN)/soccerload ./cmd/soccerload
	./bin/soccerpredict ingest --config configs/local.yaml --set data_dir=var/bench --set log.level=warn >/dev/null
	./bin/soccerpredict models train --if-no-champion --config configs/local.yaml --set data_dir=var/bench --set log.level=warn >/dev/null
	./bin/soccerload $(BENCH_FLAGS) -- --config configs/local.yaml --set data_dir=var/bench

# bench-async: a burst of asynchronous jobs (default 20,000) through serve on the embedded defaults
# (the in-process queue; serve works the jobs), from a separate process: jobs/s until all are done and
# submit→done p50/p99. ASYNC_FLAGS passes flags; for PostgreSQL + RabbitMQ + Redis with workers see
# docs/benchmarks.md.
ASYNC_FLAGS ?=
bench-async: build ort
	cd host && $(GO) build -o $(BIN)/soccerload ./cmd/soccerload
	./bin/soccerload async $(ASYNC_FLAGS) -- --config configs/local.yaml --set data_dir=var/bench-async --set log.level=warn

# bench-scale: seed scale (not part of `make test`). For each size (SCALE_SIZES, default 10k, 100k
# and 1M matches) a synthetic corpus (`soccerpredict synth`) into a fresh embedded store under
# var/scale, then ingest, train, serve until /readyz, and evaluate, each the real host with its
# plugin processes; prints wall time and peak RSS (host, and the largest plugin) per stage.
SCALE_SIZES ?= 10000,100000,1000000
bench-scale: build ort
	cd host && $(GO) build -o $(BIN)/soccerload ./cmd/soccerload
	./bin/soccerload scale -sizes $(SCALE_SIZES)

# faults: the fault suite (not part of `make test`; about four minutes). Real serve and plugin
# processes on localhost, each scenario under load: plugin kill -9 and SIGSTOP, a tampered plugin
# binary, slow and idle clients, oversized and hostile input, sustained load with RSS at start and
# end, and a PostgreSQL connection cut through a TCP proxy the suite runs. Prints a table of what
# the clients saw (docs/reliability.md). FAULT_FLAGS passes flags (e.g. "-soak 5m", "-postgres ''").
FAULT_FLAGS ?=
faults: build ort
	cd host && $(GO) build -o $(BIN)/soccerload ./cmd/soccerload
	./bin/soccerload faults $(FAULT_FLAGS)

clean:
	rm -rf $(BIN) var onnxruntime

# image builds the OCI image without a container engine (host/cmd/soccerimage): the host and the
# pure-Go plugins built static (CGO_ENABLED=0), the onnx plugin with cgo plus the C libraries it and
# ONNX Runtime link against (copied from this machine's Debian), ONNX Runtime, configs/production.yaml
# and the data contract, CA certificates, user soccerpredict (uid 65532). Named as the chart's default
# image (charts/soccerpredict/values.yaml); writes an OCI layout under bin/image/oci and a
# docker-archive bin/soccerpredict-image.tar (`docker load -i`, `skopeo copy oci:bin/image/oci ...`).
IMAGE_BIN := $(BIN)/image
image: ort
	@mkdir -p $(IMAGE_BIN)
	cd host && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X github.com/soccerpredict/soccerpredict/host/internal/cli.Version=$(VERSION)" -o $(IMAGE_BIN)/soccerpredict ./cmd/soccerpredict
	@set -e; for d in $(PLUGIN_CMDS); do \
	  bin=$$(basename $$d); mod=$${d%/cmd/*}; cgo=0; \
	  if [ -n "$$(cd $$mod && $(GO) list -deps -f '{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}' ./cmd/$$bin)" ]; then cgo=1; fi; \
	  (cd $$mod && CGO_ENABLED=$$cgo $(GO) build -trimpath -ldflags "-s -w" -o $(IMAGE_BIN)/$$bin ./cmd/$$bin); \
	  (cd $(IMAGE_BIN) && sha256sum $$bin > $$bin.sha256); \
	done
	cd host && $(GO) run ./cmd/soccerimage --root $(CURDIR) --bin $(IMAGE_BIN) --ort $(CURDIR)/$(ORT_LIB) \
	  --out $(IMAGE_BIN)/oci --tar $(BIN)/soccerpredict-image.tar --version $(VERSION)

# Each plugin becomes bin/soccer-<kind>-<name>; its SHA-256 goes beside it, where configs/local.yaml
# reads it from (production pins the digest itself).
plugins:
	@mkdir -p $(BIN)
	@set -e; for d in $(PLUGIN_CMDS); do \
	  bin=$$(basename $$d); mod=$${d%/cmd/*}; \
	  (cd $$mod && $(GO) build -o $(BIN)/$$bin ./cmd/$$bin); \
	  (cd $(BIN) && sha256sum $$bin > $$bin.sha256); \
	  echo "built bin/$$bin"; \
	done

# ort fetches the ONNX Runtime shared library from the npm package onnxruntime-node (the only
# registry-hosted build) and checks its digest. The library is never committed.
ORT_VERSION := 1.24.3
ORT_SHA256  := 92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682
ORT_LIB     := onnxruntime/libonnxruntime.so.1
ort: $(ORT_LIB)
$(ORT_LIB):
	@command -v npm >/dev/null || { echo "npm is needed to fetch ONNX Runtime (apt-get install npm)" >&2; exit 1; }
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; set -e; \
	echo "fetching onnxruntime-node@$(ORT_VERSION) for libonnxruntime.so.1"; \
	(cd $$tmp && npm pack --silent onnxruntime-node@$(ORT_VERSION) >/dev/null && \
	  tar xzf onnxruntime-node-$(ORT_VERSION).tgz package/bin/napi-v6/linux/x64/libonnxruntime.so.1); \
	echo "$(ORT_SHA256)  $$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --quiet - || \
	  { echo "libonnxruntime.so.1 from onnxruntime-node@$(ORT_VERSION) does not match ORT_SHA256" >&2; exit 1; }; \
	mkdir -p $(dir $(ORT_LIB)) && mv $$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $(ORT_LIB)

tools:
	@mkdir -p $(BIN)/tools
	cd sdk && $(GO) build -o $(BIN)/tools/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc

# proto regenerates the committed gRPC code from sdk/proto into OUT (default: the sdk itself).
OUT ?= sdk
proto: tools
	@command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
	protoc -I sdk/proto -I /usr/include \
	  --plugin=protoc-gen-go=$(BIN)/tools/protoc-gen-go --plugin=protoc-gen-go-grpc=$(BIN)/tools/protoc-gen-go-grpc \
	  --go_out=$(OUT) --go_opt=module=$(SDK_MODULE) \
	  --go-grpc_out=$(OUT) --go-grpc_opt=module=$(SDK_MODULE) \
	  $(PROTO_FILES:sdk/proto/%=%)

# proto-check fails when the committed generated code differs from what `make proto` would write.
proto-check:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(MAKE) --no-print-directory proto OUT=$$tmp >/dev/null && \
	if ! diff -r $$tmp/internal/pb sdk/internal/pb || ! diff -r $$tmp/oip sdk/oip; then \
	  echo "generated protobuf code is stale: run 'make proto' and commit the result" >&2; exit 1; \
	else echo "protobuf code is current"; fi
