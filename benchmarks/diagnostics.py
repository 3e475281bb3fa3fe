"""Training diagnostics between two evaluations: what the curve's training columns record, so that a reader can
see why a run stalls (replay leaned on, exploding gradients, skipped updates).

Pure Python on the numbers each update returns (no JAX), so that every formula has a hand-computed test.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping


def update_is_finite(metrics: Mapping[str, float]) -> bool:
    """An update counts as finite when the method applied it: its gradient was finite and its loss is a number."""
    return bool(float(metrics["grad_finite"]) > 0.5) and math.isfinite(float(metrics["loss"]))


@dataclasses.dataclass
class UpdateLog:
    """Updates since the last evaluation: means over the finite ones, and the fraction that were not finite."""

    updates: int = 0
    nonfinite: int = 0
    loss_sum: float = 0.0
    grad_norm_sum: float = 0.0
    replay_sum: float = 0.0
    replay_count: int = 0

    def add(self, metrics: Mapping[str, float]) -> bool:
        """Records one update's metrics; returns whether it was finite."""
        self.updates += 1
        if "replay_rate" in metrics and math.isfinite(float(metrics["replay_rate"])):
            self.replay_sum += float(metrics["replay_rate"])
            self.replay_count += 1
        if not update_is_finite(metrics):
            self.nonfinite += 1
            return False
        self.loss_sum += float(metrics["loss"])
        self.grad_norm_sum += float(metrics["grad_norm"])
        return True

    def row(self) -> dict[str, float | None]:
        """The curve's training columns; None (not measured) where no update contributed."""
        finite = self.updates - self.nonfinite
        return {
            "loss": self.loss_sum / finite if finite else None,
            "grad_norm": self.grad_norm_sum / finite if finite else None,
            "replay_rate": self.replay_sum / self.replay_count if self.replay_count else None,
            "nonfinite_fraction": self.nonfinite / self.updates if self.updates else None,
        }
