"""A finished run's final policy, restored and evaluated again (the library behind ``benchmarks.policy_eval``).

The run's environment, evaluation env and method config are rebuilt from its ``manifest.json``
(:mod:`benchmarks.recorded_run`), and its final state (``final_state.msgpack``, which the harness keeps) is placed on
as many devices as the run's was, so that the deterministic evaluation runs the program the harness ran.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import envs
from benchmarks import recorded_run
from benchmarks import results_store as store
from benchmarks.evaluator import (EVALUATION_METRICS, Horizons, evaluation_env, make_evaluate,
                                  make_sampled_evaluate)
from benchmarks.harness import FINAL_STATE_FILE, read_saved_state
from methods import get_method, parallel


class PolicyEvalError(ValueError):
    """A run that cannot be re-evaluated; the message names the file and the problem."""


@dataclasses.dataclass
class SavedRun:
    """A finished run rebuilt from its files: what its final policy is evaluated with."""

    dir: Path
    manifest: dict
    curve_last: dict
    method: Any
    config: Any
    eval_env: envs.MimicEnv
    horizons: Horizons
    state: Any
    samples: int
    devices: int
    """Devices the state is placed on (the run's, where this process has them)."""
    policy: Any
    """``state -> act(obs, key)``: the deterministic policy the harness evaluated the run with."""


def load_saved_run(run_dir: str | Path, data_dir: str | None = None, devices: int | None = None) -> SavedRun:
    """The run in ``run_dir`` with its final state restored, placed as the harness placed it on ``devices`` (default:
    the run's ``device_count``, at most this process's devices). Raises PolicyEvalError (or the store's
    CorruptRunError, the harness's CheckpointError, a data or motion error) naming the file and the problem."""
    run_dir = Path(run_dir)
    run = store.load_run(run_dir)
    if run.summary is None:
        raise PolicyEvalError(f"{run_dir}: the run is not finished (no {store.SUMMARY_FILE}); finish it first")
    state_path = run_dir / FINAL_STATE_FILE
    if not state_path.exists():
        raise PolicyEvalError(f"{state_path}: missing (the run finished before final states were kept, or its "
                              "directory was copied without it: git does not track it)")
    where = run_dir / store.MANIFEST_FILE
    method = get_method(run.manifest["method"])
    recorded_method = recorded_run.manifest_section(run.manifest, "config", "method", where=where)
    config = recorded_run.method_config(method, recorded_method, where)
    clip = recorded_run.clip_file(run.manifest, where)
    env = envs.make_env(clip, recorded_run.env_config(
        recorded_run.manifest_section(run.manifest, "config", "env", where=where), where), data_dir=data_dir)
    evaluation = recorded_run.manifest_section(run.manifest, "config", "evaluation", where=where)
    horizons = Horizons(*(recorded_run.manifest_section(evaluation, name, where=where)
                          for name in ("cycle_frames", "long_frames")))
    eval_env = evaluation_env(clip, env, horizons, data_dir=data_dir)
    # The evaluation env is derived, not recorded: check that this code derives the one the run was evaluated in.
    recorded = recorded_run.env_config(recorded_run.manifest_section(evaluation, "env", where=where), where)
    changed = recorded_run.changed_keys(dataclasses.asdict(recorded), dataclasses.asdict(eval_env.config))
    if changed:
        raise PolicyEvalError(f"{where}: this code builds another evaluation env than the run's ({', '.join(changed)})")

    devices = min(devices or int(run.manifest.get("device_count", 1)), jax.local_device_count())
    with parallel.data_parallel(devices):  # the harness's layout: batches split as init marks them, the rest replicated
        template, shardings = parallel.place(method.init(jax.random.PRNGKey(0), env, config))
        state, counters = read_saved_state(state_path, template)
        state = state if shardings is None else jax.device_put(state, shardings)
    last = run.curve.iloc[-1]
    if (int(counters["samples"]), int(counters["iteration"])) != (int(last["samples"]), int(last["iteration"])):
        raise PolicyEvalError(f"{state_path}: saved after {int(counters['samples']):,} samples (iteration "
                              f"{int(counters['iteration'])}), but the curve ends at {int(last['samples']):,} "
                              f"(iteration {int(last['iteration'])}): not this run's final state")
    return SavedRun(run_dir, run.manifest, {name: float(last[name]) for name in EVALUATION_METRICS}, method,
                    config, eval_env, horizons, state, int(counters["samples"]), devices,
                    _evaluated_policy(method, recorded_method))


def _evaluated_policy(method, recorded_method: dict):
    """The method's policy, its mean action clipped to [-1, 1] for the runs whose evaluation clipped it."""
    if not recorded_run.evaluated_with_clipped_mean(method, recorded_method):
        return method.policy

    def clipped(state):
        act = method.policy(state)
        return lambda obs, key=None: jnp.clip(act(obs, key), -1.0, 1.0)

    return clipped


def deterministic_evaluation(saved: SavedRun) -> dict[str, float]:
    """The harness's evaluation of the final policy: one episode, the mean action, key 0."""
    evaluate = jax.jit(make_evaluate(saved.eval_env, saved.policy, saved.horizons))
    return {name: float(value) for name, value in jax.device_get(evaluate(saved.state, jax.random.PRNGKey(0))).items()}


def sampled_evaluation(saved: SavedRun, episodes: int, seed: int = 0) -> tuple[dict[str, float], dict[str, list]]:
    """DiffMimic's evaluation of the final policy: the means over ``episodes`` sampled episodes, and each episode's
    metrics."""
    if saved.method.sample_policy is None:
        raise PolicyEvalError(f"{saved.dir}: method '{saved.method.name}' has no stochastic policy (sample_policy)")
    evaluate = jax.jit(make_sampled_evaluate(saved.eval_env, saved.method.sample_policy, saved.horizons, episodes))
    means, per_episode = jax.device_get(evaluate(saved.state, jax.random.PRNGKey(seed)))
    return ({name: float(value) for name, value in means.items()},
            {name: np.asarray(value, float).tolist() for name, value in per_episode.items()})


