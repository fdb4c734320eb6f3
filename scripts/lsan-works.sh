#!/bin/sh
# Prints 1 when LeakSanitizer can run here, else 0: it stops the world with
# ptrace, which some containers forbid, and then every sanitized test would
# fail for a reason that is not the code's. $1: a sanitized binary.
out=$(ASAN_OPTIONS=detect_leaks=1 "$1" --version 2>&1)
case "$out" in
*"LeakSanitizer has encountered a fatal error"* | *"LeakSanitizer does not work"*) echo 0 ;;
*) echo 1 ;;
esac
