"""The curve's training columns, computed by hand."""

import math

from benchmarks.diagnostics import UpdateLog, update_is_finite


def test_update_log_means_over_finite_updates_and_counts_the_rest():
    log = UpdateLog()
    assert log.row() == {"loss": None, "grad_norm": None, "replay_rate": None, "nonfinite_fraction": None}
    assert log.add({"loss": 2.0, "grad_norm": 10.0, "grad_finite": 1.0, "replay_rate": 0.5})
    assert log.add({"loss": 4.0, "grad_norm": 30.0, "grad_finite": 1.0, "replay_rate": 0.0})
    assert not log.add({"loss": 1.0, "grad_norm": math.inf, "grad_finite": 0.0, "replay_rate": 0.25})
    assert not log.add({"loss": math.nan, "grad_norm": 5.0, "grad_finite": 1.0, "replay_rate": 0.25})
    # loss (2 + 4) / 2, norm (10 + 30) / 2: the two skipped updates do not enter the means; replay is measured by
    # every update's rollout, (0.5 + 0 + 0.25 + 0.25) / 4; 2 of 4 updates were not finite.
    assert log.row() == {"loss": 3.0, "grad_norm": 20.0, "replay_rate": 0.25, "nonfinite_fraction": 0.5}


def test_methods_without_replay_have_no_replay_rate():
    log = UpdateLog()
    log.add({"loss": 1.0, "grad_norm": 1.0, "grad_finite": 1.0})
    assert log.row()["replay_rate"] is None and log.row()["nonfinite_fraction"] == 0.0


def test_finite_update():
    assert update_is_finite({"loss": 0.5, "grad_finite": 1.0})
    assert not update_is_finite({"loss": 0.5, "grad_finite": 0.0})
    assert not update_is_finite({"loss": math.inf, "grad_finite": 1.0})
