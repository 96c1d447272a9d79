"""Write policies/policy.schema.json from the policy models (the tests keep the two equal).

python -m tools.export_schema          # rewrite policies/policy.schema.json
python -m tools.export_schema --check  # exit 1 if the committed schema is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.policy import render_policy_schema

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "policies" / "policy.schema.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the committed schema is current")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    wanted = render_policy_schema()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != wanted:
            print(f"{args.output} is out of date: run python -m tools.export_schema", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(wanted, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
