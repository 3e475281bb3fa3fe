"""The numbers the report's headline is made of: PPO/DiffMimic ratios computed by hand, and the committed quick-tier
reports' numbers rebuilt from their run records (no JAX). The numbers only: drawing the committed records' figures
and motion GIFs took 86 s for the faithful set alone on CI; building whole reports is test_report's and
test_viewer's job."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.results_store import RunKey, scan_runs
from report.build import write_data_tables
from report.tables import per_run_table, ratio_stats, ratio_table
from tests.test_results_store import write_run

REPO = Path(__file__).resolve().parent.parent
POSE_ERROR_COLUMNS = ("pose_error_cycle", "pose_error_20s")  # both horizons get the hand-written errors
HEADLINE_COLUMN = "samples_to_0.15_cycle"  # the committed runs measured the one-cycle horizon only


# Curves small enough to read the answers off by hand: (clip, method, seed) -> pose error at samples 0, 100, ...,
# with train seconds = samples / 100 for PPO and samples / 50 for DiffMimic. The bar is 0.15 m.
HAND_CURVES = {
    ("walk", "ppo", 0): [0.5, 0.3, 0.15, 0.12],  # reaches at 200 samples, 2 s
    ("walk", "ppo", 1): [0.5, 0.3, 0.2, 0.18, 0.14],  # 400 samples, 4 s
    ("walk", "diffmimic", 0): [0.5, 0.1, 0.1],  # 100 samples, 2 s
    ("walk", "diffmimic", 1): [0.5, 0.3, 0.1],  # 200 samples, 4 s
    ("backflip", "ppo", 0): [0.5, 0.4, 0.3, 0.2, 0.2, 0.2, 0.15],  # 600 samples, 6 s
    ("backflip", "ppo", 1): [0.5, 0.4, 0.3, 0.2],  # never
    ("backflip", "diffmimic", 0): [0.5, 0.4, 0.3, 0.14],  # 300 samples, 6 s
    ("backflip", "diffmimic", 1): [0.5, 0.4, 0.3, 0.2, 0.2, 0.2, 0.15],  # 600 samples, 12 s
    ("run", "ppo", 0): [0.5, 0.1],  # reaches, but DiffMimic never does: no ratio
    ("run", "diffmimic", 0): [0.5, 0.4],
    ("walk", "ppo_deepmimic", 0): [0.5, 0.4, 0.3, 0.2, 0.15],  # 400 samples, 4 s: the second PPO baseline
}


def write_hand_results(out: Path) -> None:
    for (clip, method, seed), errors in HAND_CURVES.items():
        per_second = 100 if method.startswith("ppo") else 50
        rows = [{"samples": 100 * i, "iteration": i, "train_seconds": 100 * i / per_second, "compile_seconds": 1.0,
                 "eval_seconds": 0.1 * i, **{column: error for column in POSE_ERROR_COLUMNS}}
                for i, error in enumerate(errors)]
        write_run(out, RunKey("smoke", clip, method, seed), rows)


def test_ratios_hand_computed(tmp_path):
    write_hand_results(tmp_path)
    per_run = per_run_table(scan_runs(tmp_path)[0])
    ratios = ratio_stats(per_run).set_index("clip")
    # walk: PPO (200 + 400) / 2 = 300 samples, DiffMimic (100 + 200) / 2 = 150: 2x; seconds (2 + 4) / 2 = 3 vs 3: 1x.
    assert ratios.loc["walk", "samples_ppo"] == 300 and ratios.loc["walk", "samples_diffmimic"] == 150
    assert ratios.loc["walk", "samples_ratio"] == 2.0 and ratios.loc["walk", "train_seconds_ratio"] == 1.0
    # backflip: PPO's mean is over its one seed that reached (600); DiffMimic (300 + 600) / 2 = 450: 4/3;
    # seconds 6 vs (6 + 12) / 2 = 9: 2/3 (DiffMimic slower in time).
    assert ratios.loc["backflip", "samples_ratio"] == pytest.approx(600 / 450)
    assert ratios.loc["backflip", "train_seconds_ratio"] == pytest.approx(6 / 9)
    assert ratios.loc["backflip", "samples_reached"] == "ppo 1/2, diffmimic 2/2"
    assert math.isnan(ratios.loc["run", "samples_ratio"]) and math.isnan(ratios.loc["run", "train_seconds_ratio"])
    # ppo_deepmimic on walk: 400 samples / 4 s against DiffMimic's 150 / 3 s: 8/3 and 4/3; no other clip has it.
    deepmimic = ratio_stats(per_run, baseline="ppo_deepmimic").set_index("clip")
    assert list(deepmimic.index) == ["walk"]
    assert deepmimic.loc["walk", "samples_ratio"] == pytest.approx(400 / 150)
    assert deepmimic.loc["walk", "train_seconds_ratio"] == pytest.approx(4 / 3)
    # Both horizons were given the same errors, so the one-cycle ratios equal the 20 s ones.
    assert ratio_stats(per_run, horizon="cycle").set_index("clip").loc["walk", "samples_ratio"] == 2.0

    table = ratio_table(per_run).set_index("Clip")
    assert table.loc["walk", "Samples ratio"] == "2x" and table.loc["backflip", "Samples ratio"] == "1.33x"
    assert table.loc["run", "Samples ratio"] == "—"
    # Geometric means over the two clips with a ratio: sqrt(2 * 4/3) = 1.633 and sqrt(1 * 2/3) = 0.8165.
    summary = table.loc["geometric mean (2/3 clips)"]
    assert summary["Samples ratio"] == "1.63x" and summary["Train time ratio"] == "0.816x"


QUICK_CPU = REPO / "results" / "quick-cpu"


def rebuilt_per_run(results_dir: Path, out: Path) -> pd.DataFrame:
    """The per-run table the report would write for ``results_dir``, as read back from its CSV."""
    runs, _ = scan_runs(results_dir)
    assert runs, results_dir
    return pd.read_csv(write_data_tables(runs, out)[1][0])


def test_committed_quick_tier_report_rebuilds_to_the_same_numbers(tmp_path):
    """The committed run records give the committed per-run numbers: a report change that moves one shows here.

    After an intended change, regenerate with ``python -m report results/quick-cpu`` and commit the new report."""
    committed = pd.read_csv(QUICK_CPU / "report" / "per_run.csv")
    rebuilt = rebuilt_per_run(QUICK_CPU, tmp_path)
    pd.testing.assert_frame_equal(rebuilt, committed, check_exact=False, rtol=1e-12, atol=0)
    # The headline of these records (before the fidelity review), read off the per-run table: walk, PPO / DiffMimic
    # samples to 0.15 m.
    walk = committed[committed["clip"] == "walk"].groupby("method")[HEADLINE_COLUMN].mean()
    assert walk["ppo"] / walk["diffmimic"] == pytest.approx(3.75, abs=0.005)


QUICK_CPU_CHARACTERS = REPO / "results" / "quick-cpu-characters"


def test_committed_character_runs_rebuild_to_the_same_numbers(tmp_path):
    """The README's table of DiffMimic's other characters, read off the committed records (regenerate with
    ``python -m report results/quick-cpu-characters`` after an intended change)."""
    committed = pd.read_csv(QUICK_CPU_CHARACTERS / "report" / "per_run.csv")
    rebuilt = rebuilt_per_run(QUICK_CPU_CHARACTERS, tmp_path)
    pd.testing.assert_frame_equal(rebuilt, committed, check_exact=False, rtol=1e-12, atol=0)
    reached = committed.dropna(subset=[HEADLINE_COLUMN])
    assert list(zip(reached["clip"], reached["method"], reached[HEADLINE_COLUMN])) == [
        ("gBR_sBM_cAll_d04_mBR0_ch01", "diffmimic", 30720.0)
    ]
    assert not committed["measured_20s"].any()  # none of these clips loops: no 20 s horizon


QUICK_CPU_FAITHFUL = REPO / "results" / "quick-cpu-faithful"


def test_committed_faithful_runs_rebuild_to_the_same_numbers(tmp_path):
    """The faithful quick-tier records (issue 8) give the committed per-run table, and the README's reading of it:
    over one cycle only DiffMimic (walk, jump), its no-replay ablation (walk, jump) and Adam PPO (walk) reach 0.15 m,
    PPO after 3x DiffMimic's samples on walk; over 20 s nothing does."""
    committed = pd.read_csv(QUICK_CPU_FAITHFUL / "report" / "per_run.csv")
    rebuilt = rebuilt_per_run(QUICK_CPU_FAITHFUL, tmp_path)
    pd.testing.assert_frame_equal(rebuilt, committed, check_exact=False, rtol=1e-12, atol=0)
    assert len(committed) == 32 and set(committed["status"]) == {"complete"}
    reached = committed.dropna(subset=[HEADLINE_COLUMN]).groupby(["clip", "method"]).size()
    assert reached.to_dict() == {("jump", "diffmimic"): 2, ("jump", "diffmimic_noreplay"): 2,
                                 ("walk", "diffmimic"): 2, ("walk", "diffmimic_noreplay"): 2, ("walk", "ppo"): 2}
    walk = committed[committed["clip"] == "walk"].groupby("method")[HEADLINE_COLUMN].mean()
    assert walk["ppo"] / walk["diffmimic"] == pytest.approx(3.0)
    assert committed["samples_to_0.15_20s"].isna().all()
