#!/usr/bin/env python3
"""Sum the individual tests of one or more meson test runs.

Usage: test-summary.py [--failed=NAME ...] LOG[:RC] ...

LOG is a meson-logs/testlog.json (one JSON object per test); RC, when
given, is the exit status `meson test` had for that run. Each test binary
prints PASS/FAIL/SKIP lines and a last line "N passed, N failed, N skipped";
those counts are summed. A test that printed no such line counts as one
test with meson's verdict. A test meson failed although its own line shows
no failure (a crash or a sanitizer report after the summary, a timeout)
adds one failure, as does a run that failed without any failing test.
--failed=NAME counts one failure that no log shows (a build that failed).

Prints FAIL lines for what failed, then exactly one final line
"N passed, N failed, N skipped". Exits 1 when anything failed.
"""
import json
import re
import sys

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped\s*$")
BAD = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"}


def summarize(path):
    """(passed, failed, skipped, failures) for one testlog.json."""
    passed = failed = skipped = 0
    failures = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [l for l in f if l.strip()]
    except OSError as e:
        return 0, 1, 0, [f"{path}: {e.strerror}"]
    for raw in lines:
        try:
            t = json.loads(raw)
        except ValueError:
            failed += 1
            failures.append(f"{path}: unreadable line")
            continue
        name = t.get("name", "?")
        verdict = t.get("result", "ERROR")
        out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
        counts = None
        for line in out.splitlines():
            m = SUMMARY.match(line)
            if m:
                counts = tuple(int(x) for x in m.groups())
        if counts is None:
            if verdict in BAD:
                counts = (0, 1, 0)
            elif verdict == "SKIP":
                counts = (0, 0, 1)
            else:
                counts = (1, 0, 0)
        elif verdict in BAD and counts[1] == 0:
            counts = (counts[0], 1, counts[2])
        passed += counts[0]
        failed += counts[1]
        skipped += counts[2]
        if counts[1]:
            failures.append(f"{name} ({path}): {verdict}, {counts[1]} failed")
    return passed, failed, skipped, failures


def main(argv):
    if len(argv) < 2:
        print("usage: test-summary.py [--failed=NAME ...] LOG[:RC] ...", file=sys.stderr)
        return 2
    total = [0, 0, 0]
    failures = []
    for arg in argv[1:]:
        if arg.startswith("--failed="):
            total[1] += 1
            failures.append(arg[len("--failed="):])
            continue
        path, rc = arg, 0
        if ":" in arg and arg.rsplit(":", 1)[1].lstrip("-").isdigit():
            path, rc = arg.rsplit(":", 1)[0], int(arg.rsplit(":", 1)[1])
        p, f, s, why = summarize(path)
        if rc != 0 and f == 0:
            f = 1
            why.append(f"{path}: meson test exited {rc} without a failing test")
        total[0] += p
        total[1] += f
        total[2] += s
        failures += why
    for line in failures:
        print(f"FAIL {line}")
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    sys.stdout.flush()
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
