"""The console names the long horizon by its length: "20 s" at 600 steps, else the step count (no JAX)."""

from benchmarks.executors import long_horizon_label, summary_line
from benchmarks.tiers import get_tier


def test_long_horizon_is_called_20_s_only_at_600_steps():
    assert long_horizon_label(get_tier("quick")) == "20 s"
    assert long_horizon_label(get_tier("smoke")) == "32 steps"


def test_summary_line_names_the_tiers_long_horizon():
    summary = {"status": "complete", "final_pose_error_20s": 0.4, "final_pose_error_cycle": 0.1234,
               "total_samples": 256, "train_seconds": 0.1, "compile_seconds": 18.2, "eval_seconds": 0.1}
    assert summary_line(summary, get_tier("smoke")) == (
        "complete, pose error 0.400 m (32 steps), 0.123 m (cycle) after 256 samples, train 0.1s, compile 18.2s, "
        "eval 0.1s")
