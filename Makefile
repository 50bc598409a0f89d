# Lathe's build. One non-recursive Makefile that discovers its inputs:
#   libs/<lib>/src/*.c              -> build/<variant>/lib/lib<lib>.a
#   libs/<lib>/migrations/*.sql     -> embedded into lib<lib>.a
#   services/<svc>/*.c but main.c   -> build/<variant>/lib/lib<svc>.a
#   services/<svc>/migrations/*.sql -> embedded into lib<svc>.a (svc_migrations)
#   proto/openapi/<svc>.yaml        -> embedded into lib<svc>.a (svc_openapi; else common.yaml)
#   services/<svc>/main.c           -> build/<variant>/bin/lathe-<svc>: main.o + lib<svc>.a
#   git describe                    -> core_version/core_commit in libcore.a (tools/gen-version.sh)
#   tools/devkafka/*.c              -> build/<variant>/bin/devkafka
#   cli/*.c but main.c              -> build/<variant>/lib/libcli.a (the `lathe` command's code)
#   cli/main.c                      -> build/<variant>/bin/lathe: main.o + libcli.a
#   tests/unit/<dir>/test_*.c       -> build/<variant>/tests/unit/<dir>/test_*
#                                      (tests/unit/cli/ also links libcli.a, with -Icli)
#   tests/unit/services/<svc>/test_*.c
#                                   -> build/<variant>/tests/unit/services/<svc>/test_*,
#                                      linked with lib<svc>.a, compiled with -Iservices/<svc>
#   tests/integration/test_*.c      -> build/<variant>/tests/integration/test_*
#   tests/e2e/test_*.c              -> build/<variant>/tests/e2e/test_* (the whole stack and `lathe demo`)
# Each binary links only the libraries and packages it declares (see "What each binary
# links" below); build/<variant>/links/<binary>.pkgs records the packages, and
# tests/integration/test_link_lists.c fails when a binary links anything else.
# Only objects under tests/ see tests/harness.
# Variants: release (default: -O2 -g) and asan (ASan + UBSan on compile and link lines).
# Adding a file needs no edit here; adding a library means adding it to LIBS (and its
# packages to PKGS and to the lists of the binaries that use it).

VARIANT ?= release
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
BUILD   ?= build/$(VARIANT)
CC      ?= gcc

# Link order: a library may use only those to its right.
LIBS := svc pkgfetch http bus db metrics mlflow blob img stats ml core

# Every package some binary uses (pkg-config names). Compile lines get all their -I
# flags; link lines get only the packages of the binary being linked.
PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto libpng libjpeg libdeflate libarchive zlib openblas cairo fontconfig
# Libraries that ship no pkg-config file, as raw link flags (libcsv: Debian libcsv-dev).
# A binary that uses one names it in <bin>_LDLIBS; test programs get them all.
RAW_LIBS := -lcsv -lfontconfig
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

# --- What each binary links --------------------------------------------------
# A daemon links only what it uses, so a package that arrives for one service
# (OpenBLAS for the trainer, libjpeg and libpng for the data registry and the inference
# API) never loads into the others. <svc>_LIBS names libraries (in any order: the link
# follows LIBS); <svc>_PKGS names pkg-config packages. A service that declares neither
# gets the daemon frame, SVC_LIBS and SVC_PKGS: libsvc and what it stands on.
# -Wl,--as-needed drops a declared package nothing uses, and test_link_lists fails on
# that too, so a list says exactly what its binary loads. <svc>_LDLIBS names raw -l flags
# for libraries without a pkg-config file (from RAW_LIBS); the checker takes them as
# they are.
SVC_LIBS := svc http bus db metrics core
SVC_PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto

experiment-tracker_LIBS := svc http bus db metrics mlflow blob core
experiment-tracker_PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto
model-registry_LIBS := svc http bus db metrics mlflow core
model-registry_PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto
data-registry_LIBS := svc http bus db metrics blob img stats ml core
data-registry_PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto libpng libjpeg libdeflate libarchive zlib
trainer_LIBS := svc pkgfetch http bus db metrics mlflow blob img stats ml core
trainer_PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto openblas cairo
trainer_LDLIBS := -lfontconfig
data-registry_LDLIBS := -lcsv
inference-api_LIBS := svc pkgfetch http bus db metrics mlflow img ml core
inference-api_PKGS := libmicrohttpd jansson libpq rdkafka libcurl libcrypto libpng libjpeg libdeflate openblas
inference-api_LDLIBS := -lcsv
drift-monitor_LIBS := svc http bus db metrics mlflow stats core
drift-monitor_LDLIBS := -lcsv
devkafka_PKGS := rdkafka
# The `lathe` command: a client, so no daemon frame: libcore (sha256, files, version),
# libimg and libpng for the PNG folders `lathe demo` writes, zlib for the IDX files it reads,
# and what it speaks HTTP and JSON with.
cli_LIBS := img core
cli_PKGS := libcurl jansson libcrypto libpng zlib

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS_release := -O2 -g
CFLAGS_valgrind := -O0 -g
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_asan   := -fsanitize=address,undefined
CFLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -ffp-contract=off $(CFLAGS_$(VARIANT)) -MMD -MP
LDFLAGS := -Wl,--as-needed $(LDFLAGS_$(VARIANT))
INCLUDES := $(foreach l,$(LIBS),-Ilibs/$(l)/include) -I$(BUILD)/gen $(PKG_CFLAGS)
# Test programs link everything: what they link is nobody's footprint.
LDLIBS  := $(foreach l,$(LIBS),$(BUILD)/lib/lib$(l).a) $(PKG_LIBS) $(RAW_LIBS) -lpthread -lm

SERVICES := $(notdir $(patsubst %/,%,$(wildcard services/*/)))
LIB_ARCHIVES := $(foreach l,$(LIBS),$(BUILD)/lib/lib$(l).a)
SVC_ARCHIVES := $(foreach s,$(SERVICES),$(BUILD)/lib/lib$(s).a)
SVC_BINS := $(foreach s,$(SERVICES),$(BUILD)/bin/lathe-$(s))
LINK_LISTS := $(foreach s,$(SERVICES),$(BUILD)/links/lathe-$(s).pkgs) $(BUILD)/links/devkafka.pkgs \
	$(BUILD)/links/lathe.pkgs
TOOL_BINS := $(BUILD)/bin/devkafka $(BUILD)/bin/lathe
CLI_SRCS := $(filter-out cli/main.c,$(wildcard cli/*.c))
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
CLI_ARCHIVE := $(BUILD)/lib/libcli.a
EMBED := $(BUILD)/tools/embed
GEN_ERRORS := $(BUILD)/gen/http/errors_gen.h $(BUILD)/gen/http/errors_gen.c
GEN_VERSION := $(BUILD)/gen/libs/core/version_gen.c
# Where there is no git checkout (container builds): make LATHE_VERSION=... LATHE_COMMIT=...
LATHE_VERSION ?=
LATHE_COMMIT ?=

UNIT_SRCS := $(wildcard tests/unit/*/test_*.c tests/unit/services/*/test_*.c)
UNIT_BINS := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRCS))
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst %.c,$(BUILD)/%,$(INTEG_SRCS))
E2E_SRCS := $(wildcard tests/e2e/test_*.c)
E2E_BINS := $(patsubst %.c,$(BUILD)/%,$(E2E_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst %.c,$(BUILD)/%,$(BENCH_SRCS))
HARNESS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/harness/*.c))

.PHONY: FORCE all deps build test test-plain test-asan test-valgrind bench run demo clean check-style check-symbols readme-settings
.DEFAULT_GOAL := all

all: $(LIB_ARCHIVES) $(SVC_ARCHIVES) $(CLI_ARCHIVE) $(SVC_BINS) $(TOOL_BINS) $(LINK_LISTS) $(UNIT_BINS) $(INTEG_BINS) $(E2E_BINS) $(BENCH_BINS)

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

# The README's demo: `lathe demo` against the stack `make run` started (in another
# terminal); DEMO_ARGS passes options (make demo DEMO_ARGS=--quick).
demo:
	$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release $(BUILD)/bin/lathe
	$(BUILD)/bin/lathe demo $(DEMO_ARGS)

check-style:
	tools/checksrc.sh

check-symbols: $(LIB_ARCHIVES) $(CLI_ARCHIVE)
	tools/check-symbols.sh $(BUILD)/lib $(LIBS) cli

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
# libs/ml's element-wise training loops, vectorised (libs/ml/src/nn_kern.c says why).
$(BUILD)/obj/libs/ml/src/nn_kern.o: CFLAGS += -O3 -fno-math-errno
# and the portable loop of a frozen dense layer's rows (nn_rows.c)
$(BUILD)/obj/libs/ml/src/nn_rows.o: CFLAGS += -O3

# --- services ----------------------------------------------------------------

# lib<svc>.a holds everything but main.o, so a unit test can link the service's code
# and call it through the service's private header. The migrations go in too: main.c
# names svc_migrations, which pulls them into the daemon; tests that don't, skip them.
define SVC_template
$(1)_LIBS ?= $$(SVC_LIBS)
$(1)_PKGS ?= $$(SVC_PKGS)
$(1)_LDLIBS ?=
$$(if $$(filter-out $$(RAW_LIBS),$$($(1)_LDLIBS)),$$(error $(1)_LDLIBS names $$(filter-out $$(RAW_LIBS),$$($(1)_LDLIBS)), not in RAW_LIBS))
$$(if $$(filter-out $$(LIBS),$$($(1)_LIBS)),$$(error $(1)_LIBS names $$(filter-out $$(LIBS),$$($(1)_LIBS)), not in LIBS))
$(1)_ARCHIVES := $$(foreach l,$$(filter $$($(1)_LIBS),$$(LIBS)),$$(BUILD)/lib/lib$$(l).a)
$(1)_LDPKGS := $$(shell pkg-config --libs $$($(1)_PKGS) 2>/dev/null)
$(1)_SRCS := $$(filter-out services/$(1)/main.c,$$(wildcard services/$(1)/*.c))
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
$$(BUILD)/lib/lib$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
$$(BUILD)/bin/lathe-$(1): $$(BUILD)/obj/services/$(1)/main.o $$(BUILD)/lib/lib$(1).a $$($(1)_ARCHIVES) Makefile
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(BUILD)/lib/lib$(1).a $$($(1)_ARCHIVES) $$($(1)_LDPKGS) $$($(1)_LDLIBS) -lpthread -lm
$$(BUILD)/links/lathe-$(1).pkgs: Makefile
	@mkdir -p $$(dir $$@)
	echo '$$($(1)_PKGS) $$($(1)_LDLIBS)' > $$@
$$(BUILD)/tests/unit/services/$(1)/%: $$(BUILD)/obj/tests/unit/services/$(1)/%.o $$(HARNESS_OBJS) $$(BUILD)/lib/lib$(1).a $$(LIB_ARCHIVES)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(HARNESS_OBJS) $$(BUILD)/lib/lib$(1).a $$(LDLIBS) $$(CHECK_LIBS)
$$(BUILD)/obj/tests/unit/services/$(1)/%.o: SVC_INCLUDES := -Iservices/$(1)
endef
$(foreach s,$(SERVICES),$(eval $(call SVC_template,$(s))))

# --- tools and tests ---------------------------------------------------------

$(BUILD)/bin/devkafka: $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/devkafka/*.c)) $(BUILD)/obj/gen/libs/core/version_gen.o Makefile
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(shell pkg-config --libs $(devkafka_PKGS) 2>/dev/null) -lpthread

$(BUILD)/links/devkafka.pkgs: Makefile
	@mkdir -p $(dir $@)
	echo '$(devkafka_PKGS)' > $@

# The `lathe` command (cli/README.md). Its code but main.c is an archive, so its unit
# tests (tests/unit/cli/) call it through cli/cli.h.
$(CLI_ARCHIVE): $(CLI_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/lathe: $(BUILD)/obj/cli/main.o $(CLI_ARCHIVE) $(foreach l,$(filter $(cli_LIBS),$(LIBS)),$(BUILD)/lib/lib$(l).a) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CLI_ARCHIVE) $(foreach l,$(filter $(cli_LIBS),$(LIBS)),$(BUILD)/lib/lib$(l).a) \
		$(shell pkg-config --libs $(cli_PKGS) 2>/dev/null) -lpthread -lm

$(BUILD)/links/lathe.pkgs: Makefile
	@mkdir -p $(dir $@)
	echo '$(cli_PKGS)' > $@

$(BUILD)/tests/unit/cli/%: $(BUILD)/obj/tests/unit/cli/%.o $(HARNESS_OBJS) $(CLI_ARCHIVE) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(CLI_ARCHIVE) $(LDLIBS) $(CHECK_LIBS)
$(BUILD)/obj/tests/unit/cli/%.o: SVC_INCLUDES := -Icli

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(HARNESS_OBJS) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(HARNESS_OBJS) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/tests/e2e/%: $(BUILD)/obj/tests/e2e/%.o $(HARNESS_OBJS) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(HARNESS_OBJS) $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(LDLIBS) $(CHECK_LIBS)

# The batch drift bench reports through the drift monitor's own table.c, as its unit tests do.
$(BUILD)/tests/bench/bench_drift_batch: $(BUILD)/obj/tests/bench/bench_drift_batch.o $(HARNESS_OBJS) \
		$(BUILD)/lib/libdrift-monitor.a $(LIB_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_OBJS) $(BUILD)/lib/libdrift-monitor.a $(LDLIBS) $(CHECK_LIBS)
$(BUILD)/obj/tests/bench/bench_drift_batch.o: SVC_INCLUDES := -Iservices/drift-monitor

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

# Test code alone sees the harness, and a service's tests its private header.
$(BUILD)/obj/tests/%.o: tests/%.c | $(GEN_ERRORS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) $(SVC_INCLUDES) -Itests/harness -c -o $@ $<

.SECONDARY:
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
