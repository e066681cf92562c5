# sparkbridge: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := run

GO          ?= go
SPARK_HOME   = $(shell scripts/spark-home.sh)
THRIFT_ADDR ?= :10000
CONNECT_ADDR?= :15002
ITEST_TIMEOUT ?= 25m

.PHONY: run spark clients jvm build generate check-generated test unit itest vet fuzz bench microbench clean

## run: prepare the Spark runtime if missing, build, and start the bridge on :10000 and :15002
run: spark build
	PYSPARK_PYTHON="$(CURDIR)/.venv/bin/python" \
	  ./bin/sparkbridge -spark-home "$(SPARK_HOME)" -thrift-addr "$(THRIFT_ADDR)" -connect-addr "$(CONNECT_ADDR)" $(ARGS)

## spark: install the pinned pyspark (spark-submit, Spark Connect, beeline) into .venv
spark:
	@scripts/setup-spark.sh

## clients: install the Node.js HS2 client the integration tests drive
clients:
	@scripts/setup-clients.sh

## build: the bridge binary and, beside it, its JVM jar (metastore server, engine plugin)
build: jvm
	$(GO) build -o bin/sparkbridge ./cmd/sparkbridge

## jvm: compile jvm/src with javac against the pinned Spark jars into bin/sparkbridge-jvm.jar
jvm: spark
	@scripts/build-jvm.sh

## generate: rebuild idl/ and proto/ from the pinned registry packages
generate: spark
	idl/generate.sh
	proto/generate.sh

## check-generated: fail when regenerating would change the committed code
check-generated: spark
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	idl/generate.sh $$tmp/idl && proto/generate.sh $$tmp/proto && \
	diff -r -q idl/hiveserver $$tmp/idl/hiveserver && diff -r -q proto/spark $$tmp/proto/spark && \
	echo "check-generated: idl/ and proto/ match their generators"

## test: every unit and integration test, against real Spark and real clients
test: spark vet unit itest

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -race $$($(GO) list ./... | grep -v /itest)

itest: spark clients
	SPARK_HOME="$(SPARK_HOME)" SPARKBRIDGE_VENV="$(CURDIR)/.venv" $(GO) test -count=1 -v -timeout $(ITEST_TIMEOUT) ./itest/...

## fuzz: a run of every fuzz target (FUZZTIME each, 60s by default); seeds and found inputs
## live under each package's testdata/fuzz and run as regression tests in make test
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecodeArrowBatch -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./translate
	$(GO) test -run='^$$' -fuzz=FuzzSASLHandshake -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./thriftfront
	$(GO) test -run='^$$' -fuzz=FuzzConnection -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./thriftfront
	$(GO) test -run='^$$' -fuzz=FuzzHTTPBody -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./thriftfront
	$(GO) test -run='^$$' -fuzz=FuzzSASLGSSAPI -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./thriftfront
	$(GO) test -run='^$$' -fuzz=FuzzSPNEGOHeader -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./thriftfront
	$(GO) test -run='^$$' -fuzz=FuzzConnectMetadata -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./connectfront
	$(GO) test -run='^$$' -fuzz=FuzzToken -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./auth/jwtauth

## bench: measure the bridge against Spark Thrift Server and direct Spark Connect; writes BENCHMARKS.md
bench: spark build
	$(GO) run ./bench -spark-home "$(SPARK_HOME)" -venv "$(CURDIR)/.venv" -bridge bin/sparkbridge $(BENCH_ARGS)

## microbench: Go benchmarks of the translate and forwarding hot paths and of the observers, with allocation counts
microbench:
	@mkdir -p var
	$(GO) test -run='^$$' -bench=. -benchmem -count=$(or $(COUNT),6) ./translate ./connectfront ./metrics | tee var/microbench.txt

clean:
	rm -rf bin var
