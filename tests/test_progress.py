"""The in-process executor's progress bar on a time-budgeted tier: the last update overshoots the budget.

tqdm drops the total of a bar moved past it, and a bar format with ``{total:.0f}`` then fails; before the fix every
quick-tier run whose last update overshot its 2 minutes by half a second or more failed at its end (DiffMimic's
1-second updates nearly always did)."""

from __future__ import annotations

import dataclasses
import time

import jax.numpy as jnp
from jax.experimental import io_callback

import methods
from benchmarks import results_store as store
from benchmarks.executors import LocalExecutor
from benchmarks.harness import RunSpec
from benchmarks.suites import clip_spec
from tests.test_harness import CONSTANT, TIER


def _slow_update(state, key, *, env, config):
    """An update of 0.8 s (past a 0.1 s budget by more than half a second) that steps no environment: a program
    with a host callback is never stored in JAX's persistent cache, so it is compiled at every test session, and
    one without the humanoid compiles in a moment."""
    io_callback(lambda: time.sleep(0.8), None)
    return state.replace(iteration=state.iteration + 1), {
        "samples": jnp.asarray(config.num_envs * config.rollout_length),
        "loss": jnp.zeros(()),
        "grad_norm": jnp.zeros(()),
        "grad_finite": jnp.ones(()),
    }


SLOW = methods.register(
    dataclasses.replace(CONSTANT, name="test_progress_slow", update=_slow_update, description="test double: slow"),
    replace=True,
)


def test_a_run_that_overshoots_its_time_budget_finishes(tmp_path):
    tier = dataclasses.replace(TIER, max_train_seconds=0.1, max_samples=10**6)
    spec = RunSpec("smoke", clip_spec("synthetic"), SLOW.name, 0, tier)
    result = LocalExecutor().run([spec], tmp_path)
    assert result.ok, result.failures
    run = store.load_run(spec.key.dir(tmp_path))
    assert run.status == "complete" and run.summary["train_seconds"] > 0.6
