#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t4001-netns-dovecot - the namespaces and the private Dovecot of the t4* tests
# DESCRIPTION
#	The harness of lib-netns.sh, built and used as the tests use it:
#	the user host logs in to Dovecot over IPv4 and IPv6 (python3
#	imaplib), the administrator host over IPv4 and with curl over
#	IPv6; a message saved with doveadm is seen over IMAP, without
#	flags; Dovecot logs no errors, and stops when asked.

. "$(dirname "$0")/lib-netns.sh"
set -u

t4_need
t4_setup
t4_netns
t4_dovecot maildir
[ "$(t4_imap "$NS_USR" 192.0.2.1 alice)" = ok ] || mc_fail "user host: IPv4 login"
[ "$(t4_imap "$NS_USR" 2001:db8:1::1 alice)" = ok ] || mc_fail "user host: IPv6 login"
[ "$(t4_imap "$NS_ADM" 198.51.100.1 admin)" = ok ] || mc_fail "admin host: IPv4 login"
t4_curl "$NS_ADM" "imap://[2001:db8:2::1]/" || mc_fail "admin host: curl IPv6 login"
t4_msg "hello" | t4_doveadm save -u bob || mc_fail "doveadm save"
[ "$(t4_imap "$NS_USR" 192.0.2.1 bob list INBOX)" = "$(printf 'hello\t-')" ] ||
	mc_fail "bob's INBOX over IMAP"
errors=$(t4_log_errors)
[ -z "$errors" ] || mc_fail "Dovecot logged errors: $errors"
# Teardown leaves nothing behind.
t4_dovecot_stop
[ ! -e "$DV_RUN/master.pid" ] || mc_fail "Dovecot still running"
mc_log "harness ok"
