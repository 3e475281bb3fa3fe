"""python -m report RESULTS_DIR [--out OUT]: build REPORT.md and report.html from run records."""

from __future__ import annotations

import sys
from pathlib import Path

import tyro

from report.build import NoRunsError, build_report


def main(results_dir: tyro.conf.Positional[Path], out: Path | None = None) -> None:
    """Build the report from finished runs under RESULTS_DIR.

    Args:
        results_dir: the harness's output directory (<suite>/<clip>/<method>/seed_<k>/ inside).
        out: where to write the report; default RESULTS_DIR/report.
    """
    try:
        paths = build_report(results_dir, out)
    except (NoRunsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    for path in paths.all():
        print(path)


if __name__ == "__main__":
    tyro.cli(main)
