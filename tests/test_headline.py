"""The README's headline table: samples and time to the bar, and method / DiffMimic ratios with bootstrap CIs,
computed by hand."""

import math

import pytest

from benchmarks.results_store import RunKey, scan_runs
from report.headline import HeadlineError, headline_table, rewrite_blocks
from report.metrics import bootstrap_ratio_ci
from report.tables import per_run_table
from tests.test_results_store import write_run


def test_ratio_of_means_and_its_interval():
    assert bootstrap_ratio_ci([1000.0], [200.0]) == (5.0, *(pytest.approx(math.nan, nan_ok=True),) * 2)
    # PPO's two seeds both 1000; DiffMimic's 100 and 300: resampled means 100, 200 or 300 -> ratios 10, 5, 3.33.
    point, low, high = bootstrap_ratio_ci([1000.0, 1000.0], [100.0, 300.0])
    assert point == 5.0 and low == pytest.approx(1000 / 300) and high == pytest.approx(10.0)
    assert all(math.isnan(v) for v in bootstrap_ratio_ci([1000.0], [math.nan, math.nan]))  # DiffMimic never reached


def curve(reach_at: int | None, error_20s: float = 0.3) -> list[dict]:
    """Evaluations at 0, 100, ..., 1000 samples (one train second per 100): 0.5 m until ``reach_at``, then 0.1 m."""
    rows = []
    for samples in range(0, 1001, 100):
        below = reach_at is not None and samples >= reach_at
        rows.append({"samples": samples, "iteration": samples // 100, "train_seconds": samples / 100,
                     "compile_seconds": 1.0, "eval_seconds": 0.1, "pose_error_cycle": 0.1 if below else 0.5,
                     "pose_error_20s": error_20s})
    return rows


def test_headline_rows_by_hand(tmp_path):
    for method, seed, reach_at in [("diffmimic", 0, 100), ("diffmimic", 1, 300), ("ppo", 0, 1000), ("ppo", 1, 1000),
                                   ("ppo_deepmimic", 0, None), ("ppo_deepmimic", 1, None)]:
        write_run(tmp_path, RunKey("deepmimic", "walk", method, seed), curve(reach_at))
    table = headline_table(per_run_table(scan_runs(tmp_path)[0])).set_index(["horizon", "method"])
    cycle = table.loc["cycle"]
    assert cycle.loc["diffmimic", "samples to 0.15 m"] == "200 (2/2 seeds)"
    assert cycle.loc["diffmimic", "train time to 0.15 m"] == "2 s (2/2 seeds)"
    assert cycle.loc["ppo", "samples to 0.15 m"] == "1k (2/2 seeds)"
    assert cycle.loc["ppo", "samples / diffmimic's"] == "5x [3.33x, 10x]"  # as in the test above
    assert cycle.loc["ppo", "train time / diffmimic's"] == "5x [3.33x, 10x]"
    assert cycle.loc["ppo", "final pose error (m)"] == "0.100"
    assert cycle.loc["ppo_deepmimic", "samples to 0.15 m"] == "not reached (0/2 seeds)"
    assert cycle.loc["ppo_deepmimic", "samples / diffmimic's"] == "—"  # shown, never dropped
    assert cycle.loc["diffmimic", "samples to hold 0.15 m"] == "200 (2/2 seeds)"  # stays below once there
    assert cycle.loc["ppo_deepmimic", "samples to hold 0.15 m"] == "not held (0/2 seeds)"
    assert table.loc[("20 s", "ppo"), "samples to 0.15 m"] == "not reached (0/2 seeds)"


def test_a_ratio_over_fewer_seeds_says_so(tmp_path):
    # PPO reached the bar in one seed of two (at 600 samples): its mean is that seed's, 600 / 200 = 3x, and the cell
    # says it kept one seed of two; DiffMimic's two seeds (100 and 300) resampled: 600/300, 600/200, 600/100.
    for method, seed, reach_at in [("diffmimic", 0, 100), ("diffmimic", 1, 300), ("ppo", 0, 600), ("ppo", 1, None)]:
        write_run(tmp_path, RunKey("deepmimic", "walk", method, seed), curve(reach_at))
    table = headline_table(per_run_table(scan_runs(tmp_path)[0])).set_index(["horizon", "method"])
    assert table.loc[("cycle", "ppo"), "samples / diffmimic's"] == (
        "3x [2x, 6x] (over the seeds that reached it: 1/2 against diffmimic's 2/2)")
    assert table.loc[("cycle", "ppo"), "samples to 0.15 m"] == "600 (1/2 seeds)"


def test_a_lead_where_diffmimic_never_reached_the_bar_is_not_hidden(tmp_path):
    for method, seed, reach_at in [("diffmimic", 0, None), ("ppo", 0, 600)]:
        write_run(tmp_path, RunKey("deepmimic", "walk", method, seed), curve(reach_at))
    table = headline_table(per_run_table(scan_runs(tmp_path)[0])).set_index(["horizon", "method"])
    assert table.loc[("cycle", "ppo"), "samples / diffmimic's"] == "— (diffmimic did not reach it)"


def test_hold_is_not_a_touch(tmp_path):
    # Cycle error 0.1 m at 100 samples, back to 0.5 m at 200, then 0.1 m from 300 to the end: reached at 100,
    # held from 300. A second seed touches the bar at 100 and ends above it: reached, not held.
    rows = curve(300)
    rows[1]["pose_error_cycle"] = 0.1
    write_run(tmp_path, RunKey("deepmimic", "walk", "diffmimic", 0), rows)
    touched = curve(None)
    touched[1]["pose_error_cycle"] = 0.1
    write_run(tmp_path, RunKey("deepmimic", "walk", "diffmimic", 1), touched)
    row = headline_table(per_run_table(scan_runs(tmp_path)[0])).set_index(["horizon", "method"]).loc[("cycle", "diffmimic")]
    assert row["samples to 0.15 m"] == "100 (2/2 seeds)"
    assert row["samples to hold 0.15 m"] == "300 (1/2 seeds)"


def test_readme_blocks_are_regenerated_from_their_results(tmp_path):
    write_run(tmp_path / "results" / "a", RunKey("deepmimic", "walk", "diffmimic", 0), curve(100))
    readme = "intro\n<!-- headline:begin results/a -->\nstale\n<!-- headline:end -->\nend\n"
    text = rewrite_blocks(readme, tmp_path)
    assert "stale" not in text and "| walk | cycle | diffmimic | 100 (1/1 seeds) |" in text
    assert text.startswith("intro\n<!-- headline:begin results/a -->\n| clip |") and text.endswith("<!-- headline:end -->\nend\n")
    with pytest.raises(HeadlineError, match="results/missing does not exist"):
        rewrite_blocks(readme.replace("results/a", "results/missing"), tmp_path)
    (tmp_path / "results" / "empty").mkdir()
    with pytest.raises(HeadlineError, match="results/empty: no finished runs"):
        rewrite_blocks(readme.replace("results/a", "results/empty"), tmp_path)
    with pytest.raises(HeadlineError, match="no headline blocks"):
        rewrite_blocks("no markers", tmp_path)


def test_readme_headline_blocks_are_the_committed_records():
    """Every headline table in README.md is what its committed run records give (regenerate with
    ``python -m report.headline --readme`` after a new run)."""
    from report.headline import REPO

    readme = (REPO / "README.md").read_text()
    assert rewrite_blocks(readme, REPO) == readme
