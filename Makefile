# NAME
#	Makefile - set up, build, demonstrate and test mailcure
# SYNOPSIS
#	make deps | build | demo | check | bench | install | clean
# DESCRIPTION
#	The targets run as root on a fresh Debian 12 machine:
#
#	deps	installs every Debian package in DEBIAN_PACKAGES that is
#		missing (apt-get update first only when the package lists
#		are missing or older than a day). Services of packages
#		installed here are not left running: the integration tests
#		start their own Postfix, Dovecot and clamd on loopback.
#	build	meson setup build (warnings are errors); ninja -C build.
#	demo	deps, build, then "mailcure demo": a sample infected
#		server is created in a temporary directory and cleaned.
#	check	deps, the normal and the ASan+UBSan build, then
#		tests/run-tests.sh: the unit tests of both builds and the
#		integration scripts tests/t/t*.sh with both binaries. The
#		last line printed is "N passed, N failed, N skipped"; the
#		exit status is non-zero when anything failed.
#	bench	bench/run.
#	install	meson install from build/.
# SECURITY
#	deps changes the system (packages); every other target works
#	inside the source tree and temporary directories only.

SHELL := /bin/bash
.NOTPARALLEL:
.DEFAULT_GOAL := build

# Every Debian package the project needs, in one list. Append to it.
DEBIAN_PACKAGES := gcc meson ninja-build pkg-config \
	libclamav-dev libgmime-3.0-dev libjson-c-dev libcmocka-dev libssl-dev
DEBIAN_PACKAGES += clamav clamav-testfiles clamdscan clamav-daemon \
	python3 ripgrep
DEBIAN_PACKAGES += postfix swaks dovecot-imapd nftables libnftables-dev \
	iproute2 curl attr
# The HTML report is rendered and screenshotted in headless Chromium.
DEBIAN_PACKAGES += chromium

# package:service pairs whose service must not keep running after
# "make deps" installed the package.
DEBIAN_SERVICES := clamav-daemon:clamav-daemon \
	clamav-freshclam:clamav-freshclam postfix:postfix dovecot-core:dovecot

BUILD := build
BUILD_ASAN := build-asan
MESON_OPTS := -Dwerror=true
MESON_ASAN_OPTS := -Db_sanitize=address,undefined -Db_lundef=false
# Integration scripts run with the ASan binary too (a glob, or empty).
CHECK_ASAN_SCRIPTS ?= t*
# Parallel integration scripts.
CHECK_JOBS ?= 2
RUN_TESTS_OPTS ?=

.PHONY: all deps build asan demo check bench install clean

all: build

deps:
	@set -eu; \
	installed() { dpkg-query -W -f='$${Status}\n' "$$1" 2>/dev/null | \
		grep -q '^install ok installed$$'; }; \
	missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
		installed "$$p" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "deps: all Debian packages are installed"; exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "deps: as root, install:$$missing" >&2; exit 1; \
	fi; \
	echo "deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	before=""; \
	for ps in $(DEBIAN_SERVICES); do \
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
	echo 'postfix postfix/main_mailer_type select No configuration' | \
		debconf-set-selections; \
	apt-get install -y -o DPkg::Lock::Timeout=600 $$missing || \
		{ apt-get update && apt-get install -y -o DPkg::Lock::Timeout=600 $$missing; }; \
	for ps in $(DEBIAN_SERVICES); do \
		pkg="$${ps%%:*}"; svc="$${ps#*:}"; \
		case " $$before " in *" $$pkg "*) continue;; esac; \
		installed "$$pkg" || continue; \
		if [ -d /run/systemd/system ]; then \
			systemctl stop "$$svc" >/dev/null 2>&1 || true; \
		else \
			service "$$svc" stop >/dev/null 2>&1 || true; \
		fi; \
	done

build:
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_OPTS)
	ninja -C $(BUILD)

asan:
	@[ -f $(BUILD_ASAN)/build.ninja ] || meson setup $(BUILD_ASAN) $(MESON_ASAN_OPTS)
	ninja -C $(BUILD_ASAN)

demo: deps build
	./$(BUILD)/mailcure demo

check: deps build asan
	@tests/run-tests.sh -j $(CHECK_JOBS) \
		--unit $(BUILD) --unit asan=$(BUILD_ASAN) \
		--bin $(BUILD)/mailcure \
		$(if $(strip $(CHECK_ASAN_SCRIPTS)),--bin 'asan=$(BUILD_ASAN)/mailcure:$(CHECK_ASAN_SCRIPTS)') \
		$(RUN_TESTS_OPTS)

bench: build
	bench/run

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
