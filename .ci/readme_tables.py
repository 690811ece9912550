"""Fail when a table in README.md no longer matches what its command prints.

A README code block preceded by ``<!-- printed by: COMMAND -->`` holds (some of) COMMAND's
output. A block with a markdown table must hold exactly the table lines (those starting with
``|``) that COMMAND prints now, in order; any other block must appear, line for line, as a run
of consecutive lines of the output. The output is read from a file given as
``--output 'COMMAND=FILE'`` (CI passes the output of the run it already made) or, without one,
by running COMMAND.

    python .ci/readme_tables.py [--output 'noveltygym quickstart=/tmp/quickstart.log']
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

MARKER = re.compile(r"^<!-- printed by: (?P<command>.+?) -->$")


def blocks(readme: str) -> list[tuple[str, list[str]]]:
    """(command, table lines of the code block that follows its marker) for every marker."""
    lines = readme.splitlines()
    found = []
    for i, line in enumerate(lines):
        match = MARKER.match(line.strip())
        if not match:
            continue
        start = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("```")), None) if start else None
        if start is None or end is None:
            raise SystemExit(f"README.md line {i + 1}: marker for {match['command']!r} has no code block after it")
        found.append((match["command"], [ln.rstrip() for ln in lines[start + 1 : end]]))
    return found


def matches(block: list[str], printed: list[str]) -> tuple[bool, list[str], list[str]]:
    """Whether the block matches the output, and the two sides to show in a diff."""
    table = [ln for ln in block if ln.startswith("|")]
    if table:
        actual = [ln for ln in printed if ln.startswith("|")]
        return actual == table, table, actual
    n = len(block)
    runs = (printed[i : i + n] for i in range(len(printed) - n + 1))
    return any(run == block for run in runs), block, printed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--output", action="append", default=[], metavar="COMMAND=FILE",
                        help="read COMMAND's output from FILE instead of running it")
    args = parser.parse_args()
    outputs = dict(item.split("=", 1) for item in args.output)
    found = blocks(Path(args.readme).read_text(encoding="utf-8"))
    if not found:
        print(f"{args.readme} has no '<!-- printed by: ... -->' marker: nothing to check", file=sys.stderr)
        return 1
    stale = 0
    for command, block in found:
        if command in outputs:
            text = Path(outputs[command]).read_text(encoding="utf-8")
        else:
            text = subprocess.run(command, shell=True, check=True, capture_output=True, text=True).stdout
        ok, expected, actual = matches(block, [ln.rstrip() for ln in text.splitlines()])
        if ok:
            print(f"ok: the README's block printed by `{command}` matches its output ({len(expected)} lines)")
            continue
        stale += 1
        print(f"STALE: the README's block printed by `{command}` differs from what it prints now:")
        print("\n".join(difflib.unified_diff(expected, actual, "README.md", command, lineterm="")))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
