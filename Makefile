# Thin wrapper around scripts/setup.sh, CMake/Ninja and ctest.
#
#   make                 install what is missing, configure build/ and build
#   make test            build, then every ctest test (unit, storage, http, conformance)
#   make test-sanitize   the same in build-asan/ with ASan + UBSan (SANITIZE=ON)
#   make run ARGS=...    build the server, then build/streamsy serve $(ARGS)
#   make bench           bench/run.sh (wrk against bench-hello and streamsy)
#   make bench-compare   bench/compare.sh: Streamsy (memory, SQLite) beside the Node reference
#                        server and a trivial C responder, fan-out and idle connections included
#   make bench-subs      bench/subscriptions.py: the append path with subscriptions, wake latency
#   make fuzz            fuzz/run.sh: every libFuzzer target for FUZZ_SECONDS (default
#                        120) each, or FUZZ_RUNS inputs each, in build-fuzz/ (clang-14)
#   make format          clang-format every C file (.clang-format; make test checks it)
#   make install         the library, headers, pkg-config and CMake packages and
#                        the server into PREFIX (default /usr/local); DESTDIR works
#   make clean           remove the build directories
#
# Variables: BUILD (default build), ASAN_BUILD (default build-asan), CMAKE_ARGS
# (extra cmake configure arguments, e.g. -DCMAKE_BUILD_TYPE=Debug), CTEST_ARGS
# (e.g. "-R conformance" or "-j2"). A compiler is chosen when a build directory
# is first configured: CC=clang make BUILD=build-clang.
SHELL := /bin/bash

BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_ARGS ?=
PREFIX ?= /usr/local
CTEST_ARGS ?=
ARGS ?=

SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all build setup test test-sanitize build-sanitize run bench bench-compare bench-subs fuzz install format clean

all: build

setup:
	@scripts/setup.sh --check-or-install

# Configure once; afterwards ninja re-runs cmake itself when CMakeLists.txt or
# the source globs change.
$(BUILD)/build.ninja: | setup
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS)

$(ASAN_BUILD)/build.ninja: | setup
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DSANITIZE=ON $(CMAKE_ARGS)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD)

build-sanitize: $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD)

# ctest hides a passing test's output, so the conformance suite's own
# "N passed, N failed, N skipped" line is printed again at the end.
test: build
	@rm -f $(BUILD)/conformance-summary-*.txt
	@status=0; ctest --test-dir $(BUILD) --output-on-failure $(CTEST_ARGS) || status=$$?; \
	  cat $(BUILD)/conformance-summary-*.txt 2>/dev/null; exit $$status

test-sanitize: build-sanitize
	@rm -f $(ASAN_BUILD)/conformance-summary-*.txt
	@status=0; $(SANITIZER_ENV) ctest --test-dir $(ASAN_BUILD) --output-on-failure $(CTEST_ARGS) || status=$$?; \
	  cat $(ASAN_BUILD)/conformance-summary-*.txt 2>/dev/null; exit $$status

run: $(BUILD)/build.ninja
	cmake --build $(BUILD) --target streamsy
	$(BUILD)/streamsy serve $(ARGS)

bench: setup
	BUILD_DIR=$(BUILD) bench/run.sh

bench-compare: setup
	BUILD_DIR=$(BUILD) bench/compare.sh

bench-subs: setup
	cmake --build $(BUILD) --target streamsy
	/usr/bin/python3 bench/subscriptions.py $(BUILD)/streamsy

fuzz: setup
	fuzz/run.sh

format:
	git ls-files --cached --others --exclude-standard '*.c' '*.h' | xargs clang-format -i

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-*/
