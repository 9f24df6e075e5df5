# tests/fuzz/fuzz.mk - builds the libFuzzer harnesses into build/fuzz/<harness>.
# Run through tests/fuzz/build.sh (make -f tests/fuzz/fuzz.mk from the
# repository root); standalone on purpose, so its names never meet the main
# Makefile's.
#
# src/*.c except main.c are compiled with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build/fuzz/obj/, with the
# warnings of the main build; each harness links them with -fsanitize=fuzzer.
# Every harness links the fake libfcgi (fuzz_fcgi.c) through --wrap, as the
# unit tests do, and the modules as an archive (build/fuzz/libaxon.a), as the
# unit tests do: a harness takes only the members it calls. fuzz_conv.c
# includes src/conv.c to reach its static parsers, so it defines every
# symbol of conv.o and that member is never taken.

FUZZ_CC ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo clang-14)
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wwrite-strings \
        -Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wvla
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CPPFLAGS := -Iinclude -Ibuild/gen -D_GNU_SOURCE -DAXON_MODELS_DEFAULT='"$(CURDIR)/etc/models.conf"'
FUZZ_CFLAGS := -std=c11 $(WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
LIBS := -lfcgi -ljson-c -lhiredis -lcurl -lcrypto -lpthread
FCGI_WRAP := -Wl,--wrap=FCGX_GetParam,--wrap=FCGX_GetStr,--wrap=FCGX_PutStr,--wrap=FCGX_PutS,--wrap=FCGX_FFlush,--wrap=FCGX_GetError

HARNESSES := request sse anthropic openai config conv seal resp
LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=build/fuzz/obj/%.o)
BINS := $(HARNESSES:%=build/fuzz/%)

.PHONY: all
all: $(BINS)

# The Lua scripts as C strings (pool.c, conv.c, thinking_store.c include
# them): the main Makefile's rule, run by the main Makefile.
LUA_H := build/gen/axon_lua.h
$(LUA_H): src/lua/embed.awk $(wildcard src/lua/*.lua)
	$(MAKE) --no-print-directory -f Makefile $@
$(LIB_OBJ) $(HARNESSES:%=build/fuzz/obj/fuzz_%.o): | $(LUA_H)

build/fuzz/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/obj/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/libaxon.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BINS): build/fuzz/%: build/fuzz/obj/fuzz_%.o build/fuzz/obj/fuzz_fcgi.o build/fuzz/libaxon.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< build/fuzz/obj/fuzz_fcgi.o \
	    build/fuzz/libaxon.a $(FCGI_WRAP) $(LIBS)

-include $(LIB_OBJ:.o=.d) $(HARNESSES:%=build/fuzz/obj/fuzz_%.d) build/fuzz/obj/fuzz_fcgi.d
