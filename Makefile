# The two commands of this project: `make wordcount` runs the main job, `make test` runs the tests.
# Both install what is missing first (liblz4-dev, pkg-config, python3 from Debian's packages).

SWIFT ?= swift
CONFIGURATION ?= release
BIN_DIR = $(shell $(SWIFT) build -c $(CONFIGURATION) --show-bin-path 2>/dev/null)
CORPUS ?= Fixtures/corpus
APT_PACKAGES = $(if $(wildcard /usr/include/lz4frame.h),,liblz4-dev) \
               $(if $(shell command -v pkg-config),,pkg-config) \
               $(if $(shell command -v python3),,python3)

.PHONY: all deps build wordcount test lint bench clean

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

# Unit tests and end-to-end tests, against the release build of the real binary.
test: deps
	$(SWIFT) build -c $(CONFIGURATION) --build-tests
	MAPREDUCE_BINARY="$(BIN_DIR)/mapreduce" $(SWIFT) test -c $(CONFIGURATION) --skip-build

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

bench: build
	$(MAKE) -C Benchmarks bench

clean:
	rm -rf .build
