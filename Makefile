# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	Makefile - set up, build, demonstrate and test mailcure
# SYNOPSIS
#	make deps | deps-check | deps-deb | build | demo | check | fuzz | bench |
#	install | deb | clean
# DESCRIPTION
#	The targets run as root on a fresh Debian 12 machine:
#
#	deps	installs the Debian packages that building and running
#		mailcure needs (DEBIAN_PACKAGES) and are missing: the
#		compiler and build tools, the libraries, freshclam for
#		signatures and the ClamAV test files of the demo. Nothing
#		that would replace or add a mail server (this may be a
#		production server running Exim).
#	deps-check
#		deps, then the packages only the tests need
#		(DEBIAN_TEST_PACKAGES): Postfix, Dovecot, clamd, nftables,
#		swaks, Chromium, ... Services of packages installed here
#		are not left running: the integration tests start their
#		own Postfix, Dovecot and clamd on loopback. Then Debian's
#		Exim is unpacked, not installed (it conflicts with
#		postfix), into $(BUILD_EXIM)/root (tests/exim-root.sh),
#		once; the Exim tests run it with their own configuration.
#	build	meson setup build (warnings are errors); ninja -C build.
#	demo	deps, build, then "mailcure demo": a sample infected
#		server is created in a temporary directory and cleaned.
#	check	deps-check, deps-deb, the normal and the ASan+UBSan build,
#		the Debian package when a file that goes into it changed
#		since it was last built (without its unit tests), then
#		tests/run-tests.sh: the unit tests of both builds and the
#		integration scripts tests/t/t*.sh with both binaries. The
#		unit tests of the ASan build include a short fixed run of
#		each fuzz target (fuzz/meson.build). The last line printed
#		is "N passed, N failed, N skipped"; the exit status is
#		non-zero when anything failed.
#	fuzz	deps-check, then the libFuzzer targets built with clang in
#		build-fuzz/, each run for FUZZ_SECONDS (default 60) from
#		its seed inputs; what they find is kept in
#		build-fuzz/corpus/NAME/, failing inputs in build-fuzz/.
#	bench	bench/run.
#	install	meson install from build/.
#	deps-deb
#		deps, then what building the Debian package needs
#		(DEBIAN_DEB_PACKAGES): debhelper, lintian.
#	deb	deps-deb, then the Debian package: the source tree is
#		copied (without build directories) to build-deb/mailcure,
#		"dpkg-buildpackage -us -uc -b" builds it there (the unit
#		tests run unless DEB_BUILD_OPTIONS=nocheck), and lintian
#		checks it, failing on errors. The .deb is
#		build-deb/mailcure_VERSION_ARCH.deb, which
#		tests/t/t1630-debian-package.sh installs.
#
#	Both deps targets run one recipe (apt_install): apt-get update
#	only when the package lists are missing or older than a day, no
#	service started while installing (policy-rc.d), and afterwards
#	the services of the packages it installed stopped.
# SECURITY
#	deps and deps-check change the system (packages); every other
#	target works inside the source tree and temporary directories
#	only.

SHELL := /bin/bash
.NOTPARALLEL:
.DEFAULT_GOAL := build

# What building and running mailcure needs. libcmocka-dev: the unit
# tests are built with the rest once it is there when build/ is set up.
DEBIAN_PACKAGES := gcc meson ninja-build pkg-config \
	libclamav-dev libgmime-3.0-dev libjson-c-dev libcmocka-dev libssl-dev \
	libnftables-dev libidn2-dev libyara-dev
# Signatures (freshclam), and the malware test files of the demo.
DEBIAN_PACKAGES += clamav-freshclam clamav-testfiles
# package:service pairs whose service must not keep running after
# "make deps" installed the package.
DEBIAN_SERVICES := clamav-freshclam:clamav-freshclam

# What only the tests and benchmarks need. Append to it.
DEBIAN_TEST_PACKAGES := clamav clamdscan clamav-daemon python3 ripgrep linux-perf
DEBIAN_TEST_PACKAGES += postfix swaks dovecot-imapd nftables iproute2 curl attr
# The HTML report is rendered and screenshotted in headless Chromium.
DEBIAN_TEST_PACKAGES += chromium
# make fuzz: libFuzzer is part of clang's runtime libraries.
DEBIAN_TEST_PACKAGES += clang libclang-rt-14-dev
# The Ansible collection is driven over sshd, against hosts in
# network namespaces of the test's own (t7000).
DEBIAN_TEST_PACKAGES += ansible-core ansible-lint openssh-server
DEBIAN_TEST_SERVICES := clamav-daemon:clamav-daemon postfix:postfix \
	dovecot-core:dovecot openssh-server:ssh
# Answers for debconf: a Postfix that the tests configure themselves.
DEBIAN_TEST_PRESEED := postfix postfix/main_mailer_type select No configuration

# make deb: what building the Debian package needs (debian/control's
# Build-Depends are DEBIAN_PACKAGES).
DEBIAN_DEB_PACKAGES := dpkg-dev debhelper lintian

BUILD := build
BUILD_ASAN := build-asan
BUILD_FUZZ := build-fuzz
# Debian's Exim unpacked for the tests (tests/exim-root.sh).
BUILD_EXIM := build-exim
BUILD_DEB := build-deb
FUZZ_SECONDS ?= 60
MESON_OPTS := -Dwerror=true
MESON_ASAN_OPTS := -Db_sanitize=address,undefined -Db_lundef=false
# Integration scripts run with the ASan binary too (a glob, or empty).
CHECK_ASAN_SCRIPTS ?= t*
# Parallel integration scripts.
CHECK_JOBS ?= 2
RUN_TESTS_OPTS ?=

.PHONY: all deps deps-check deps-deb build asan demo check fuzz bench install deb clean

all: build

# $(call apt_install,TARGET,PACKAGES,PACKAGE:SERVICE...,DEBCONF-LINE)
define apt_install
	@set -eu; \
	installed() { dpkg-query -W -f='$${Status}\n' "$$1" 2>/dev/null | \
		grep -q '^install ok installed$$'; }; \
	missing=""; \
	for p in $(2); do \
		installed "$$p" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "$(1): all Debian packages are installed"; exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "$(1): as root, install:$$missing" >&2; exit 1; \
	fi; \
	echo "$(1): installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	before=""; \
	for ps in $(3); do \
		installed "$${ps%%:*}" && before="$$before $${ps%%:*}"; \
	done; \
	policy=""; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
		chmod 755 /usr/sbin/policy-rc.d; policy=1; \
	fi; \
	trap '[ -z "$$policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT; \
	if [ -z "$$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then \
		apt-get update; \
	fi; \
	preseed='$(4)'; \
	[ -z "$$preseed" ] || echo "$$preseed" | debconf-set-selections; \
	apt-get install -y -o DPkg::Lock::Timeout=600 $$missing || \
		{ apt-get update && apt-get install -y -o DPkg::Lock::Timeout=600 $$missing; }; \
	for ps in $(3); do \
		pkg="$${ps%%:*}"; svc="$${ps#*:}"; \
		case " $$before " in *" $$pkg "*) continue;; esac; \
		installed "$$pkg" || continue; \
		if [ -d /run/systemd/system ]; then \
			systemctl stop "$$svc" >/dev/null 2>&1 || true; \
		else \
			service "$$svc" stop >/dev/null 2>&1 || true; \
		fi; \
	done
endef

deps:
	$(call apt_install,deps,$(DEBIAN_PACKAGES),$(DEBIAN_SERVICES),)

deps-deb: deps
	$(call apt_install,deps-deb,$(DEBIAN_DEB_PACKAGES),,)

deps-check: deps
	$(call apt_install,deps-check,$(DEBIAN_TEST_PACKAGES),$(DEBIAN_TEST_SERVICES),$(DEBIAN_TEST_PRESEED))
	@tests/exim-root.sh $(BUILD_EXIM)/root >/dev/null && \
		echo "deps-check: Exim unpacked in $(BUILD_EXIM)/root"

build:
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_OPTS)
	ninja -C $(BUILD)

asan:
	@[ -f $(BUILD_ASAN)/build.ninja ] || meson setup $(BUILD_ASAN) $(MESON_ASAN_OPTS)
	ninja -C $(BUILD_ASAN)

demo: deps build
	./$(BUILD)/mailcure demo

# make check runs the unit tests itself.
check: export DEB_BUILD_OPTIONS = nocheck
check: deps-check deps-deb build asan $(BUILD_DEB)/.built
	@tests/run-tests.sh -j $(CHECK_JOBS) \
		--unit $(BUILD) --unit asan=$(BUILD_ASAN) \
		--bin $(BUILD)/mailcure \
		$(if $(strip $(CHECK_ASAN_SCRIPTS)),--bin 'asan=$(BUILD_ASAN)/mailcure:$(CHECK_ASAN_SCRIPTS)') \
		$(RUN_TESTS_OPTS)

fuzz: deps-check
	@[ -f $(BUILD_FUZZ)/build.ninja ] || CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true
	ninja -C $(BUILD_FUZZ)
	@set -eo pipefail; for src in fuzz/fuzz-*.c; do \
		name=$$(basename "$$src" .c); name=$${name#fuzz-}; \
		dict=; [ ! -f fuzz/$$name.dict ] || dict=-dict=fuzz/$$name.dict; \
		mkdir -p $(BUILD_FUZZ)/corpus/$$name; \
		echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
		$(BUILD_FUZZ)/fuzz/fuzz-$$name -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(BUILD_FUZZ)/$$name- $$dict \
			$(BUILD_FUZZ)/corpus/$$name fuzz/corpus/$$name 2>&1 | tail -n 3; \
	done

bench: build
	bench/run

install: build
	meson install -C $(BUILD)

deb: deps-deb
	rm -f $(BUILD_DEB)/.built
	$(MAKE) $(BUILD_DEB)/.built

# What goes into the package: the tracked files but the integration
# tests and benchmarks.
DEB_SOURCES = $(wildcard $(shell git ls-files 2>/dev/null | grep -v -e '^tests/t/' -e '^bench/'))

$(BUILD_DEB)/.built: $(DEB_SOURCES)
	rm -rf $(BUILD_DEB)
	mkdir -p $(BUILD_DEB)/mailcure
	tar --exclude=./.git --exclude='./build' --exclude='./build-*' \
		--exclude=./bench/out -cf - . | tar -xf - -C $(BUILD_DEB)/mailcure
	cd $(BUILD_DEB)/mailcure && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --info $(BUILD_DEB)/*.changes
	touch $@

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_EXIM) $(BUILD_DEB)
