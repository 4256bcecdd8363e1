"""Keep benchmark runs as the baseline: copy result files into results/baseline.json.

Each result file (results/<benchmark>-<time>.json, as the scripts write them) replaces the entry of
its benchmark; ``--as NAME`` files it under another name (e.g. a variant of a benchmark).

Usage: python scripts/bench/keep.py results/import-20261201T040000.json [--as import_overcommit]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

BASELINE = Path(__file__).resolve().parents[2] / "results" / "baseline.json"


def main() -> None:
    """Merge the given result files into the baseline and say what changed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--as", dest="name", help="file a single result under this name")
    args = p.parse_args()
    if args.name and len(args.files) != 1:
        p.error("--as takes exactly one result file")
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    for path in args.files:
        doc = json.loads(path.read_text())
        if "benchmark" not in doc or "results" not in doc:
            p.error(f"{path} is not a benchmark result (no 'benchmark' and 'results')")
        name = args.name or doc["benchmark"]
        baseline[name] = doc
        print(f"{name}: kept {path.name} ({doc.get('when', '?')})")
    BASELINE.write_text(json.dumps(baseline, indent=2) + "\n")


if __name__ == "__main__":
    main()
