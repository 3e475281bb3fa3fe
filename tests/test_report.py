"""Report: metrics on hand-computed cases, tables from synthetic runs, REPORT.md / report.html, no JAX."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.results_store import RunKey, scan_runs
from report.build import NoRunsError, build_report
from report.metrics import bootstrap_ci, geometric_mean, iqm, time_to_threshold
from report.tables import ablation_table, aggregate_table, main_table, per_run_table, ratio_stats, ratio_table
from tests.test_results_store import CLIPS, METHODS, synthetic_curve, write_run, write_synthetic_results

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    write_synthetic_results(out)
    return out


# ------------------------------------------------------------------------------------------- metrics


def test_time_to_threshold_hand_computed():
    curve = pd.DataFrame({
        "samples": [0, 100, 200, 300, 400],
        "train_seconds": [0.0, 1.5, 3.0, 4.5, 6.0],
        "pose_error": [0.30, 0.15, np.nan, 0.09, 0.12],
    })
    assert time_to_threshold(curve, 0.15) == 100  # at the bar counts as reaching it
    assert time_to_threshold(curve, 0.10) == 300  # NaN evaluations never count
    assert time_to_threshold(curve, 0.10, x="train_seconds") == 4.5
    assert math.isnan(time_to_threshold(curve, 0.05))
    assert math.isnan(time_to_threshold(curve.iloc[:0], 0.15))


def test_bootstrap_ci_hand_computed():
    # Resampling two values gives means 0, 5, 10 with probability 1/4, 1/2, 1/4: the 2.5th and 97.5th
    # percentiles are the extremes.
    assert bootstrap_ci([0.0, 10.0]) == (5.0, 0.0, 10.0)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    mean, low, high = bootstrap_ci([3.0, np.nan])  # one value left: no interval
    assert mean == 3.0 and math.isnan(low) and math.isnan(high)
    assert all(math.isnan(v) for v in bootstrap_ci([np.nan, np.nan]))
    assert all(math.isnan(v) for v in bootstrap_ci([]))

    values = np.arange(1.0, 21.0)
    mean, low, high = bootstrap_ci(values, n_boot=4000)
    # Normal approximation: sd of the mean = std(ddof=0)/sqrt(n) = 5.766/4.472 = 1.29, so about 10.5 -/+ 2.5.
    assert mean == 10.5 and 7.6 < low < 8.4 and 12.6 < high < 13.4
    assert bootstrap_ci(values, seed=1) == bootstrap_ci(values, seed=1)

    # Stratified: every stratum is constant, so every resample has the same mean.
    assert bootstrap_ci([0.0, 0.0, 10.0, 10.0], strata=["a", "a", "b", "b"]) == (5.0, 5.0, 5.0)
    assert bootstrap_ci([0.0, 0.0, 10.0, 10.0])[1] < 5.0


def test_iqm_and_geometric_mean():
    assert iqm(np.arange(1.0, 9.0)) == 4.5  # drops 1, 2 and 7, 8
    assert iqm([1.0, 2.0, 3.0, 1000.0]) == 2.5
    assert iqm([np.nan, 4.0]) == 4.0
    assert math.isnan(iqm([]))
    assert geometric_mean([2.0, 8.0, np.nan]) == pytest.approx(4.0)
    assert math.isnan(geometric_mean([np.nan]))


# -------------------------------------------------------------------------------------------- tables


def test_tables_from_synthetic_runs(results):
    runs, problems = scan_runs(results)
    assert problems == [] and len(runs) == len(CLIPS) * len(METHODS) * 2
    per_run = per_run_table(runs)

    table = main_table(per_run)
    assert list(table.columns) == [
        "Clip", "Method", "Seeds", "Samples to 0.15 m", "Samples to 0.10 m",
        "Train time to 0.15 m", "Train time to 0.10 m", "Final pose error (m)",
    ]
    assert len(table) == len(CLIPS) * len(METHODS)
    cell = table.set_index(["Clip", "Method"])
    # PPO's backflip floor is 0.12 m and one no-replay seed stalls at 0.11 m.
    assert cell.loc[("backflip", "ppo"), "Samples to 0.10 m"] == "not reached (0/2 seeds)"
    assert cell.loc[("backflip", "diffmimic_noreplay"), "Samples to 0.10 m"].endswith("(1/2 seeds)")
    assert "[" in cell.loc[("walk", "diffmimic"), "Final pose error (m)"]

    # The mean over seeds that reached the bar is the plain mean of their first crossing.
    walk_ppo = per_run[(per_run["clip"] == "walk") & (per_run["method"] == "ppo")]
    expected = np.mean([time_to_threshold(pd.DataFrame(synthetic_curve(RunKey("smoke", "walk", "ppo", s))), 0.15)
                        for s in (0, 1)])
    assert walk_ppo["samples_to_0.15"].mean() == expected

    ratios = ratio_stats(per_run)
    assert (ratios["samples_ratio"] > 1).all()  # synthetic DiffMimic needs far fewer samples
    assert ratio_table(per_run)["Clip"].iloc[-1] == "geometric mean (2/2 clips)"

    ablation = ablation_table(per_run)
    assert set(ablation["Method"]) == {"diffmimic", "diffmimic_noreplay"}
    aggregate = aggregate_table(per_run).set_index("Method")
    assert aggregate.loc["ppo", "Runs reaching 0.15 m"] == "4/4"


# ------------------------------------------------------------------------------------------- report


def test_build_report_writes_markdown_and_self_contained_html(tmp_path):
    results = tmp_path / "results"
    write_synthetic_results(results)
    truncated = RunKey("smoke", "walk", "ppo", 1)
    curve_path = truncated.dir(results) / "curve.csv"
    curve_path.write_bytes(curve_path.read_bytes()[:-30])
    partial = RunKey("smoke", "walk", "ppo", 2)
    write_run(results, partial, synthetic_curve(partial, n_evals=2), status=None)

    paths = build_report(results)
    assert paths.markdown == results / "report" / "REPORT.md" and paths.html.name == "report.html"
    assert len(paths.figures) == len(CLIPS) and all(p.stat().st_size > 10_000 for p in paths.figures)

    markdown = paths.markdown.read_text()
    page = paths.html.read_text()
    for text in ("Samples to 0.15 m", "Train time to 0.15 m", "Final pose error (m)", "IQM final pose error",
                 "Samples ratio", "walk", "backflip", "Runs left out", "diffmimic_noreplay"):
        assert text in markdown and text in page, text
    assert "](figures/curves_smoke_walk.png)" in markdown
    assert page.count("data:image/png;base64,") == len(CLIPS)
    assert "http://" not in page and "https://" not in page

    # Both bad runs are listed, not averaged in: walk/ppo is left with one seed.
    left_out = markdown.split("## Runs left out")[1]
    assert "smoke/walk/ppo/seed_1" in left_out and "sha256" in left_out
    assert "smoke/walk/ppo/seed_2" in left_out and "incomplete" in left_out
    per_run = pd.read_csv(results / "report" / "per_run.csv")
    assert per_run[(per_run["clip"] == "walk") & (per_run["method"] == "ppo")]["seed"].tolist() == [0]

    # A second build into another directory works and does not pick up the first report as runs.
    again = build_report(results, tmp_path / "elsewhere")
    assert again.markdown.exists() and "smoke/report" not in again.markdown.read_text()


def test_build_report_with_no_runs(tmp_path):
    with pytest.raises(NoRunsError, match="no finished runs"):
        build_report(tmp_path)


def test_cli_and_no_jax_import(tmp_path, results):
    probe = (
        "import sys, report.build, report.__main__, report.metrics, report.plots, report.tables, "
        "benchmarks.results_store; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'brax', 'envs', 'methods')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True)

    done = subprocess.run([sys.executable, "-m", "report", str(results), "--out", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "out" / "REPORT.md") in done.stdout.splitlines()

    empty = subprocess.run([sys.executable, "-m", "report", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True)
    assert empty.returncode == 2 and "no finished runs" in empty.stderr
