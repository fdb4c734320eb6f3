#!/usr/bin/env python3
"""Check that README.md's C example is examples/hello.c, byte for byte.

Usage: check-readme-example.py README.md examples/hello.c

The example is the first ```c fenced block of the README. The test suite
builds and runs examples/hello.c (test 'readme_example'), so this keeps the
README's code honest. Prints in the harness format.
"""
import difflib
import re
import sys


def main(argv):
    if len(argv) != 3:
        print("usage: check-readme-example.py README.md examples/hello.c", file=sys.stderr)
        return 2
    name = "readme_code_block_is_examples_hello_c"
    readme = open(argv[1], encoding="utf-8").read()
    example = open(argv[2], encoding="utf-8").read()
    m = re.search(r"^```c[ \t]*\n(.*?)^```[ \t]*$", readme, re.S | re.M)
    if not m:
        print(f"  {argv[1]} has no ```c fenced block", file=sys.stderr)
        ok = False
    else:
        block = m.group(1)
        ok = block == example
        if not ok:
            sys.stderr.writelines(difflib.unified_diff(
                example.splitlines(True), block.splitlines(True),
                fromfile=argv[2], tofile=argv[1] + " (```c block)"))
    print(("PASS " if ok else "FAIL ") + name)
    print(f"{int(ok)} passed, {int(not ok)} failed, 0 skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
