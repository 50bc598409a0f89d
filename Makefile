# Lathe's build. One non-recursive Makefile that discovers its inputs:
#   libs/<lib>/src/*.c              -> build/<variant>/lib/lib<lib>.a
#   libs/<lib>/migrations/*.sql     -> embedded into lib<lib>.a
#   services/<svc>/*.c              -> build/<variant>/bin/lathe-<svc>
#   services/<svc>/migrations/*.sql -> embedded into lathe-<svc>
#   proto/openapi/<svc>.yaml         -> embedded into lathe-<svc> (else common.yaml)
#   git describe                     -> core_version/core_commit (tools/gen-version.sh)
#   tools/devkafka/*.c              -> build/<variant>/bin/devkafka
#   tests/unit/<dir>/test_*.c       -> build/<variant>/tests/unit/<dir>/test_*
#   tests/integration/test_*.c      -> build/<variant>/tests/integration/test_*
# Variants: release (default: -O2 -g) and asan (ASan + UBSan on compile and link lines).
# Adding a file needs no edit here; adding a library means adding it to LIBS.

VARIANT ?= release
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
BUILD   ?= build/$(VARIANT)
CC      ?= gcc

# Link order: a library may use only those to its right.
LIBS := svc http bus db metrics blob core

PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS_release := -O2 -g
CFLAGS_valgrind := -O0 -g
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_asan   := -fsanitize=address,undefined
CFLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -ffp-contract=off $(CFLAGS_$(VARIANT)) -MMD -MP
LDFLAGS := $(LDFLAGS_$(VARIANT))
INCLUDES := $(foreach l,$(LIBS),-Ilibs/$(l)/include) -I$(BUILD)/gen -Itests/harness $(PKG_CFLAGS)
LDLIBS  := $(foreach l,$(LIBS),$(BUILD)/lib/lib$(l).a) $(PKG_LIBS) -lpthread -lm

SERVICES := $(notdir $(wildcard services/*))
LIB_ARCHIVES := $(foreach l,$(LIBS),$(BUILD)/lib/lib$(l).a)
SVC_BINS := $(foreach s,$(SERVICES),$(BUILD)/bin/lathe-$(s))
TOOL_BINS := $(BUILD)/bin/devkafka
EMBED := $(BUILD)/tools/embed
GEN_ERRORS := $(BUILD)/gen/http/errors_gen.h $(BUILD)/gen/http/errors_gen.c
GEN_VERSION := $(BUILD)/gen/libs/core/version_gen.c
# Where there is no git checkout (container builds): make LATHE_VERSION=... LATHE_COMMIT=...
LATHE_VERSION ?=
LATHE_COMMIT ?=

UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRCS))
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst %.c,$(BUILD)/%,$(INTEG_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst %.c,$(BUILD)/%,$(BENCH_SRCS))
HARNESS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/harness/*.c))

.PHONY: FORCE all deps build test test-plain test-asan test-valgrind bench run clean check-style check-symbols readme-settings
.DEFAULT_GOAL := all

all: $(LIB_ARCHIVES) $(SVC_BINS) $(TOOL_BINS) $(UNIT_BINS) $(INTEG_BINS) $(BENCH_BINS)

deps:
	@tools/deps.sh

# The README's test command: deps, then every suite plain and under the sanitizers.
test: deps
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release all
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=asan all
	tools/run-tests.sh build/release build/asan

test-plain: deps
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release all
	tools/run-tests.sh build/release

test-asan: deps
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=asan all
	tools/run-tests.sh build/asan

# Unit suites under valgrind (memcheck), in their own -O0 build.
test-valgrind: deps
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=valgrind all
	VALGRIND=1 TEST_DIRS=tests/unit tools/run-tests.sh build/valgrind

bench: deps
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release all
	tools/run-bench.sh build/release

# The README's run command: the whole local stack in the foreground.
run: deps
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release all
	tools/run-stack.sh build/release

check-style:
	tools/checksrc.sh

check-symbols: $(LIB_ARCHIVES)
	tools/check-symbols.sh $(BUILD)/lib $(LIBS)

clean:
	rm -rf build

# --- generated sources -------------------------------------------------------

$(EMBED): tools/embed/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -o $@ $<

$(GEN_ERRORS) &: proto/errors.csv tools/gen-errors.sh
	@mkdir -p $(dir $@)
	tools/gen-errors.sh proto/errors.csv $(BUILD)/gen/http/errors_gen

# Rewritten only when the version or commit changed (so a commit relinks, nothing more).
$(GEN_VERSION): FORCE
	@LATHE_VERSION='$(LATHE_VERSION)' LATHE_COMMIT='$(LATHE_COMMIT)' tools/gen-version.sh $@

# --- libraries ---------------------------------------------------------------

define LIB_template
$(1)_SRCS := $$(wildcard libs/$(1)/src/*.c)
$(1)_OBJS := $$(patsubst %.c,$$(BUILD)/obj/%.o,$$($(1)_SRCS))
$(1)_SQL  := $$(sort $$(wildcard libs/$(1)/migrations/*.sql))
ifneq ($$($(1)_SQL),)
$(1)_OBJS += $$(BUILD)/obj/libs/$(1)/migrations_embed.o
$$(BUILD)/gen/libs/$(1)/migrations_embed.c: $$($(1)_SQL) $$(EMBED)
	@mkdir -p $$(dir $$@)
	$$(EMBED) $(1)_migrations $$($(1)_SQL) > $$@.tmp && mv $$@.tmp $$@
endif
$$(BUILD)/lib/lib$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LIBS),$(eval $(call LIB_template,$(l))))

http_OBJS += $(BUILD)/obj/gen/http/errors_gen.o
$(BUILD)/lib/libhttp.a: $(BUILD)/obj/gen/http/errors_gen.o
core_OBJS += $(BUILD)/obj/gen/libs/core/version_gen.o
$(BUILD)/lib/libcore.a: $(BUILD)/obj/gen/libs/core/version_gen.o

# --- services ----------------------------------------------------------------

define SVC_template
$(1)_SRCS := $$(wildcard services/$(1)/*.c)
$(1)_OBJS := $$(patsubst %.c,$$(BUILD)/obj/%.o,$$($(1)_SRCS)) $$(BUILD)/obj/services/$(1)/migrations_embed.o
$$(BUILD)/gen/services/$(1)/migrations_embed.c: $$(sort $$(wildcard services/$(1)/migrations/*.sql)) $$(EMBED)
	@mkdir -p $$(dir $$@)
	$$(EMBED) svc_migrations $$(sort $$(wildcard services/$(1)/migrations/*.sql)) > $$@.tmp && mv $$@.tmp $$@
# Its OpenAPI document for GET /openapi.json: its own, else the one every daemon shares.
$(1)_OPENAPI := $$(firstword $$(wildcard proto/openapi/$(1).yaml) proto/openapi/common.yaml)
$(1)_OBJS += $$(BUILD)/obj/services/$(1)/openapi_embed.o
$$(BUILD)/gen/services/$(1)/openapi_embed.c: $$($(1)_OPENAPI) $$(EMBED)
	@mkdir -p $$(dir $$@)
	$$(EMBED) svc_openapi $$($(1)_OPENAPI) > $$@.tmp && mv $$@.tmp $$@
$$(BUILD)/bin/lathe-$(1): $$($(1)_OBJS) $$(LIB_ARCHIVES)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call SVC_template,$(s))))

# --- tools and tests ---------------------------------------------------------

$(BUILD)/bin/devkafka: $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/devkafka/*.c)) $(BUILD)/obj/gen/libs/core/version_gen.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(HARNESS_OBJS) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(HARNESS_OBJS) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(HARNESS_OBJS) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(LDLIBS) $(CHECK_LIBS)

# --- compiling ---------------------------------------------------------------

# Every object waits for the generated headers, so a clean parallel build is safe.
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c | $(GEN_ERRORS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -c -o $@ $<

$(BUILD)/obj/%.o: $(BUILD)/gen/%.c | $(GEN_ERRORS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -c -o $@ $<

$(BUILD)/obj/%.o: %.c | $(GEN_ERRORS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -c -o $@ $<

.SECONDARY:
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
