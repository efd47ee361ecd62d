# sluice: one plain Makefile (R39). Objects live under build/; header dependencies come from
# -MMD. Two builds share the sources: build/rel (optimised, build/sluice) and build/asan
# (AddressSanitizer + UndefinedBehaviorSanitizer, used by `make test`).

CC      ?= cc
PKGS    := libmicrohttpd lmdb jansson libcrypto expat zlib libzip sqlite3 libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is compiled against but not linked: `sluice query` loads it with dlopen()
# (src/cli_query.c), so that the server does not load it and its twenty libraries at start-up.
LINK_PKGS  := $(filter-out libcurl,$(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -lpthread -lm
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
STD     := -std=c11 -D_POSIX_C_SOURCE=200809L
WARN    := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow
COMMON  := $(STD) $(WARN) -Isrc $(PKG_CFLAGS) -DSLUICE_VERSION='"$(VERSION)"' -MMD -MP
REL_CFLAGS  := $(COMMON) -O2 -g
ASAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CFLAGS := $(COMMON) -O1 -g $(ASAN_FLAGS)

LIB_SRC  := $(sort $(wildcard src/*/*.c))
MAIN_SRC := src/main.c src/cli_query.c
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_NAMES := $(patsubst tests/unit/%.c,%,$(TEST_SRC))
BENCH_SRC  := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRC))

REL_OBJ  := $(patsubst %.c,build/rel/%.o,$(LIB_SRC))
ASAN_OBJ := $(patsubst %.c,build/asan/%.o,$(LIB_SRC))
MAIN_REL_OBJ  := $(patsubst %.c,build/rel/%.o,$(MAIN_SRC))
MAIN_ASAN_OBJ := $(patsubst %.c,build/asan/%.o,$(MAIN_SRC))
ASAN_TESTS := $(addprefix build/asan/tests/,$(TEST_NAMES))

PYTHON  ?= /usr/bin/python3
E2E_ARGS ?=

.PHONY: all run test check fuzz bench bench-bins clean deps unit e2e asan demo

all: build/sluice

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c $< -o $@

build/rel/libsluice.a: $(REL_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/asan/libsluice.a: $(ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/sluice: $(MAIN_REL_OBJ) build/rel/libsluice.a
	$(CC) -o $@ $^ $(PKG_LIBS)

build/asan/sluice: $(MAIN_ASAN_OBJ) build/asan/libsluice.a
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/tests/%: build/asan/tests/unit/%.o build/asan/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

asan: build/asan/sluice $(ASAN_TESTS)

# The load generators of bench/, optimised, as build/bench/<name>.
build/bench/%: build/rel/bench/%.o build/rel/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(PKG_LIBS)

bench-bins: $(BENCH_BINS)

# `make bench`: install the peers (scripts/bench-deps: nginx, dynalite, s3rver), build sluice
# optimised and the load generator, run every workload against sluice and its peers and write
# docs/performance.md. BENCH_QUICK=1 for a short run; BENCH_ONLY=ddb,s3,... for some groups
# (bench/README.md). Not part of `make test`.
BENCH_QUICK ?=
BENCH_ONLY ?=
bench: deps
	@scripts/bench-deps
	@$(MAKE) --no-print-directory build/sluice bench-bins
	BENCH_QUICK=$(BENCH_QUICK) BENCH_ONLY=$(BENCH_ONLY) $(PYTHON) bench/run.py

deps:
	@scripts/deps

# `make run`: install what is missing, build, serve on 127.0.0.1:4566 with ./data.
run: deps
	@$(MAKE) --no-print-directory build/sluice
	./build/sluice serve --data-dir ./data

# `make demo`: the invoice archive example against the server on 127.0.0.1:4566 (started on
# ./data for the run when none answers).
demo: deps
	@$(MAKE) --no-print-directory build/sluice
	@scripts/demo

# `make test`: install, build both builds, run the unit tests and the end-to-end tests under
# the sanitizers, and end with their summary lines.
test: deps
	@$(MAKE) --no-print-directory build/sluice asan bench-bins
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory e2e

unit: $(ASAN_TESTS)
	@scripts/run-unit $(ASAN_TESTS)

e2e: build/asan/sluice bench-bins
	SLUICE_BIN=$(CURDIR)/build/asan/sluice $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e $(E2E_ARGS)

check:
	@scripts/check

# `make fuzz`: libFuzzer targets of tests/fuzz/ (clang), each run for FUZZ_SECONDS.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := $(STD) $(WARN) -Isrc $(PKG_CFLAGS) -DSLUICE_VERSION='"$(VERSION)"' -O1 -g \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	    mkdir -p build/fuzz/corpus-$$(basename $$f); \
	    echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus-$$(basename $$f) \
	        2>&1 | tail -3 || exit 1; \
	done

clean:
	rm -rf build

-include $(REL_OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(MAIN_REL_OBJ:.o=.d) $(MAIN_ASAN_OBJ:.o=.d)
-include $(patsubst %,build/asan/tests/unit/%.d,$(TEST_NAMES))
-include $(patsubst bench/%.c,build/rel/bench/%.d,$(BENCH_SRC))
