# Axon - plain GNU Makefile. `make` builds build/axon; `make test` installs
# what is missing (as root), builds, and runs every test twice: once in the
# normal build and once under AddressSanitizer + UndefinedBehaviorSanitizer.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wwrite-strings \
           -Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wvla
# No pkg-config cflags for hiredis or json-c: they add /usr/include/hiredis
# and /usr/include/json-c, whose read.h, sds.h, debug.h ... would shadow ours.
# The model table a build finds without AXON_MODELS_FILE: its own etc/.
REAL_CPPFLAGS := -Iinclude -Ibuild/gen -D_GNU_SOURCE -DAXON_MODELS_DEFAULT='"$(CURDIR)/etc/models.conf"' $(CPPFLAGS)
REAL_CFLAGS   := -std=c11 $(WARN) $(CFLAGS)
LIBS    := -lfcgi -ljson-c -lhiredis -lcurl -lcrypto -lpthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC      := $(wildcard src/*.c)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)

OBJ       := $(SRC:src/%.c=build/%.o)
LIB_OBJ   := $(LIB_SRC:src/%.c=build/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
SOBJ      := $(SRC:src/%.c=build/asan/%.o)
SLIB_OBJ  := $(LIB_SRC:src/%.c=build/asan/%.o)
SUNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

# The Lua scripts Valkey runs live in src/lua/*.lua; src/lua/embed.awk turns
# them into C string macros (AXON_LUA_<NAME>) in build/gen/axon_lua.h, which
# every object may include (order-only here; -MMD tracks it after the first
# build). *.inc.lua are pieces the scripts include, not scripts.
LUA_SRC := $(wildcard src/lua/*.lua)
LUA_H   := build/gen/axon_lua.h

.PHONY: all asan unit-bins check test test-live run deps npm-deps lint clean bench bench-smoke bench-bins chart-test browser-test fuzz soak memcheck docs
all: build/axon

$(LUA_H): src/lua/embed.awk $(LUA_SRC)
	@mkdir -p $(@D)
	awk -f src/lua/embed.awk $(filter-out %.inc.lua,$(LUA_SRC)) > $@.tmp
	@mv -f $@.tmp $@
$(OBJ) $(SOBJ) $(UNIT_BIN) $(SUNIT_BIN): | $(LUA_H)

build/axon: $(OBJ)
	$(CC) $(REAL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)

build/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(REAL_CPPFLAGS) $(REAL_CFLAGS) -MMD -MP -c -o $@ $<

# The modules as an archive: a test links only the members whose symbols it
# needs (and what those need), and --as-needed keeps only the libraries they
# call, so the validator's test takes neither libcurl, hiredis nor libfcgi.
# Rebuilt whole, so a removed module leaves no member behind.
build/libaxon.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

build/tests/%: tests/unit/%.c build/libaxon.a
	@mkdir -p $(@D)
	$(CC) $(REAL_CPPFLAGS) $(REAL_CFLAGS) -MMD -MP -o $@ $< build/libaxon.a $(LDFLAGS) $(TEST_LDFLAGS) -Wl,--as-needed $(LIBS) -lcmocka

asan: build/asan/axon $(SUNIT_BIN)

build/asan/axon: $(SOBJ)
	$(CC) $(REAL_CFLAGS) $(SAN) -O1 -o $@ $^ $(LDFLAGS) $(LIBS)

build/asan/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(REAL_CPPFLAGS) $(REAL_CFLAGS) $(SAN) -O1 -MMD -MP -c -o $@ $<

build/asan/libaxon.a: $(SLIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

build/asan/tests/%: tests/unit/%.c build/asan/libaxon.a
	@mkdir -p $(@D)
	$(CC) $(REAL_CPPFLAGS) $(REAL_CFLAGS) $(SAN) -O1 -MMD -MP -o $@ $< build/asan/libaxon.a $(LDFLAGS) $(TEST_LDFLAGS) -Wl,--as-needed $(LIBS) -lcmocka

unit-bins: $(UNIT_BIN)

# The tests that drive the responder's I/O do it through one fake libfcgi
# (tests/unit/fake_fcgi.h), wrapped at link time.
FCGI_WRAP := -Wl,--wrap=FCGX_GetParam,--wrap=FCGX_GetStr,--wrap=FCGX_PutStr,--wrap=FCGX_PutS,--wrap=FCGX_FFlush,--wrap=FCGX_GetError
build/tests/test_http build/asan/tests/test_http \
build/tests/test_conv build/asan/tests/test_conv \
build/tests/test_anthropic build/asan/tests/test_anthropic \
build/tests/test_openai build/asan/tests/test_openai \
build/tests/test_legacy build/asan/tests/test_legacy \
build/tests/test_pipeline build/asan/tests/test_pipeline: TEST_LDFLAGS := $(FCGI_WRAP)

# The benchmark's own tools: a load generator and a fast mock upstream.
BENCH_BIN := build/bench/loadgen build/bench/mockup
build/bench/%: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) -o $@ $< -lm -lpthread
bench-bins: $(BENCH_BIN)

# make bench: axon behind lighttpd and nginx against direct, nginx proxy_pass
# and Portkey, side by side on one mock, and callgrind's instructions per
# request; prints the table and writes it to build/bench/. BENCH_ARGS passes
# options (tests/bench/run.sh --help), e.g. BENCH_ARGS='--baseline df77f7d'
# to build that commit under build/bench/base-SHA/ and run it beside this one.
bench: deps
	@$(MAKE) --no-print-directory all bench-bins
	@tests/bench/run.sh $(BENCH_ARGS)

# A few seconds of the same harness, no timing asserted: part of make test.
# First the table's own test (the baseline columns and the callgrind rows)
# and loadgen's Responses streams.
bench-smoke:
	@$(MAKE) --no-print-directory all bench-bins
	@node --test --test-reporter=spec tests/bench/report.test.mjs tests/bench/loadgen.test.mjs tests/bench/valkeycost.test.mjs
	@tests/bench/run.sh --smoke --out build/bench/smoke

# Installs (as root) or names every Debian package the build and tests use.
deps:
	@etc/install-deps.sh

# Installs the integration tests' npm packages into tests/node_modules
# (pinned by tests/package-lock.json; a no-op when already up to date).
npm-deps:
	@tests/install-npm.sh

# Static checks, all of which must be clean (tests/lint/README.md): the
# banned-call grep, cppcheck, clang-tidy (.clang-tidy) and no cycle between
# modules (tests/lint/cycles.mjs, from build/*.o's symbols).
lint:
	@tests/lint/run.sh

# The fast loop: build, then the unit tests of the normal build (no installs;
# the Valkey tests start a redis-server of their own).
check:
	@$(MAKE) --no-print-directory all unit-bins
	@tests/run.sh --unit

test: deps npm-deps
	@$(MAKE) --no-print-directory lint all unit-bins asan bench-bins
	@tests/run.sh
	@tests/chart/run.sh
	@tests/browser/run.sh
	@tests/fuzz/run.sh --smoke
	@LIVE_SELFTEST=1 tests/live/run.sh
	@$(MAKE) --no-print-directory bench-smoke

# make test-live: issue 17's rules through Axon against the real Claude API
# (tests/live/README.md); skips, exit 0, without ANTHROPIC_API_KEY.
test-live: deps npm-deps
	@$(MAKE) --no-print-directory all
	@tests/live/run.sh

# The Helm chart rendered and checked, and the image's config: tests/chart/run.sh.
chart-test: deps npm-deps
	@$(MAKE) --no-print-directory all
	@tests/chart/run.sh

# The page in www/ in headless Chromium against a local stack: tests/browser/run.sh.
browser-test: deps npm-deps
	@$(MAKE) --no-print-directory all
	@tests/browser/run.sh

# libFuzzer on every network-fed parser, FUZZ_SECONDS (300) each, niced
# (tests/fuzz/README.md); make test runs each for a few seconds.
fuzz: deps
	@tests/fuzz/run.sh

# A mixed load for SOAK_MINUTES (10) against a real stack: RSS slope, fds,
# threads, every answer (tests/soak/run.sh --help).
soak: deps npm-deps
	@$(MAKE) --no-print-directory all
	@tests/soak/run.sh

# The integration suite once with every axon under Valgrind memcheck.
memcheck: deps npm-deps
	@$(MAKE) --no-print-directory all
	@tests/memcheck/run.sh

# Rewrites the files generated from the settings table in src/config.c:
# docs/configuration.md, etc/axon.conf.example and the chart's settings
# (tests/docs/settings.sh; test_config_doc fails while one is stale).
docs:
	@$(MAKE) --no-print-directory all
	@tests/docs/settings.sh --write

run: deps
	@$(MAKE) --no-print-directory all
	@exec etc/run-stack.sh

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(SOBJ:.o=.d) $(UNIT_BIN:=.d) $(SUNIT_BIN:=.d)
