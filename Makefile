# The two commands of this project: `make wordcount` runs the main job, `make test` runs the tests.
# Both install what is missing first (liblz4-dev, pkg-config, python3, iproute2 for the test across
# network namespaces, and tmux for the test that reads the progress line off a terminal, from Debian's
# packages). `make test-spark` runs the streaming jobs on a real Spark cluster (two executors on this
# machine); it installs Java, a venv with pyspark and the static binary.

SWIFT ?= swift
CONFIGURATION ?= release
BIN_DIR = $(shell $(SWIFT) build -c $(CONFIGURATION) --show-bin-path 2>/dev/null)
CORPUS ?= Fixtures/corpus
APT_PACKAGES = $(if $(wildcard /usr/include/lz4frame.h),,liblz4-dev) \
               $(if $(shell command -v pkg-config),,pkg-config) \
               $(if $(shell command -v python3),,python3) \
               $(if $(wildcard /usr/sbin/ip /sbin/ip /usr/bin/ip /bin/ip),,iproute2) \
               $(if $(shell command -v tmux),,tmux)

FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?= FuzzFrames FuzzRecords FuzzLZ4 FuzzWordCount
SANITIZE_CONFIGURATION ?= release

# Spark (test-spark, bench): a Java 17+ runtime, a venv with pyspark, the static binary nodes can run
# without a Swift toolchain. The venv is made once; its stamp is written last, so a half-made one is
# made again.
PYSPARK_VERSION ?= 4.3.0
SPARK_DIR = $(CURDIR)/.build-spark
SPARK_VENV = $(SPARK_DIR)/venv
SPARK_STAMP = $(SPARK_VENV)/.installed-pyspark-$(PYSPARK_VERSION)
JAVA_MAJOR = $(shell java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
SPARK_APT_PACKAGES = $(if $(shell [ "$(JAVA_MAJOR)" -ge 17 ] 2>/dev/null && echo ok),,openjdk-17-jre-headless) \
                     $(if $(shell python3 -c 'import ensurepip, venv' 2>/dev/null && echo ok),,python3-venv)
STATIC_SCRATCH = .build-static
STATIC_BINARY = $(CURDIR)/$(STATIC_SCRATCH)/release/mapreduce

.PHONY: all deps build wordcount test lint docs bench fuzz test-sanitize test-asan test-tsan clean \
	spark-deps static test-spark

all: build

# Installs the system packages the build and the tests need, only when they are missing.
deps:
	@if [ -n "$(strip $(APT_PACKAGES))" ]; then \
		echo "Installing $(strip $(APT_PACKAGES)) with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $(strip $(APT_PACKAGES)); \
	fi

build: deps
	$(SWIFT) build -c $(CONFIGURATION) --product mapreduce

# Word count over the corpus in Fixtures/: the top 20 words, then the statistics.
wordcount: build
	"$(BIN_DIR)/mapreduce" wordcount --stats $(CORPUS)

# Unit tests and end-to-end tests, against the release build of the real binary; the Examples package
# (a job of its own, built on the library by path, run locally, on loopback peers and as streaming steps);
# then, once they pass, a short benchmark measured in the same run (Benchmarks/summary.py: it reports,
# never fails the target).
test: deps
	$(SWIFT) build -c $(CONFIGURATION) --build-tests
	MAPREDUCE_BINARY="$(BIN_DIR)/mapreduce" $(SWIFT) test -c $(CONFIGURATION) --skip-build
	Examples/test.sh
	-python3 Benchmarks/summary.py --mapreduce "$(BIN_DIR)/mapreduce"

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift Examples/Sources Examples/Package.swift

# The benchmark; its Spark section needs spark-deps (SPARK=0: neither installed nor measured).
SPARK ?= 1
bench: build $(if $(filter 1 yes true,$(SPARK)),spark-deps)
	$(MAKE) -C Benchmarks bench $(if $(filter 1 yes true,$(SPARK)),,SPARK=0)

# Java 17+ and python3-venv with apt-get when missing, then the venv with pyspark (once).
spark-deps: deps
	@if [ -n "$(strip $(SPARK_APT_PACKAGES))" ]; then \
		echo "Installing $(strip $(SPARK_APT_PACKAGES)) with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $(strip $(SPARK_APT_PACKAGES)); \
	fi
	@if [ ! -f "$(SPARK_STAMP)" ]; then \
		echo "Installing pyspark $(PYSPARK_VERSION) into $(SPARK_VENV)"; \
		rm -rf "$(SPARK_VENV)" && python3 -m venv "$(SPARK_VENV)" \
		&& "$(SPARK_VENV)/bin/pip" install --quiet --disable-pip-version-check "pyspark==$(PYSPARK_VERSION)" \
		&& touch "$(SPARK_STAMP)"; \
	fi

# mapreduce with the Swift runtime linked in: what Spark and Hadoop nodes run, with no Swift toolchain.
# Its own scratch path, so that it does not rebuild over the regular release build.
static: deps
	$(SWIFT) build -c release --static-swift-stdlib --product mapreduce --scratch-path $(STATIC_SCRATCH)
	@if ldd "$(STATIC_BINARY)" | grep -q libswift; then \
		echo "$(STATIC_BINARY) still links the Swift runtime:"; ldd "$(STATIC_BINARY)"; exit 1; \
	fi

# The streaming commands on Spark (Tests/Spark): one local-cluster session, two executor JVMs, loopback only.
test-spark: spark-deps static
	MAPREDUCE_BINARY="$(STATIC_BINARY)" "$(SPARK_VENV)/bin/python" -m unittest discover -v -s Tests/Spark -t Tests/Spark

# The libraries' documentation: the DocC catalog in Sources/MapReduce/Documentation.docc and every public
# symbol's doc comment, built with swift-docc-plugin into .build-docs/MapReduce (and the ready-made jobs
# into .build-docs/MapReduceJobs), ready for static hosting (`swift package --disable-sandbox
# preview-documentation --target MapReduce` serves it live). A warning (a broken ``Symbol`` link, say)
# fails the target. Not part of `make test`.
DOCS_TARGETS ?= MapReduce MapReduceJobs

docs: deps
	@mkdir -p .build-docs  # the plugin moves each archive to --output-path, whose parent must exist
	@for target in $(DOCS_TARGETS); do \
		$(SWIFT) package --allow-writing-to-directory .build-docs generate-documentation --target $$target \
			--warnings-as-errors --output-path .build-docs/$$target || exit 1; \
	done

# libFuzzer (with AddressSanitizer) on the frame decoder, the record codec, the LZ4 batch decoder and
# word count's tokenizer: each target runs FUZZ_SECONDS seconds from its seeds in Fuzz/Corpus/<target>
# plus what earlier runs found (.build-fuzz/corpus/<target>); a failing input lands in
# .build-fuzz/crashes/. Prints each target's number of executions. Not part of CI.
fuzz: deps
	@ls "$$(dirname "$$(readlink -f "$$(command -v $(SWIFT))")")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 \
		|| { echo "this Swift toolchain has no libclang_rt.fuzzer: install a swift.org toolchain"; exit 1; }
	$(SWIFT) build --package-path Fuzz --scratch-path .build-fuzz -c release --sanitize=fuzzer --sanitize=address
	@mkdir -p .build-fuzz/crashes; failed=""; summary=""; \
	for target in $(FUZZ_TARGETS); do \
		mkdir -p .build-fuzz/corpus/$$target; \
		echo "== $$target: $(FUZZ_SECONDS) s"; \
		SWIFT_BACKTRACE=enable=no .build-fuzz/release/$$target -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
			-print_final_stats=1 -artifact_prefix=.build-fuzz/crashes/$$target- \
			.build-fuzz/corpus/$$target Fuzz/Corpus/$$target > .build-fuzz/$$target.log 2>&1 || failed="$$failed $$target"; \
		grep -E "^(INFO: seed corpus|Done [0-9]+ runs|fuzz check failed|==[0-9]+==ERROR|SUMMARY)" .build-fuzz/$$target.log | tail -n 5; \
		runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' .build-fuzz/$$target.log); \
		summary="$$summary$$target: $${runs:-?} executions in $(FUZZ_SECONDS) s\n"; \
	done; \
	printf "\n$$summary"; \
	if [ -n "$$failed" ]; then echo "failed:$$failed (inputs in .build-fuzz/crashes, logs in .build-fuzz/<target>.log)"; exit 1; fi

# The test suite under AddressSanitizer, then under ThreadSanitizer, each build in its own scratch path,
# with the end-to-end tests running the sanitized mapreduce of the same build. Not part of CI.
# SWIFT_BACKTRACE=enable=no: under a sanitizer, Swift's backtracer was seen hanging on a crash.
test-sanitize: test-asan test-tsan

test-asan: deps
	$(SWIFT) build -c $(SANITIZE_CONFIGURATION) --build-tests --sanitize=address --scratch-path .build-asan
	SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/Scripts/lsan-suppressions.txt \
	MAPREDUCE_BINARY="$(CURDIR)/.build-asan/$(SANITIZE_CONFIGURATION)/mapreduce" \
		$(SWIFT) test -c $(SANITIZE_CONFIGURATION) --skip-build --sanitize=address --scratch-path .build-asan

test-tsan: deps
	$(SWIFT) build -c $(SANITIZE_CONFIGURATION) --build-tests --sanitize=thread --scratch-path .build-tsan
	SWIFT_BACKTRACE=enable=no TSAN_OPTIONS=suppressions=$(CURDIR)/Scripts/tsan-suppressions.txt \
	MAPREDUCE_BINARY="$(CURDIR)/.build-tsan/$(SANITIZE_CONFIGURATION)/mapreduce" \
		$(SWIFT) test -c $(SANITIZE_CONFIGURATION) --skip-build --sanitize=thread --scratch-path .build-tsan

clean:
	rm -rf .build .build-fuzz .build-asan .build-tsan .build-static .build-spark .build-docs
