"""Render `sealgate --help` and each sub-command's help into README.md between the help markers.

python -m tools.readme_help          # rewrite README.md
python -m tools.readme_help --check  # exit 1 if README.md is out of date (the tests do this too)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from verifier.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- help:begin -->", "<!-- help:end -->"
WIDTH = "100"


def render_help() -> str:
    os.environ["COLUMNS"] = WIDTH
    parser = build_parser()
    sections = [("sealgate --help", parser.format_help())]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        sections.append((f"sealgate {name} --help", sub.format_help()))
    return "\n".join(f"```text\n$ {title}\n{text.rstrip()}\n```\n" for title, text in sections)


def updated_readme(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{render_help()}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    current = README.read_text()
    wanted = updated_readme(current)
    if args.check:
        if current != wanted:
            print("README.md help is out of date: run python -m tools.readme_help", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
