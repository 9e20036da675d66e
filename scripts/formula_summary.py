"""Write tests/formula_summary.json: how every display formula of the site is checked.

Run by `make formula-summary` after adding or changing a display formula or its test case.
The formula tests fail while the file is out of date, and the site's page "How this site is
checked" is generated from it, so the page always shows what the tests check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

np.seterr(all="raise")

from formulas import summarise  # noqa: E402
from registry import SUMMARY  # noqa: E402


def main() -> int:
    summary = summarise()
    SUMMARY.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for entries in summary.values():
        for entry in entries.values():
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    print(f"wrote {SUMMARY.relative_to(ROOT)}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
