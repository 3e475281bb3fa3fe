"""Report: metrics on hand-computed cases, tables from synthetic runs, REPORT.md / report.html, no JAX."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.results_store import Run, RunKey, scan_runs
from report.build import NoRunsError, build_report
from report.diagnostics import with_fall_seconds
from report.metrics import bootstrap_ci, geometric_mean, iqm, time_to_hold, time_to_threshold
from report.tables import (
    ablation_table,
    aggregate_table,
    main_table,
    per_run_table,
    ratio_stats,
    ratio_table,
    seed_stats,
)
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
        "pose_error_20s": [0.30, 0.15, np.nan, 0.09, 0.12],
        "pose_error_cycle": [0.30, 0.12, 0.11, 0.05, 0.05],
    })
    assert time_to_threshold(curve, 0.15) == 100  # at the bar counts as reaching it; the 20 s horizon by default
    assert time_to_threshold(curve, 0.10) == 300  # NaN evaluations never count
    assert time_to_threshold(curve, 0.10, x="train_seconds") == 4.5
    assert time_to_threshold(curve, 0.10, column="pose_error_cycle") == 300
    assert time_to_threshold(curve, 0.115, x="train_seconds", column="pose_error_cycle") == 3.0
    assert math.isnan(time_to_threshold(curve, 0.05))
    assert math.isnan(time_to_threshold(curve.iloc[:0], 0.15))
    assert math.isnan(time_to_threshold(curve.assign(pose_error_20s=np.nan), 0.15))  # not measured


def test_time_to_hold_hand_computed():
    curve = pd.DataFrame({
        "samples": [0, 100, 200, 300, 400, 500],
        "train_seconds": [0.0, 1.5, 3.0, 4.5, 6.0, 7.5],
        "pose_error_20s": [0.30, 0.12, 0.16, 0.15, 0.10, 0.14],
        "pose_error_cycle": [0.10, 0.12, np.nan, 0.05, 0.05, 0.05],
    })
    # 20 s: first reached at 100, but 0.16 at 200 breaks it; at or below 0.15 from 300 to the end.
    assert time_to_threshold(curve, 0.15) == 100 and time_to_hold(curve, 0.15) == 300
    assert time_to_hold(curve, 0.15, x="train_seconds") == 4.5
    assert math.isnan(time_to_hold(curve, 0.12))  # the last evaluation (0.14) is above: not held
    assert time_to_hold(curve, 0.30) == 0  # never above
    assert time_to_hold(curve, 0.12, column="pose_error_cycle") == 300  # an unmeasured evaluation breaks the hold
    assert math.isnan(time_to_hold(curve.iloc[:0], 0.15))
    assert math.isnan(time_to_hold(curve.assign(pose_error_20s=np.nan), 0.15))


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
        "Clip", "Method", "Seeds",
        "Samples to 0.15 m (20 s)", "Train time to 0.15 m (20 s)", "Samples to hold 0.15 m (20 s)",
        "Final pose error, 20 s (m)", "Best pose error, 20 s (m)",
        "Samples to 0.15 m (cycle)", "Train time to 0.15 m (cycle)", "Samples to hold 0.15 m (cycle)",
        "Final pose error, cycle (m)", "Best pose error, cycle (m)", "First fall, final policy (s)",
    ]
    assert len(table) == len(CLIPS) * len(METHODS)
    cell = table.set_index(["Clip", "Method"])
    # Hand-computed from synthetic_curve: the 20 s error of walk/diffmimic is 0.07 + 0.65 exp(-s / 300k), at or
    # below 0.15 m from s = 300k ln(0.65 / 0.08) = 628.5k, so at the evaluation at 630k (every 90k); the cycle
    # error 0.05 + (0.55 + |noise|) exp(-s / 200k) from s <= 200k ln(0.57 / 0.1) = 348k: the evaluation at 360k.
    assert cell.loc[("walk", "diffmimic"), "Samples to 0.15 m (20 s)"] == "630k [630k, 630k]"
    assert cell.loc[("walk", "diffmimic"), "Samples to 0.15 m (cycle)"] == "360k [360k, 360k]"
    # The 20 s error falls monotonically, so it holds the bar from where it reached it.
    assert cell.loc[("walk", "diffmimic"), "Samples to hold 0.15 m (20 s)"] == "630k [630k, 630k]"
    # PPO's backflip: 20 s floor 0.14 m needs s = 6M ln(0.58 / 0.01) = 24.4M > 19M: never; the cycle one at 12M.
    assert cell.loc[("backflip", "ppo"), "Samples to 0.15 m (20 s)"] == "not reached (0/2 seeds)"
    assert cell.loc[("backflip", "ppo"), "Samples to hold 0.15 m (20 s)"] == "not held (0/2 seeds)"
    assert cell.loc[("backflip", "ppo"), "Samples to 0.15 m (cycle)"] == "12M [12M, 12M]"
    assert "[" in cell.loc[("walk", "diffmimic"), "Final pose error, 20 s (m)"]
    # The final policies no longer fall (they stop falling after 2 x scale samples).
    assert cell.loc[("walk", "ppo"), "First fall, final policy (s)"] == "no fall (0/2 seeds)"
    assert seed_stats(per_run, (0.10,)).query("metric == 'samples_to_0.10_cycle' and clip == 'backflip' "
                                              "and method == 'diffmimic_noreplay'")["n"].item() == 1  # one seed stalls

    # Best so far is the minimum over the curve; the mean over seeds that reached the bar is the plain mean.
    walk_ppo = per_run[(per_run["clip"] == "walk") & (per_run["method"] == "ppo")]
    curves = [pd.DataFrame(synthetic_curve(RunKey("smoke", "walk", "ppo", s))) for s in (0, 1)]
    assert walk_ppo["best_pose_error_cycle"].tolist() == [c["pose_error_cycle"].min() for c in curves]
    assert walk_ppo["samples_to_0.15_cycle"].mean() == np.mean(
        [time_to_threshold(c, 0.15, column="pose_error_cycle") for c in curves])

    # Ratios by hand: 20 s: ppo reaches at 6M ln(0.61 / 0.04) = 16.35M -> 17M, diffmimic at 630k; cycle: ppo at
    # 4M ln(0.51 / 0.06) = 8.56M -> 9M, diffmimic 360k. Train seconds are 2e-6 (ppo) and 2e-5 (diffmimic) per
    # sample times (1 + 0.05 seed), the same factor for both methods, so it cancels in the ratio.
    ratios = ratio_stats(per_run).set_index("clip")
    assert ratios.loc["walk", "samples_ratio"] == pytest.approx(17e6 / 630e3)
    assert ratios.loc["walk", "train_seconds_ratio"] == pytest.approx(17e6 * 2e-6 / (630e3 * 2e-5))
    assert math.isnan(ratios.loc["backflip", "samples_ratio"])  # ppo never reached it at 20 s
    cycle = ratio_stats(per_run, horizon="cycle").set_index("clip")
    assert cycle.loc["walk", "samples_ratio"] == pytest.approx(9e6 / 360e3)
    assert cycle.loc["backflip", "samples_ratio"] == pytest.approx(12e6 / cycle.loc["backflip", "samples_diffmimic"])
    assert ratio_table(per_run)["Clip"].iloc[-1] == "geometric mean (1/2 clips)"
    assert ratio_table(per_run, horizon="cycle")["Clip"].iloc[-1] == "geometric mean (2/2 clips)"

    ablation = ablation_table(per_run)
    assert set(ablation["Method"]) == {"diffmimic", "diffmimic_noreplay"}
    aggregate = aggregate_table(per_run).set_index("Method")
    assert aggregate.loc["ppo", "Runs reaching 0.15 m (cycle)"] == "4/4"
    assert aggregate.loc["ppo", "Runs reaching 0.15 m (20 s)"] == "2/4"  # walk only


def test_first_fall_and_unmeasured_horizon(tmp_path):
    # Three evaluations at 0, 1M, 2M samples: ppo's synthetic episode still falls at 1 + 10 * 2M / 8M = 3.5 s.
    for seed in (0, 1):
        key = RunKey("smoke", "walk", "ppo", seed)
        write_run(tmp_path, key, synthetic_curve(key, n_evals=3))
    # A run whose 20 s horizon was never measured (a clip that does not loop, or a schema 1 record).
    old = RunKey("smoke", "walk", "diffmimic", 0)
    write_run(tmp_path, old, [row | {"pose_error_20s": None} for row in synthetic_curve(old, n_evals=3)])
    runs, _ = scan_runs(tmp_path)
    per_run = per_run_table(runs)
    cell = main_table(per_run).set_index("Method")
    assert cell.loc["ppo", "First fall, final policy (s)"] == "3.5 s [3.5 s, 3.5 s]"
    assert cell.loc["diffmimic", "Final pose error, 20 s (m)"] == "not measured"
    assert cell.loc["diffmimic", "Samples to 0.15 m (20 s)"] == "not measured"  # never "not reached"
    assert cell.loc["diffmimic", "Final pose error, cycle (m)"] != "not measured"
    assert aggregate_table(per_run).set_index("Method").loc["diffmimic", "Runs reaching 0.15 m (20 s)"] == "not measured"


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
    # Per clip a learning-curve figure and a diagnostics figure.
    assert len(paths.figures) == 2 * len(CLIPS) and all(p.stat().st_size > 10_000 for p in paths.figures)

    markdown = paths.markdown.read_text()
    page = paths.html.read_text()
    for text in ("Samples to 0.15 m (20 s)", "Train time to 0.15 m (cycle)", "Final pose error, 20 s (m)",
                 "First fall, final policy (s)", "IQM final pose error",
                 "Samples ratio", "walk", "backflip", "Runs left out", "diffmimic_noreplay"):
        assert text in markdown and text in page, text
    assert "](figures/curves_smoke_walk.png)" in markdown and "](figures/diagnostics_smoke_walk.png)" in markdown
    assert "## Training diagnostics" in markdown and "gradient norm before clipping" in markdown
    assert page.count("data:image/png;base64,") == 2 * len(CLIPS)
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
    # A folder of result sets (as results/ in this repository) names them instead of mixing them.
    for name in ("long-cpu", "quick-cpu"):
        (tmp_path / name / "deepmimic" / "walk" / "ppo" / "seed_0").mkdir(parents=True)
    with pytest.raises(NoRunsError, match=f"report one of them: {tmp_path / 'long-cpu'}, {tmp_path / 'quick-cpu'}"):
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


def test_fall_time_without_a_fall_is_the_whole_episode():
    curve = pd.DataFrame({"first_fall_seconds": [1.5, math.nan]})
    key = RunKey("smoke", "walk", "ppo", 0)
    manifest = {"config": {"evaluation": {"cycle_frames": 38, "long_frames": 600}}, "control_dt": 0.05}
    run = Run(key, Path("."), manifest, curve, None)
    assert with_fall_seconds(run).curve["fall_seconds"].tolist() == [1.5, 30.0]  # 600 steps x 0.05 s
    # Records from before manifests carried control_dt: 30 Hz; a clip that does not loop: its one cycle.
    older = Run(key, Path("."), {"config": {"evaluation": {"cycle_frames": 54, "long_frames": None}}}, curve, None)
    assert with_fall_seconds(older).curve["fall_seconds"].tolist() == [1.5, pytest.approx(54 / 30)]


def test_environment_table_names_the_torque_limits_of_each_run():
    from report.tables import environment_table

    curve = pd.DataFrame({"samples": [0]})
    unclipped = Run(RunKey("smoke", "walk", "ppo", 0), Path("."), {"config": {"env": {"torque_limits": "none"}}}, curve, None)
    # Records from before the option existed ran with the character's limits.
    older = Run(RunKey("smoke", "walk", "ppo", 1), Path("."), {"config": {"env": {}}}, curve, None)
    table = environment_table([unclipped, older])
    assert sorted(table["Torque limits"]) == ["character", "none"] and table["Runs"].tolist() == [1, 1]
    # Records from before the fall contact distance was an option counted a fall body within 1 cm of the floor.
    assert table["Fall contact within"].tolist() == ["10 mm", "10 mm"]
    faithful = Run(RunKey("smoke", "walk", "ppo", 2), Path("."),
                   {"config": {"env": {"torque_limits": "none", "fall_contact_distance": 0.001}}}, curve, None)
    assert environment_table([unclipped, faithful])["Fall contact within"].tolist() == ["10 mm", "1 mm"]
    # Records from before the phase was an option counted it over a whole number of steps.
    exact = Run(RunKey("smoke", "walk", "ppo", 3), Path("."),
                {"config": {"env": {"torque_limits": "none", "fall_contact_distance": 0.001, "phase": "exact"}}},
                curve, None)
    assert environment_table([faithful, exact])["Phase"].tolist() == ["rounded", "exact"]
    # The environment fields a run set with --env; none before the option.
    timestamp = Run(RunKey("smoke", "walk", "ppo", 4), Path("."),
                    {"config": {"env": {"torque_limits": "none", "fall_contact_distance": 0.001, "phase": "exact"}},
                     "env_command_line": {"observation": "timestamp", "joint_damping": "diffmimic",
                                          "fall_contact_bodies": ["pelvis", "torso"]}}, curve, None)
    assert environment_table([exact, timestamp])["--env"].tolist() == [
        "(none)", "fall_contact_bodies=pelvis,torso, joint_damping=diffmimic, observation=timestamp"]
