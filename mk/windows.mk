# The Windows agent, cross-built with mingw-w64 (included by Makefile).
#
#   make windows          eduwatch-agent.exe, its MSI and the unit tests for wine
#   make windows-tests    the unit tests only
#
# The libraries come from scripts/windows-deps.sh, a static sysroot cached
# outside the clone; build/windows/sysroot links to it. The same sources as
# the Linux build, with common/compat/win32.h force-included before
# common/banned.h, and agent/platform/windows in place of platform/linux.

WIN_O       := $(BUILD)/windows
WIN_SYSROOT := $(WIN_O)/sysroot
WIN_CC      := x86_64-w64-mingw32-gcc
WIN_AR      := x86_64-w64-mingw32-ar

# gnu11, not c11: mingw's headers hide POSIX names (fileno, strdup) under
# __STRICT_ANSI__. MINGW_ANSI_STDIO gives C99 printf (%zu, %lld) instead
# of msvcrt's; gcc still checks format attributes in msvcrt's dialect
# (no %zu) there, so format checking is left to the Linux build of the
# same strings (-Wno-format). _WIN32_WINNT: Windows 10 APIs (inet_pton, SRW locks).
WIN_CFLAGS := -std=gnu11 -D_GNU_SOURCE -D_POSIX_C_SOURCE=200809L \
	-D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN \
	-DYAML_DECLARE_STATIC -I. -Icommon/compat/include \
	-Itests/support/compat/include \
	-I$(WIN_SYSROOT)/include \
	-include common/compat/win32.h -include common/banned.h \
	-g $(WARN) -Wno-format -O2 -fstack-protector-strong \
	-D_FORTIFY_SOURCE=2
# ASLR with 64-bit entropy, DEP, and no writable+executable section
# (checked by windows-check below). gcc 12 has no Control Flow Guard for
# mingw (-mguard=cf came in gcc 13).
WIN_LDFLAGS := -static -Wl,--dynamicbase -Wl,--high-entropy-va \
	-Wl,--nxcompat -Wl,--image-base,0x140000000 \
	$(shell $(WIN_CC) -print-file-name=binmode.o 2>/dev/null)
WIN_LIBS := -L$(WIN_SYSROOT)/lib -lyara -lsqlite3 -luv -lssl -lcrypto \
	-lmsgpackc -lzstd -lyaml -lws2_32 -liphlpapi -luserenv -ldbghelp \
	-lole32 -loleaut32 -lwbemuuid -luuid -lcrypt32 -lbcrypt -lpsapi \
	-luser32 -ladvapi32 -lshell32 -lwtsapi32 -lnetapi32 -lvssapi -ladvapi32 -lssp -lpthread

WIN_COMMON_SRC := $(COMMON_SRC) common/compat/win32.c
# The agent modules that build for Windows today. Scanning (its child and
# isolation), backups and the LAN sensor are ported next, each behind
# agent/platform/.
WIN_AGENT_SRC := $(filter-out agent/core/childproc.c,\
	$(sort $(wildcard agent/core/*.c))) \
	$(sort $(wildcard agent/*/*_settings.c)) \
	agent/av/avstatus.c agent/av/src_av.c agent/backup/chunker.c \
	agent/scan/src_scan.c agent/scan/scancache.c agent/scan/scanmatch.c \
	agent/net/iocset.c agent/net/netparse.c agent/platform/uvinventory.c \
	agent/upgrade/tries.c \
	$(sort $(wildcard agent/platform/windows/*.c))
WIN_SUPPORT_SRC := tests/support/testutil.c tests/support/jsoncheck.c \
	tests/support/eventmix.c tests/support/compat/ftw_win32.c
# The unit suites that are not Linux-specific.
WIN_UNITS := test_wire test_event test_config test_command test_avstatus \
	test_dynbuf test_log test_spool test_netparse \
	test_portable test_rulebundle test_upgrade_tries
# Suites of Windows-only code (tests/unit/windows/).
WIN_UNITS += test_winjail test_npcap test_wininventory test_volumes test_vss

win_obj = $(patsubst %.c,$(WIN_O)/obj/%.o,$(1))

WIN_LIB_COMMON  := $(WIN_O)/lib/libew-common.a
WIN_LIB_AGENT   := $(WIN_O)/lib/libew-agent.a
WIN_LIB_SUPPORT := $(WIN_O)/lib/libew-support.a
WIN_UNIT_BINS   := $(patsubst %,$(WIN_O)/tests/%.exe,$(WIN_UNITS))
WIN_AGENT_EXE   := $(WIN_O)/bin/eduwatch-agent.exe
WIN_VERSION     := $(shell sed -n 's/^\#define EDUWATCH_VERSION "\(.*\)"/\1/p' common/version.h)
WIN_MSI         := $(WIN_O)/bin/eduwatch-agent-$(WIN_VERSION)-x64.msi
WIN_WXS         := packaging/windows/eduwatch-agent.wxs
# The same .exe as a newer version, for the MSI upgrade test.
WIN_NEXT_VERSION := $(shell echo $(WIN_VERSION) | awk -F. '{print $$1 "." $$2 "." $$3 + 1}')
WIN_NEXT_MSI    := $(WIN_O)/tests/eduwatch-agent-$(WIN_NEXT_VERSION)-x64.msi

.PHONY: windows windows-deps windows-tests windows-check

windows-deps:
	@scripts/windows-deps.sh $(BUILD) >/dev/null

windows: windows-deps
	@$(MAKE) --no-print-directory $(WIN_AGENT_EXE) $(WIN_MSI) windows-tests
	@scripts/windows-check.sh $(WIN_AGENT_EXE)

# wine_drive.exe: a removable drive arriving under wine (windows_agent.sh).
WIN_WINE_DRIVE := $(WIN_O)/tests/wine_drive.exe

windows-tests: $(WIN_UNIT_BINS) $(WIN_NEXT_MSI) $(WIN_WINE_DRIVE)

$(WIN_WINE_DRIVE): tests/support/windows/wine_drive.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [windows] $@")
	$(Q)$(WIN_CC) $(WIN_CFLAGS) $(WIN_LDFLAGS) -o $@ $<

$(WIN_O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC [windows] $<")
	$(Q)$(WIN_CC) $(WIN_CFLAGS) -MMD -MP -c $< -o $@

$(WIN_LIB_COMMON): $(call win_obj,$(WIN_COMMON_SRC))
$(WIN_LIB_AGENT): $(call win_obj,$(WIN_AGENT_SRC))
$(WIN_LIB_SUPPORT): $(call win_obj,$(WIN_SUPPORT_SRC))
$(WIN_O)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(Q)$(WIN_AR) rcs $@ $^

$(WIN_AGENT_EXE): $(call win_obj,agent/main.c) $(WIN_LIB_AGENT) $(WIN_LIB_COMMON)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [windows] $@")
	$(Q)$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

# The MSI (packaging/windows/eduwatch-agent.wxs). wixl schedules a
# MajorUpgrade's RemoveExistingProducts after InstallFinalize and has no
# Schedule attribute: the old version's service would then be stopped
# after the new one started. msibuild moves it to right after
# InstallInitialize, where the old version is removed whole first.
define win_msi
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  MSI [windows] $@")
	$(Q)wixl -a x64 -D Version=$* -D AgentExe=$(WIN_AGENT_EXE) -o $@.tmp $(WIN_WXS)
	$(Q)msibuild $@.tmp -q "UPDATE InstallExecuteSequence SET Sequence=1510 \
		WHERE Action='RemoveExistingProducts'"
	$(Q)mv $@.tmp $@
endef
$(WIN_O)/bin/eduwatch-agent-%-x64.msi: $(WIN_AGENT_EXE) $(WIN_WXS)
	$(win_msi)
$(WIN_O)/tests/eduwatch-agent-%-x64.msi: $(WIN_AGENT_EXE) $(WIN_WXS)
	$(win_msi)

define win_unit_link
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD [windows] $@")
	$(Q)$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ -lcmocka-static $(WIN_LIBS)
endef
$(WIN_O)/tests/%.exe: $(call win_obj,tests/unit/%.c) $(WIN_LIB_SUPPORT) \
		$(WIN_LIB_AGENT) $(WIN_LIB_COMMON)
	$(win_unit_link)
$(WIN_O)/tests/%.exe: $(call win_obj,tests/unit/windows/%.c) $(WIN_LIB_SUPPORT) \
		$(WIN_LIB_AGENT) $(WIN_LIB_COMMON)
	$(win_unit_link)

-include $(shell find $(WIN_O)/obj -name "*.d" 2>/dev/null)
