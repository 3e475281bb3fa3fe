"""Budget tiers: how much training each (clip, method, seed) run gets, and how often it is evaluated.

Overrides are applied to a method's config by field name, so a plugin method picks up the generic ones it shares
(``num_envs``, hidden sizes) and keeps its own defaults otherwise. A run stops at whichever budget ends first:
``max_samples`` or ``max_train_seconds`` (train time only; compile and evaluation time are not counted).
"""

from __future__ import annotations

import dataclasses
from typing import Any


class UnknownTierError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Tier:
    name: str
    description: str
    max_samples: int
    max_train_seconds: float | None
    eval_every_samples: int
    eval_frames: int | None
    """Evaluation episode length in control steps; None = one cycle of the clip."""
    overrides: dict[str, dict[str, Any]]
    """Per method family (the method name up to its first '_', e.g. 'diffmimic' for its ablations too)."""

    def method_overrides(self, method_name: str, config_fields: set[str]) -> dict[str, Any]:
        family = self.overrides.get(method_name, self.overrides.get(method_name.split("_")[0], self.overrides["*"]))
        merged = {**self.overrides["*"], **family}
        return {key: value for key, value in merged.items() if key in config_fields}


TIERS: dict[str, Tier] = {
    "smoke": Tier(
        name="smoke",
        description="seconds of training per run: proves the pipeline end to end (CI)",
        max_samples=4 * 8 * 6,
        max_train_seconds=None,
        eval_every_samples=4 * 8 * 2,
        eval_frames=16,
        overrides={
            "*": {"num_envs": 4, "hidden_sizes": (64, 64)},
            "diffmimic": {"rollout_length": 8, "num_iterations": 6},
            "ppo": {
                "unroll_length": 8,
                "minibatch_size": 16,
                "num_epochs": 1,
                "actor_hidden_sizes": (64, 64),
                "critic_hidden_sizes": (64, 64),
            },
        },
    ),
    "quick": Tier(
        name="quick",
        description="about 2 minutes of training per run on a 2-core CPU",
        max_samples=32 * 32 * 400,
        max_train_seconds=120.0,
        eval_every_samples=32 * 32 * 10,
        eval_frames=None,
        overrides={
            "*": {"num_envs": 32},
            "diffmimic": {"rollout_length": 32, "num_iterations": 400},
            "ppo": {"unroll_length": 32, "minibatch_size": 256, "num_epochs": 4},
        },
    ),
    "paper": Tier(
        name="paper",
        description="DiffMimic's released settings (300 envs, 1000 iterations); meant for a GPU",
        max_samples=300 * 30 * 1000,
        max_train_seconds=None,
        eval_every_samples=300 * 30 * 20,
        eval_frames=None,
        # PPO: DeepMimic's batch of 4096 samples per update (256 envs x 16 steps), for ppo and ppo_deepmimic alike.
        overrides={"*": {}, "diffmimic": {}, "ppo": {"num_envs": 256, "unroll_length": 16}},
    ),
}


def get_tier(name: str) -> Tier:
    if name not in TIERS:
        raise UnknownTierError(f"unknown tier '{name}': valid tiers are {', '.join(TIERS)}")
    return TIERS[name]
