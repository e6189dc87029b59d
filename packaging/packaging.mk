# Installing and packaging: `make install`, the man pages and bash
# completion, `make deb`, `make rpm`, `make package-test`. Included by the
# Makefile; everything here works on the binaries of $(O).

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/eduwatch
# Debian 12 keeps units in /lib (lintian's systemd-service-file-outside-lib);
# debian/rules sets UNITDIR=/lib/systemd/system.
UNITDIR     ?= $(PREFIX)/lib/systemd/system
# The agent's releases: the unit runs RELEASEDIR/current/eduwatch-agent
# (agent/upgrade/swap.h); the agent's own default is /usr/lib/eduwatch.
RELEASEDIR  ?= $(PREFIX)/lib/eduwatch
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions

# A binary finds its rules at BINDIR/../share/eduwatch/rules
# (common/sharedir.h). In the build tree that is a link to the source
# tree's rules/, so the README's steps work from build/release/bin too.
SHARE_LINK := $(O)/share/eduwatch/rules
MAN_DIR    := $(O)/man
MAN_STAMP  := $(MAN_DIR)/.generated
PROGRAMS   := $(COLLECTOR_BIN) $(AGENT_BIN)

.PHONY: man deb rpm package-test

binaries: $(SHARE_LINK)
$(SHARE_LINK):
	@mkdir -p $(dir $@)
	$(Q)ln -sfn $(CURDIR)/rules $@

# One source: the usage text compiled into each program.
man: $(MAN_STAMP)
$(MAN_STAMP): $(PROGRAMS) packaging/manpages.py
	@rm -rf $(MAN_DIR)
	@mkdir -p $(MAN_DIR)
	$(Q)python3 packaging/manpages.py $(MAN_DIR) $(PROGRAMS)
	@touch $@

# The units name /usr/bin and /usr/lib/eduwatch; any other BINDIR and
# RELEASEDIR get their own paths written in (and the agent is told its
# release folder). A real install (no DESTDIR) seeds the release the
# agent unit runs, as the packages' postinst does.
UNIT_SED := -e 's|/usr/bin/eduwatch-|$(BINDIR)/eduwatch-|g' \
	-e 's|/usr/lib/eduwatch|$(RELEASEDIR)|g' \
	$(if $(filter /usr/lib/eduwatch,$(RELEASEDIR)),,-e 's|/current/eduwatch-agent run$$|/current/eduwatch-agent run -o upgrade.root=$(RELEASEDIR)|')
install: binaries man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/eduwatch \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(COLLECTOR_BIN) $(AGENT_BIN) $(HELPER_BINS) \
		$(DESTDIR)$(BINDIR)/
	rm -rf $(DESTDIR)$(DATADIR)/eduwatch/rules
	cd rules && find . -type d -exec install -d -m 0755 \
		$(abspath $(DESTDIR)$(DATADIR))/eduwatch/rules/{} \;
	cd rules && find . -type f -exec install -m 0644 {} \
		$(abspath $(DESTDIR)$(DATADIR))/eduwatch/rules/{} \;
	for u in packaging/systemd/*.service packaging/systemd/*.timer; do \
		sed $(UNIT_SED) $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 $(MAN_DIR)/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN_DIR)/completion/* $(DESTDIR)$(BASHCOMPDIR)/
	install -m 0644 README.md SECURITY.md docs/DECISIONS.md $(DESTDIR)$(DOCDIR)/
	$(if $(DESTDIR),,$(BINDIR)/eduwatch-agent upgrade seed --root $(RELEASEDIR))

# Debian packages (debian/), built from this tree's objects; the .debs
# land in $(O)/deb.
deb:
	@packaging/build-deb.sh $(O)

# One spec, built with Debian's rpm; the .rpms land in $(O)/rpm.
rpm: binaries man
	@packaging/build-rpm.sh $(O)

# The long package checks: piuparts install/upgrade/purge in a clean
# Debian 12 (make test runs the shorter dpkg cycle of package_deb.sh).
package-test: deps-test deb
	@EW_DEB_DIR=$(abspath $(O))/deb tests/package/piuparts.sh
