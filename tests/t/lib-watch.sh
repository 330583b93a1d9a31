# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	lib-watch.sh - helpers of the mailcure watch tests
# DESCRIPTION
#	Source after lib.sh. mc_watch_start runs watch in the background
#	(JSON events in $T/watch.out) over the stores given, with the
#	signature directory $T/db, and waits until it watches.
#	mc_watch_outbreak writes the signature that matches the outbreak
#	attachment $T/blob.bin into $T/db, as freshclam would, and runs
#	"watch --reload" as the freshclam hook does.

# mc_watch_start [ARGS...]: watch $T/db; MC_WATCH_PID is its pid.
mc_watch_start() {
	local n
	n=$(grep -c '"watching ' "$T/watch.out" 2>/dev/null || true)
	# A small verdict table: the tests' stores are small, and a
	# large one costs its size at every start and save.
	"$MAILCURE" -d "$T/db" --quarantine "$MC_Q" --state-dir "$T/state" --json \
		--cache-size 1M watch "$@" >>"$T/watch.out" 2>>"$T/watch.err" </dev/null &
	MC_WATCH_PID=$!
	mc_at_exit "kill -9 $MC_WATCH_PID 2>/dev/null || true"
	for _ in $(seq 1 300); do
		[ "$(grep -c '"watching ' "$T/watch.out" 2>/dev/null || true)" -gt "${n:-0}" ] && return 0
		kill -0 "$MC_WATCH_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$T/watch.out" "$T/watch.err" >&2
	mc_fail "watch did not start"
}

# Stop watch as systemd does (SIGTERM); what a sanitizer build found
# on the way fails the test.
mc_watch_stop() {
	kill "$MC_WATCH_PID" 2>/dev/null || true
	wait "$MC_WATCH_PID" 2>/dev/null || true
	if grep -q 'Sanitizer\|runtime error' "$T/watch.err" 2>/dev/null; then
		head -n 40 "$T/watch.err" >&2
		mc_fail "watch: sanitizer report"
	fi
}

# The database at first: the test signatures, nothing of the outbreak.
mc_watch_db() {
	mkdir -p "$T/db"
	cp "$MC_SIGS/mailcure-test.hdb" "$T/db/"
	head -c 6000 /dev/urandom >"$T/blob.bin"
}

mc_watch_outbreak() {
	local md5
	md5=$(md5sum <"$T/blob.bin" | cut -d' ' -f1)
	echo "$md5:$(stat -c %s "$T/blob.bin"):Test.Watch.Outbreak" >"$T/db/outbreak.hdb.new"
	mv "$T/db/outbreak.hdb.new" "$T/db/outbreak.hdb"
	"$MAILCURE" --state-dir "$T/state" watch --reload
}

# mc_outbreak_msg: one copy of the outbreak (same body, same file).
mc_outbreak_msg() {
	mc_msg_attach "$T/blob.bin" -n invoice.pdf.exe -s "Your invoice" \
		-b "Please see the attached invoice." "$@"
}

# mc_wait_for SECS CMD...: until CMD succeeds; 1 after SECS.
mc_wait_for() {
	local secs=$1
	shift
	for _ in $(seq 1 $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# The number of quarantine entries made by watch (in runs it made).
mc_watch_quarantined() {
	find "$MC_Q/entries" -name meta.json 2>/dev/null | wc -l
}
