"""The one evaluator every method is judged by (DESIGN.md's pose error).

An evaluation episode starts at frame 0 of the clip, runs the method's deterministic policy for ``eval_frames``
control steps with no Demonstration Replay and no early termination, and reports the pose error averaged over the
episode and whether the character fell. Evaluation steps are not training samples.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

import envs


def evaluation_env(clip: str, train_env: envs.MimicEnv, eval_frames: int, data_dir=None) -> envs.MimicEnv:
    config = dataclasses.replace(
        train_env.config, random_start=False, replay="none", early_termination=False, episode_length=eval_frames
    )
    return envs.make_env(clip, config, character=train_env.model.mjcf_path.stem, data_dir=data_dir)


def make_evaluate(env: envs.MimicEnv, policy_of: Callable, eval_frames: int):
    """``evaluate(method_state, key) -> {pose_error, fall_rate, return}``, pure and jit-able."""

    def evaluate(method_state, key):
        act = policy_of(method_state)
        state = env.reset(key)

        def step(carry, _):
            state, fallen = carry
            state = env.step(state, act(state.obs, key))
            fallen = jnp.maximum(fallen, state.metrics["fall"])
            return (state, fallen), (state.metrics["pose_error"], state.reward)

        (_, fallen), (pose_error, reward) = jax.lax.scan(step, (state, jnp.zeros(())), None, eval_frames)
        return {"pose_error": pose_error.mean(), "fall_rate": fallen, "return": reward.sum()}

    return evaluate
