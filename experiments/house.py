"""Issue 20's measures of the house: the command line's size against its 2,766 lines before
the issue, and the longest ``run`` of any command (the bars: about 60%, at most 40 lines).

Usage:
    .venv/bin/python experiments/house.py
(The other bars: `make typecheck` for mypy's errors, `time make test` for the suite.)
"""

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parent.parent / "src" / "steepest" / "cli"
LINES_BEFORE = 2766  # wc -l src/steepest/cli/*.py at 1c61384, before the issue


def main() -> None:
    lines = sum(len(path.read_text().splitlines()) for path in CLI.glob("*.py"))
    runs = {}
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "run":
                runs[path.name] = node.end_lineno - node.lineno + 1
    longest = max(runs, key=runs.get)
    print(f"command line: {lines:,} lines, {lines / LINES_BEFORE:.0%} of {LINES_BEFORE:,}")
    print(f"longest run: {runs[longest]} lines ({longest})")


if __name__ == "__main__":
    main()
