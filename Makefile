# eduwatch build. `make` builds release binaries into build/release;
# `make test` runs every suite; see README.md for the rest.

BUILD    ?= build
# One spelling of the build folder however BUILD is given: the tests run
# `make -C TREE BUILD=/abs/build install`, and an object compiled then had
# its dependency file name an absolute target, which the everyday relative
# make never matched, so a header change left that object stale (a struct
# laid out two ways in one binary, found as a corrupt lock under ASan).
override BUILD := $(patsubst $(CURDIR)/%,%,$(abspath $(BUILD)))
VARIANT  ?= release
O        := $(BUILD)/$(VARIANT)
PKGS     := libuv openssl msgpack yara libpcap sqlite3 yaml-0.1 libzstd \
            libseccomp libcurl libh2o libargon2
PKGS     += pangocairo pangoft2 fontconfig cairo-pdf xlsxwriter
# libpq: the PostgreSQL store backend (collector/store_pg*.c).
PKGS     += libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
# common/banned.h poisons the calls STYLE.md bans, in every file.
BASE     := -std=c11 -D_GNU_SOURCE -I. -include common/banned.h -g $(WARN) \
            $(PKG_CFLAGS)

ifeq ($(VARIANT),release)
  CC       := gcc
  CFLAGS   := $(BASE) -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
              -Wno-format-truncation \
              -fstack-clash-protection -fcf-protection -fPIE
  LDFLAGS  := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
else ifeq ($(VARIANT),asan)
  CC       := clang
  CFLAGS   := $(BASE) -O1 -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=all \
              -DEDUWATCH_SANITIZED=1
  LDFLAGS  := -fsanitize=address,undefined
else ifeq ($(VARIANT),fuzz)
  CC       := clang
  CFLAGS   := $(BASE) -O1 -fno-omit-frame-pointer \
              -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=all -DEDUWATCH_FUZZING=1
  LDFLAGS  := -fsanitize=fuzzer,address,undefined
else
  $(error VARIANT must be release, asan or fuzz)
endif
LIBS := $(PKG_LIBS) -lm

COMMON_SRC    := $(sort $(wildcard common/*.c))
# The collector is its top folder plus one folder per larger capability
# (web/: the officers' console; register/: the register of information
# systems; report/: the reports, rendered with cairo, pango and
# libxlsxwriter).
COLLECTOR_SRC := $(filter-out collector/main.c,$(sort $(wildcard collector/*.c \
                   collector/web/*.c collector/register/*.c collector/report/*.c \
                   collector/drill/*.c)))
# The agent is one folder per capability (core, av, scan, backup, net) and
# a platform layer; only this machine's platform is built.
# The agent's helper executables (scanner, sensor, backup) each have a
# main_NAME.c in their capability's folder and become bin/eduwatch-NAME.
HELPER_MAINS  := $(sort $(shell find agent -name 'main_*.c'))
AGENT_SRC     := $(filter-out agent/main.c agent/platform/windows/% $(HELPER_MAINS),\
                   $(sort $(shell find agent -name '*.c')))
UNIT_SRC      := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC      := $(sort $(wildcard tests/fuzz/fuzz_*.c))
SUPPORT_SRC   := $(sort $(wildcard tests/support/*.c))
BENCH_SRC     := $(sort $(wildcard tests/bench/*.c))

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

LIB_COMMON    := $(O)/lib/libew-common.a
LIB_COLLECTOR := $(O)/lib/libew-collector.a
LIB_AGENT     := $(O)/lib/libew-agent.a
LIB_SUPPORT   := $(O)/lib/libew-support.a

COLLECTOR_BIN := $(O)/bin/eduwatch-collector
AGENT_BIN     := $(if $(wildcard agent/main.c),$(O)/bin/eduwatch-agent)
HELPER_BINS   := $(foreach m,$(HELPER_MAINS),\
                   $(O)/bin/eduwatch-$(patsubst main_%.c,%,$(notdir $(m))))
UNIT_BINS     := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRC))
BENCH_BINS    := $(patsubst tests/bench/%.c,$(O)/bench/%,$(BENCH_SRC))

.PHONY: all deps deps-test binaries tests fuzzers benches test fuzz bench \
        chaos run clean install
.DEFAULT_GOAL := all
# Keep objects: they are shared by the libraries and the test binaries.
.SECONDARY:

all: deps
	@$(MAKE) --no-print-directory binaries

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test

binaries: $(COLLECTOR_BIN) $(AGENT_BIN) $(HELPER_BINS)
tests: binaries $(UNIT_BINS) $(BENCH_BINS)
fuzzers: $(FUZZ_BINS)
benches: binaries $(BENCH_BINS)

Q := $(if $(V),,@)

# libxlsxwriter's headers define macros that use strncpy: they must come
# before common/banned.h poisons it (our code still cannot call it).
$(O)/obj/collector/report/report_xlsx.o: CFLAGS := -include xlsxwriter.h $(CFLAGS)
# FreeType's (under pango's fontconfig map) likewise, with sprintf and
# strcat.
$(O)/obj/collector/report/report_pdf.o: CFLAGS := -include pango/pangofc-fontmap.h $(CFLAGS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC [$(VARIANT)] $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The console's static files are embedded by .incbin, which -MMD does not see.
$(O)/obj/collector/web/assets.o: $(wildcard collector/web/assets/*.js \
                                   collector/web/assets/*/*.js collector/web/assets/*/*.css)

$(LIB_COMMON): $(call obj,$(COMMON_SRC))
$(LIB_COLLECTOR): $(call obj,$(COLLECTOR_SRC))
$(LIB_AGENT): $(call obj,$(AGENT_SRC))
$(LIB_SUPPORT): $(call obj,$(SUPPORT_SRC))
$(O)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(COLLECTOR_BIN): $(call obj,collector/main.c) $(LIB_COLLECTOR) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# --as-needed: each executable records only the libraries it calls, so the
# resident agent never maps libyara, libpcap or libseccomp (its helpers
# do; docs/DECISIONS.md).
$(O)/bin/eduwatch-agent: $(call obj,agent/main.c) $(LIB_AGENT) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -Wl,--as-needed $(LIBS)

define helper_rule
$(O)/bin/eduwatch-$(patsubst main_%.c,%,$(notdir $(1))): $(call obj,$(1)) $(LIB_AGENT) $(LIB_COMMON)
	@mkdir -p $$(dir $$@)
	@$$(if $$(V),,echo "  LD [$$(VARIANT)] $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ -Wl,--as-needed $$(LIBS)
endef
$(foreach m,$(HELPER_MAINS),$(eval $(call helper_rule,$(m))))

# Unit tests may test collector and agent internals; each links all libs.
TEST_LIBS := $(LIB_SUPPORT) $(LIB_COLLECTOR) $(if $(AGENT_SRC),$(LIB_AGENT)) $(LIB_COMMON)
$(O)/tests/%: $(call obj,tests/unit/%.c) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(O)/bench/%: $(call obj,tests/bench/%.c) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/fuzz/%: $(call obj,tests/fuzz/%.c) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [$(VARIANT)] $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- the commands in README.md -------------------------------------------

# Every suite: unit, integration and a short fuzz pass on the release build,
# then unit and integration again under ASan+UBSan. The last line counts.
# The three builds use every core: README's `make test` has no -j, and a
# serial build was 12 of CI's 25 minutes on 2 cores. The Windows build
# too (its sysroot script sets its own jobs; the agent's objects and the
# static links of its unit suites build as the others do).
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps-test
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) VARIANT=release tests
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) VARIANT=asan tests
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) VARIANT=fuzz fuzzers
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) windows
	@ONLY="$(ONLY)" tests/run.sh all

fuzz: deps-test
	@$(MAKE) --no-print-directory VARIANT=fuzz fuzzers
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/run.sh fuzz

bench: deps
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory VARIANT=release benches
	@tests/bench/run.sh

chaos: deps-test
	@$(MAKE) --no-print-directory VARIANT=release tests
	@CHAOS_LONG=1 tests/run.sh chaos
	@EW_OOM_FULL=1 ONLY=test_oom tests/run.sh unit

run: all
	@scripts/run-demo.sh

clean:
	rm -rf $(BUILD)

# The Windows agent (cross-built; its unit tests run under wine).
include mk/windows.mk

# make install, man pages, make deb/rpm/package-test.
include packaging/packaging.mk

-include $(shell find $(O) -name "*.d" 2>/dev/null)
