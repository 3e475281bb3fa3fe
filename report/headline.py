"""The README's headline tables, generated from committed run records.

    python -m report.headline results/quick-cpu-faithful            # print the table
    python -m report.headline --readme                              # rewrite every headline block of README.md

One row per (clip, horizon, method): samples and train time to the 0.15 m bar (mean over the seeds that reached it,
and how many did), samples to hold it (at the first evaluation from which every later one is at or below it, to the
end of the run: reached for good, not touched once; a run first below it at its last evaluation holds it from there), the final pose error, and the method's / DiffMimic's ratio of mean samples and of mean train time
with a 95% bootstrap interval (each method's seeds resampled on their own; above 1: DiffMimic needed less), over the
seeds that reached the bar, with how many each side kept where one lost any. A method or clip that never reached the
bar is shown as such, never dropped.

README blocks sit between ``<!-- headline:begin RESULTS_DIR -->`` and ``<!-- headline:end -->``; ``--readme``
regenerates each from the run records under its RESULTS_DIR, so the numbers in the README are the files' numbers.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.results_store import scan_runs
from report.build import markdown_table
from report.metrics import bootstrap_ratio_ci
from report.tables import (
    HORIZON_LABELS,
    HORIZONS,
    QUALITY_BAR,
    TREATMENT,
    format_metres,
    format_ratio,
    format_samples,
    format_seconds,
    hold_column,
    per_run_table,
    reach_column,
    sort_methods,
)

REPO = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- headline:begin (?P<dir>\S+) -->\n)(?P<body>.*?)(<!-- headline:end -->)", re.DOTALL)


class HeadlineError(ValueError):
    pass


def _reached(values: pd.Series, formatter, never: str = "not reached") -> str:
    reached = values.dropna()
    if reached.empty:
        return f"{never} (0/{len(values)} seeds)"
    return f"{formatter(reached.mean())} ({len(reached)}/{len(values)} seeds)"


def _ratio(numerator: pd.Series, denominator: pd.Series) -> str:
    """The ratio of the means over the seeds that reached the bar. A seed that never reached it is left out of its
    side's mean, which flatters that side, so a ratio over fewer than all seeds says how many each side kept; where
    only DiffMimic never reached it, the cell says so rather than hide the other method's lead."""
    if numerator.notna().any() and denominator.isna().all():
        return f"— ({TREATMENT} did not reach it)"
    point, low, high = bootstrap_ratio_ci(numerator.to_numpy(float), denominator.to_numpy(float))
    if math.isnan(point):
        return "—"
    partial = "" if numerator.notna().all() and denominator.notna().all() else (
        f" (over the seeds that reached it: {numerator.notna().sum()}/{len(numerator)} against {TREATMENT}'s "
        f"{denominator.notna().sum()}/{len(denominator)})")
    return format_ratio(point) + ("" if math.isnan(low) else f" [{format_ratio(low)}, {format_ratio(high)}]") + partial


def headline_table(per_run: pd.DataFrame, threshold: float = QUALITY_BAR) -> pd.DataFrame:
    """Display table (strings); the horizons a clip did not measure (it does not loop) are left out for it."""
    bar = f"{threshold:.2f} m"
    rows = []
    for clip, clip_runs in per_run.groupby("clip", sort=False):
        for horizon in HORIZONS:
            if not clip_runs[f"measured_{horizon}"].any():
                continue
            treatment = clip_runs[clip_runs["method"] == TREATMENT]
            for method in sort_methods(clip_runs["method"].unique()):
                runs = clip_runs[clip_runs["method"] == method]
                samples, seconds = (runs[reach_column(x, threshold, horizon)] for x in ("samples", "train_seconds"))
                is_treatment = method == TREATMENT or treatment.empty
                rows.append({
                    "clip": clip,
                    "horizon": HORIZON_LABELS[horizon],
                    "method": method,
                    f"samples to {bar}": _reached(samples, format_samples),
                    f"train time to {bar}": _reached(seconds, format_seconds),
                    f"samples to hold {bar}": _reached(runs[hold_column("samples", threshold, horizon)],
                                                       format_samples, never="not held"),
                    "final pose error (m)": format_metres(float(np.nanmean(runs[f"final_pose_error_{horizon}"]))),
                    f"samples / {TREATMENT}'s": "—" if is_treatment else _ratio(
                        samples, treatment[reach_column("samples", threshold, horizon)]),
                    f"train time / {TREATMENT}'s": "—" if is_treatment else _ratio(
                        seconds, treatment[reach_column("train_seconds", threshold, horizon)]),
                })
    return pd.DataFrame(rows)


def render(results_dir: Path) -> str:
    try:
        runs, _ = scan_runs(results_dir)
    except FileNotFoundError as error:
        raise HeadlineError(str(error)) from None
    if not runs:
        raise HeadlineError(f"{results_dir}: no finished runs")
    return markdown_table(headline_table(per_run_table(runs))) + "\n"


def rewrite_blocks(readme: str, root: Path) -> str:
    """README text with every headline block regenerated from the results directory its marker names."""
    if not BLOCK.search(readme):
        raise HeadlineError("no headline blocks (<!-- headline:begin RESULTS_DIR --> ... <!-- headline:end -->)")
    return BLOCK.sub(lambda m: m.group(1) + render(root / m.group("dir")) + m.group(4), readme)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="?", type=Path, help="a results directory (with --readme: not needed)")
    parser.add_argument("--readme", action="store_true", help="regenerate every headline block of README.md")
    args = parser.parse_args(argv)
    try:
        if args.readme:
            path = REPO / "README.md"
            path.write_text(rewrite_blocks(path.read_text(), REPO))
            print(f"regenerated the headline blocks of {path}")
        elif args.results is not None:
            print(render(args.results), end="")
        else:
            parser.error("give a results directory, or --readme")
    except HeadlineError as error:
        print(f"error: {error}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
