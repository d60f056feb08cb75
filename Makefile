# nook build. `make`, `make check` (root for integration), `make install`,
# `make lint`, `make demo`, `make bench`. See INSTALL.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/nook
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
PAMDIR ?= $(if $(MULTIARCH),/lib/$(MULTIARCH)/security,/lib/security)
DESTDIR ?=

CC ?= gcc
PKG_CONFIG ?= pkg-config
B := build

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes
HARDEN := -fstack-protector-strong -fstack-clash-protection
ifeq ($(SANITIZE),1)
  # ASan and _FORTIFY_SOURCE do not mix; the sanitizers check more anyway.
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  SAN_LDFLAGS := -fsanitize=address,undefined
else
  OPT := -O2 -g -D_FORTIFY_SOURCE=3
  SAN_LDFLAGS :=
endif
CFLAGS ?=
CFLAGS_ALL := -std=gnu11 $(OPT) $(WARN) $(HARDEN) -D_GNU_SOURCE -Icommon -I$(B)/gen -MMD -MP \
	-DNOOK_LIBEXECDIR='"$(LIBEXECDIR)"' $(CFLAGS)
LDFLAGS ?=

LIBS_HELPER := -lcap -lbsd -lext2fs -lcom_err -lmnl
LIBS_PAM := -lpam -lcap

CONF_SRC := $(wildcard common/conf-*.c)
COMMON_SRC := $(CONF_SRC) common/restrict.c common/util.c common/cgroup-path.c common/client.c \
	common/enter.c common/protocol.c common/rundir.c common/relay.c common/pts.c \
	common/trace.c common/pam-service.c
COMMON_PIC := $(COMMON_SRC:%.c=$(B)/pic/%.o)
COMMON_PIE := $(COMMON_SRC:%.c=$(B)/pie/%.o) $(B)/pie/common/log.o

HELPER_LIB_SRC := $(filter-out helper/main-helper.c helper/main-nookctl.c,$(wildcard helper/*.c))
HELPER_LIB := $(HELPER_LIB_SRC:%.c=$(B)/pie/%.o)

PAM_SRC := $(wildcard pam_module/*.c)
PAM_OBJ := $(PAM_SRC:%.c=$(B)/pic/%.o)

UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

PROGRAMS := $(B)/nook-helper $(B)/nookctl
ifneq ($(PAM_SRC),)
PROGRAMS += $(B)/pam_nook.so
endif

# Objects depend on the flags they were built with: a different PREFIX
# (compiled into pam_nook.so as the helper's path) or SANITIZE rebuilds.
FLAGS_STAMP := $(B)/flags.stamp
FLAGS_NOW := $(CC) $(CFLAGS_ALL) $(LDFLAGS) $(SAN_LDFLAGS)
$(shell mkdir -p $(B); [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(FLAGS_NOW)' ] || echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))

.PHONY: all check unit integration install uninstall lint demo demo-clean bench clean fuzz check-vm deb
all: $(PROGRAMS) $(UNIT_BIN)

# The seccomp filters are compiled to BPF at build time (seccomp-policy.c),
# so that no login pays for libseccomp's compiler.
$(B)/seccomp-gen: common/seccomp-gen.c common/seccomp-policy.c common/seccomp-policy.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIE -pie $(SAN_LDFLAGS) -o $@ common/seccomp-gen.c common/seccomp-policy.c -lseccomp

$(B)/gen/seccomp-bpf.h: $(B)/seccomp-gen
	@mkdir -p $(@D)
	$(B)/seccomp-gen > $@.tmp && mv $@.tmp $@

$(B)/pie/common/restrict.o $(B)/pic/common/restrict.o: $(B)/gen/seccomp-bpf.h

$(B)/pie/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIE -c -o $@ $<

# pam_nook.so is loaded into sshd, login and su, which are not built with
# the sanitizers: their runtimes cannot be dlopen()ed late, so the module
# is always built without them.
$(B)/pic/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS_ALL)) -fPIC -c -o $@ $<

$(B)/nook-helper: $(B)/pie/helper/main-helper.o $(HELPER_LIB) $(COMMON_PIE)
	$(CC) $(OPT) $(SAN_LDFLAGS) -pie -Wl,-z,relro,-z,now $(LDFLAGS) -o $@ $^ $(LIBS_HELPER)

$(B)/nookctl: $(B)/pie/helper/main-nookctl.o $(HELPER_LIB) $(COMMON_PIE)
	$(CC) $(OPT) $(SAN_LDFLAGS) -pie -Wl,-z,relro,-z,now $(LDFLAGS) -o $@ $^ $(LIBS_HELPER)

# Not -z nodlopen: PAM dlopen()s its modules.
$(B)/pam_nook.so: $(PAM_OBJ) $(COMMON_PIC) pam_module/pam_nook.map
	$(CC) -shared -Wl,-z,relro,-z,now,-z,defs \
		-Wl,--version-script=pam_module/pam_nook.map $(LDFLAGS) -o $@ $(PAM_OBJ) $(COMMON_PIC) $(LIBS_PAM)

# Unit tests link the files under test (plus the shared code and the helper's
# library objects) and print TAP.
$(B)/tests/test-%: tests/unit/test-%.c tests/unit/tap.h $(HELPER_LIB) $(COMMON_PIE) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Itests/unit -Ihelper -fPIE -pie $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $< \
		$(HELPER_LIB) $(COMMON_PIE) $(LIBS_HELPER)


# Unit tests, then the root-only integration tests (they skip, with a reason,
# when not root). prove prints the summary.
check: all
	NOOK_BUILD=$(abspath $(B)) prove -v --timer $(UNIT_BIN) tests/integration/*.t

unit: all
	prove $(UNIT_BIN)

integration: all
	NOOK_BUILD=$(abspath $(B)) prove -v --timer tests/integration/*.t

# The same suite in a stock Debian 12 guest (kernel 6.1, systemd, logind,
# cgroup v2) under QEMU; root. See scripts/vm.
check-vm:
	scripts/vm check

# The Debian package (debian/), built from a copy of this tree in $(B)/deb
# so that dpkg-buildpackage leaves the work tree alone; lintian checks it.
# Needs debhelper and lintian (scripts/install-deps).
DEB_VERSION := $(shell dpkg-parsechangelog -S Version 2>/dev/null)
deb:
	rm -rf $(B)/deb && mkdir -p $(B)/deb/nook-$(DEB_VERSION)
	tar -c --exclude=./.git --exclude='./build*' . | tar -x -C $(B)/deb/nook-$(DEB_VERSION)
	cd $(B)/deb/nook-$(DEB_VERSION) && dpkg-buildpackage -us -uc -b
	lintian --info --display-info --fail-on error,warning $(B)/deb/nook_$(DEB_VERSION)_*.changes
	@ls $(B)/deb/*.deb

install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PAMDIR) \
		$(DESTDIR)$(SYSCONFDIR)/nook/nook.conf.d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 4755 $(B)/nook-helper $(DESTDIR)$(LIBEXECDIR)/nook-helper
	install -m 0755 $(B)/nookctl $(DESTDIR)$(SBINDIR)/nookctl
	if [ -f $(B)/pam_nook.so ]; then install -m 0644 $(B)/pam_nook.so $(DESTDIR)$(PAMDIR)/pam_nook.so; fi
	[ -e $(DESTDIR)$(SYSCONFDIR)/nook/nook.conf ] || install -m 0644 conf/nook.conf $(DESTDIR)$(SYSCONFDIR)/nook/nook.conf
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -d -m 0700 $(DESTDIR)/var/lib/nook $(DESTDIR)/var/lib/nook/images

uninstall:
	rm -f $(DESTDIR)$(LIBEXECDIR)/nook-helper $(DESTDIR)$(SBINDIR)/nookctl $(DESTDIR)$(PAMDIR)/pam_nook.so
	rm -f $(DESTDIR)$(MANDIR)/man5/nook.conf.5 $(DESTDIR)$(MANDIR)/man8/pam_nook.8 $(DESTDIR)$(MANDIR)/man8/nookctl.8

lint: $(B)/gen/seccomp-bpf.h
	scripts/lint

demo:
	scripts/demo

demo-clean:
	scripts/demo clean

bench: all
	scripts/bench

# libFuzzer on the config parser and on the keeper's protocol, each bounded
# (FUZZ_SECONDS), with the seed corpora in tests/fuzz; new inputs go to
# scratch dirs, not the repo.
FUZZ_SECONDS ?= 60
FUZZ_CC := clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icommon
fuzz:
	@mkdir -p $(B)/fuzz/corpus-conf $(B)/fuzz/corpus-protocol
	$(FUZZ_CC) tests/fuzz/fuzz-conf.c $(CONF_SRC) common/util.c -o $(B)/fuzz/fuzz-conf
	$(FUZZ_CC) tests/fuzz/fuzz-protocol.c common/protocol.c -o $(B)/fuzz/fuzz-protocol
	$(B)/fuzz/fuzz-conf -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(B)/fuzz/corpus-conf tests/fuzz/corpus-conf
	$(B)/fuzz/fuzz-protocol -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(B)/fuzz/corpus-protocol tests/fuzz/corpus-protocol

# ---- Tooling: format, compile_commands.json, coverage ----------------------
# (one block of its own; the CI's clang build is .ci/run's `make CC=clang`)

.PHONY: format format-check compile_commands.json coverage
FORMAT_SRC = $(wildcard common/*.[ch] helper/*.[ch] pam_module/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c \
	tests/coverage/*.c)

# Rewrites the C sources in place as .clang-format says.
format:
	clang-format -i $(FORMAT_SRC)

# Lists what `make format` would change, and fails if anything would.
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

# The compilation database of clangd and clang-tidy: bear records every
# compiler call of a full rebuild of $(B), so each file comes with the exact
# flags it is built with (common/ twice: PIE for the helper, PIC for the
# module), plus the fuzz harnesses with FUZZ_CC.
compile_commands.json:
	bear --output $@.new -- $(MAKE) --no-print-directory -B all
	bear --append --output $@.new -- $(FUZZ_CC) -fsyntax-only $(wildcard tests/fuzz/*.c)
	mv $@.new $@

# Line coverage of the unit and integration tests (as root; as a user the
# integration tests skip), built with --coverage at -O0 in a build directory
# of its own. Prints lcov's summary; the HTML report is $(COV_B)/html. What
# is and is not counted: README, "Coverage". tests/coverage/gcov-flush.c
# writes the counters at _exit() and execvpe() too; it is compiled with the
# build directory's device and inode, so the programs are relinked each run.
# The counter files are made beforehand, writable by all (a test-only tree):
# the helper's and the module's children add theirs as whichever user they
# have become.
COV_B ?= build-coverage
COV_MAKE = $(MAKE) --no-print-directory B=$(COV_B) CFLAGS='-O0 -U_FORTIFY_SOURCE --coverage' \
	LDFLAGS='--coverage -Wl,--wrap=_exit,--wrap=execvpe $(COV_B)/gcov-flush.o'
# The seccomp generator runs at build time, not under the tests (which check
# the filters it compiled): it is left out of the figure.
COV_EXCLUDE = '*/common/seccomp-gen.c' '*/common/seccomp-policy.c'
COV_LCOV = lcov --quiet --directory $(COV_B) --base-directory $(CURDIR)
coverage:
	@mkdir -p $(COV_B)
	$(CC) -std=gnu11 -O2 $(WARN) -fPIC -DCOV_DIR='"$(abspath $(COV_B))"' -DCOV_DEV=$$(stat -c %d $(COV_B)) \
		-DCOV_INO=$$(stat -c %i $(COV_B)) -c -o $(COV_B)/gcov-flush.o tests/coverage/gcov-flush.c
	rm -f $(COV_B)/nook-helper $(COV_B)/nookctl $(COV_B)/pam_nook.so $(COV_B)/tests/test-*
	$(COV_MAKE) all
	find $(COV_B) -name '*.gcda' -delete
	$(COV_LCOV) --capture --initial --output-file $(COV_B)/base.info
	find $(COV_B) -name '*.gcno' -exec sh -c 'for f; do install -m 0666 /dev/null "$${f%.gcno}.gcda"; done' sh {} +
	status=0; $(COV_MAKE) check || status=$$?; echo $$status > $(COV_B)/check.status
	find $(COV_B) -name '*.gcda' -size 0 -delete
	$(COV_LCOV) --capture --output-file $(COV_B)/tests.info
	lcov --quiet -a $(COV_B)/base.info -a $(COV_B)/tests.info -o $(COV_B)/all.info
	lcov --quiet --remove $(COV_B)/all.info '/usr/*' '*/tests/*' '*/$(COV_B)/*' $(COV_EXCLUDE) \
		-o $(COV_B)/coverage.info
	genhtml --quiet --output-directory $(COV_B)/html $(COV_B)/coverage.info
	lcov --summary $(COV_B)/coverage.info
	@status=$$(cat $(COV_B)/check.status); [ "$$status" = 0 ] || \
		echo "coverage: make check failed ($$status); the figure counts the tests that ran"; exit $$status

clean:
	rm -rf $(B)

-include $(shell find $(B) -path '$(B)/deb' -prune -o -name '*.d' -type f -print 2>/dev/null)
