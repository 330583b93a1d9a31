#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright: mailcure authors
# GNU General Public License v2.0 or later (see LICENSE or
# https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
"""Run one mailcure command on a managed host and return its events."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mailcure
short_description: Run one mailcure command and return its events
version_added: "0.1.0"
description:
  - Runs one C(mailcure) command with C(--json) on the managed host and
    returns its JSON events and its summary as structured results.
  - Check mode runs the command with C(--dry-run), which changes nothing.
  - The result is C(changed) only when the command acted on something
    (messages quarantined, a server isolated or reconnected, a queue
    frozen or thawed, entries restored), or in check mode would have.
  - Exit status 3 (the command does not apply to this host, such as a
    queue command where no MTA is configured) makes the task skipped.
options:
  command:
    description:
      - The command and its arguments, without global options, for
        example C([mailbox, clean, -s, /srv/mail]) or C([queue, freeze]).
    type: list
    elements: str
    required: true
  query:
    description:
      - A query, appended as the last argument (commands that take one).
    type: str
  run_id:
    description:
      - The run the command acts as part of (C(--run-id)); one id for a
        whole fleet lets C(mailcure report --merge) join the hosts' runs.
    type: str
  state_dir:
    description:
      - The state directory (C(--state-dir)). Default the tool's own.
    type: path
  quarantine:
    description:
      - The quarantine directory (C(--quarantine)). Default the tool's own.
    type: path
  global_args:
    description:
      - Further global options, placed before the command (for example
        C([-d, /var/lib/clamav])).
    type: list
    elements: str
    default: []
  record:
    description:
      - Also keep the events in STATE/runs/RUN/RECORD.jsonl, where
        C(mailcure report RUN) finds what was found but not removed,
        unscanned or in error (the name of a runbook step, such as
        C(mailbox-clean)). Needs I(run_id); not done in check mode.
    type: str
  dry_run:
    description:
      - Run with C(--dry-run) also outside check mode (a count before
        acting).
    type: bool
    default: false
  fail_on_errors:
    description:
      - Fail when the command ran to its end but some items could not be
        read (exit status 2 with a summary). Otherwise the task succeeds
        and C(summary.errors) says how many.
    type: bool
    default: true
  binary:
    description:
      - The mailcure program.
    type: path
    default: mailcure
author:
  - mailcure authors
'''

EXAMPLES = r'''
- name: Quarantine infected mail from the Maildirs
  mailcure.ir.mailcure:
    command: [mailbox, clean, -s, /srv/mail]
    query: virus
    run_id: "{{ mailcure_run_id }}"
    record: mailbox-clean

- name: Freeze the mail queue
  mailcure.ir.mailcure:
    command: [queue, freeze]
'''

RETURN = r'''
exit_status:
  description:
    - The exit status of mailcure (0 nothing matched or done, 1 matches
      acted on, 2 errors, 3 not applicable). Not named C(rc), which
      Ansible takes for failure when it is not 0.
  returned: always
  type: int
cmd:
  description: The command line that was run.
  returned: always
  type: list
  elements: str
events:
  description: The JSON events that mailcure printed, except the summary.
  returned: always
  type: list
  elements: dict
summary:
  description: The summary event (counts of scanned, matched, acted, unscanned, errors), when the command prints one.
  returned: when the command prints one
  type: dict
stderr:
  description: What mailcure wrote to standard error.
  returned: always
  type: str
'''

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

EXIT_NOT_APPLICABLE = 3

# Events that say a change by their state.
CHANGED_STATUS = {
    "isolate": ("isolated",),
    "reconnect": ("reconnected",),
}


def parse_events(stdout):
    """JSON Lines into a list of objects; other lines are kept as text."""
    events, other = [], []
    for line in stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if isinstance(obj, dict):
            events.append(obj)
        else:
            other.append(line)
    return events, other


def is_changed(events, summary, dry_run):
    """Whether the command acted (or, in a dry run, would act)."""
    if summary is not None and not dry_run and summary.get("acted", 0) > 0:
        return True
    for ev in events:
        if ev.get("changed") is True:
            return True
        status = ev.get("status")
        if ev.get("event") in CHANGED_STATUS and \
                (status in CHANGED_STATUS[ev["event"]] or
                 (dry_run and status == "dry-run")):
            return True
        action = ev.get("action") or ""
        # A dry run says what it would do: "would quarantine".
        if dry_run and action.startswith("would "):
            return True
        if not dry_run and action == "restored":
            return True
    return False


def record_events(state_dir, run_id, step, stdout):
    """Keep the events where mailcure report looks for a step's events."""
    run_dir = os.path.join(state_dir, "runs", run_id)
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + step + ".", dir=run_dir)
    try:
        with os.fdopen(fd, "w") as fp:
            fp.write(stdout)
            fp.flush()
            os.fsync(fp.fileno())
        os.rename(tmp, os.path.join(run_dir, step + ".jsonl"))
    except BaseException:
        os.unlink(tmp)
        raise


def plain_name(value):
    return bool(value) and value[0] != "." and "/" not in value and \
        all(c.isalnum() or c in "-_." for c in value)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="list", elements="str", required=True),
            query=dict(type="str"),
            run_id=dict(type="str"),
            state_dir=dict(type="path"),
            quarantine=dict(type="path"),
            global_args=dict(type="list", elements="str", default=[]),
            record=dict(type="str"),
            dry_run=dict(type="bool", default=False),
            fail_on_errors=dict(type="bool", default=True),
            binary=dict(type="path", default="mailcure"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    dry_run = module.check_mode or p["dry_run"]
    if not p["command"]:
        module.fail_json(msg="command is empty")
    if p["record"] is not None:
        if not p["run_id"]:
            module.fail_json(msg="record needs run_id")
        if not plain_name(p["record"]):
            module.fail_json(msg="record must be a plain name: %s" % p["record"])
    if p["run_id"] is not None and not plain_name(p["run_id"]):
        module.fail_json(msg="run_id must be a plain name: %s" % p["run_id"])

    binary = p["binary"]
    if os.sep not in binary:
        binary = module.get_bin_path(binary, required=True)
    cmd = [binary, "--json", "--progress", "never"]
    if dry_run:
        cmd.append("--dry-run")
    if p["run_id"]:
        cmd += ["--run-id", p["run_id"]]
    if p["state_dir"]:
        cmd += ["--state-dir", p["state_dir"]]
    if p["quarantine"]:
        cmd += ["--quarantine", p["quarantine"]]
    cmd += p["global_args"] + p["command"]
    if p["query"] is not None:
        cmd.append(p["query"])

    rc, stdout, stderr = module.run_command(cmd, check_rc=False)
    events, other = parse_events(stdout)
    summaries = [e for e in events if e.get("event") == "summary"]
    summary = summaries[-1] if summaries else None
    events = [e for e in events if e.get("event") != "summary"]
    result = dict(exit_status=rc, cmd=cmd, events=events, stderr=stderr,
                  changed=False)
    if summary is not None:
        result["summary"] = summary
    if other:
        result["stdout_lines"] = other

    if rc == EXIT_NOT_APPLICABLE:
        result["skipped"] = True
        result["msg"] = stderr.strip() or "does not apply on this host"
        module.exit_json(**result)
    ran_to_end = rc in (0, 1) or (rc == 2 and summary is not None)
    if ran_to_end and p["record"] and not module.check_mode:
        state_dir = p["state_dir"] or "/var/lib/mailcure"
        try:
            record_events(state_dir, p["run_id"], p["record"], stdout)
        except OSError as e:
            module.fail_json(msg="cannot keep the events in %s: %s" % (state_dir, e),
                             **result)
    result["changed"] = ran_to_end and is_changed(events, summary, dry_run)
    if not ran_to_end or (rc == 2 and p["fail_on_errors"]):
        msg = stderr.strip() or "mailcure exited with status %d" % rc
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
