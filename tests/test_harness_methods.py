"""The harness with the real methods on the smoke tier: budgets and per-clip settings, checkpoints, resume.

Fast, without compiling a training step: the tier's budgets and the clip's replay threshold reach each method's
config, and a real training state (networks, optimiser, normaliser, PPO's environments) survives a checkpoint.

Slow (2-3 minutes of CPU each, mostly compiling): one run per method (4 envs x 8 steps, hidden (64, 64), 6 updates),
stopped after its first evaluation past 0 samples, then rerun: the rerun trains only the remaining updates, keeps the
earlier curve rows, and its checkpoint evaluates to the recorded number.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
from flax import serialization

from benchmarks import harness, saved_policy
from benchmarks import results_store as store
from benchmarks.evaluator import evaluation_env, evaluation_horizons, make_evaluate
from benchmarks.suites import ClipSpec
from benchmarks.tiers import get_tier

SMOKE = get_tier("smoke")
THRESHOLD = 0.3  # no suite uses it: a 0.3 in the env config can only have come from the clip spec
SAMPLES_PER_UPDATE = 4 * 8  # the smoke tier's num_envs x rollout (DiffMimic) or unroll (PPO) length
POSE_ERROR = "pose_error_cycle"  # the curve column of the evaluation's pose error over the tier's eval_frames


class Interrupted(Exception):
    """Raised by the progress callback: the process dies between two updates."""


def spec(method: str) -> harness.RunSpec:
    return harness.RunSpec("smoke", ClipSpec("synthetic", THRESHOLD), method, 0, SMOKE)


def harness_evaluation(method, env):
    """``state -> pose error`` through the harness's own evaluator and settings (the same compiled program, so the
    same number to the last bit for the same state)."""
    horizons = evaluation_horizons(env.reference, SMOKE.eval_frames, SMOKE.long_eval_frames)
    eval_env = evaluation_env(spec(method.name).clip.clip, env, horizons)
    evaluate = jax.jit(make_evaluate(eval_env, method.policy, horizons))
    return lambda state: float(evaluate(state, jax.random.PRNGKey(0))[POSE_ERROR])


class Resumed:
    """One method's smoke run: what was on disk when it was interrupted, and after the rerun."""

    def __init__(self, method: str, out):
        self.spec = spec(method)
        self.dir = self.spec.key.dir(out)

        def stop_after_first_evaluation(progress):
            if progress.samples >= SMOKE.eval_every_samples:
                raise Interrupted

        with pytest.raises(Interrupted):
            harness.run(self.spec, out, report=stop_after_first_evaluation)
        self.interrupted = store.load_run(self.dir)
        self.interrupted_curve = (self.dir / store.CURVE_FILE).read_bytes()
        self.checkpoint = (self.dir / harness.CHECKPOINT_FILE).read_bytes()
        self.resumed_updates: list[int] = []
        self.summary = harness.run(self.spec, out, report=lambda progress: self.resumed_updates.append(progress.samples))
        self.run = store.load_run(self.dir)


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    cache = {}

    def get(method: str) -> Resumed:
        if method not in cache:
            cache[method] = Resumed(method, tmp_path_factory.mktemp(method))
        return cache[method]

    return get


METHODS = [pytest.param("diffmimic", marks=pytest.mark.slow), pytest.param("ppo", marks=pytest.mark.slow)]


@pytest.mark.parametrize("method", METHODS)
def test_smoke_run_resumes_from_its_checkpoint(resumed, method):
    result = resumed(method)
    assert result.interrupted.status == "incomplete"
    assert list(result.interrupted.curve["samples"]) == [0, SMOKE.eval_every_samples]

    # The rerun trained only the remaining updates, and kept the rows written before the interruption.
    remaining = range(SMOKE.eval_every_samples + SAMPLES_PER_UPDATE, SMOKE.max_samples + 1, SAMPLES_PER_UPDATE)
    assert result.resumed_updates == list(remaining)
    assert result.summary["status"] == "complete" and harness.CHECKPOINT_PROBLEM not in result.summary
    assert result.summary["total_samples"] == SMOKE.max_samples == 192
    assert result.summary["iterations"] == 6
    assert (result.dir / store.CURVE_FILE).read_bytes().startswith(result.interrupted_curve)
    assert list(result.run.curve["samples"]) == [0, 64, 128, 192]
    assert list(result.run.curve["iteration"]) == [0, 2, 4, 6]
    assert np.isfinite(result.run.curve[POSE_ERROR]).all()
    assert not (result.dir / harness.CHECKPOINT_FILE).exists() and (result.dir / harness.FINAL_STATE_FILE).exists()


@pytest.mark.parametrize("method", METHODS)
def test_checkpoint_restores_the_trained_state(resumed, method, tmp_path):
    result = resumed(method)
    (tmp_path / harness.CHECKPOINT_FILE).write_bytes(result.checkpoint)
    method_, config, env = harness.build(result.spec)
    initial = method_.init(jax.random.PRNGKey(0), env, config)
    restored, counters = harness._read_checkpoint(tmp_path, initial)
    assert counters["samples"] == SMOKE.eval_every_samples and counters["iteration"] == 2
    # Every leaf came back (a state dict of the restored state serialises to the same bytes as the saved one)...
    saved = serialization.msgpack_restore(result.checkpoint)["state"]
    assert serialization.msgpack_serialize(serialization.to_state_dict(restored)) == serialization.msgpack_serialize(saved)
    # ...and it is the trained state: its evaluation is the one the curve recorded at the checkpoint.
    recorded = float(result.interrupted.curve[POSE_ERROR].iloc[-1])
    evaluate = harness_evaluation(method_, env)
    assert evaluate(restored) == pytest.approx(recorded, rel=1e-6)
    assert evaluate(initial) != pytest.approx(recorded, rel=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_final_policy_evaluates_again_deterministically_and_sampled(resumed, method):
    """benchmarks.saved_policy (policy_eval's library) on a real method's finished run: the manifest rebuilds its config and env, the kept
    final state re-evaluates to the curve's last row, and the method's stochastic policy gives sampled episodes."""
    result = resumed(method)
    saved = saved_policy.load_saved_run(result.dir)
    assert saved.config == harness.build(result.spec)[1] and saved.samples == SMOKE.max_samples
    again = saved_policy.deterministic_evaluation(saved)
    assert again[POSE_ERROR] == pytest.approx(float(result.run.curve[POSE_ERROR].iloc[-1]), rel=1e-5)
    means, per_episode = saved_policy.sampled_evaluation(saved, episodes=2)
    assert np.isfinite(per_episode[POSE_ERROR]).all() and per_episode[POSE_ERROR][0] != per_episode[POSE_ERROR][1]
    assert means[POSE_ERROR] == pytest.approx(np.mean(per_episode[POSE_ERROR]), rel=1e-6)


@pytest.mark.parametrize("method", ["diffmimic", "ppo"])
def test_checkpoint_round_trips_a_method_state(method, tmp_path):
    """Every leaf of a real training state (networks, optimiser, normaliser, PPO's environments) survives the file."""
    method_, config, env = harness.build(spec(method))
    state = method_.init(jax.random.PRNGKey(3), env, config)
    counters = {"samples": 64, "iteration": 2, "train_seconds": 1.0, "compile_seconds": 2.0, "eval_seconds": 0.5}
    harness._write_checkpoint(tmp_path, state, counters)
    template = method_.init(jax.random.PRNGKey(4), env, config)  # same structure, other values
    restored, restored_counters = harness._read_checkpoint(tmp_path, template)
    assert restored_counters == counters
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for saved, back in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        assert np.asarray(back).dtype == np.asarray(saved).dtype and np.array_equal(back, saved)


def manifest_config(method: str) -> dict:
    """The configuration the harness builds for ``method`` (no compiling), as a manifest records it."""
    method_, config, env = harness.build(spec(method))
    as_dicts = {"method": config, "env": env.config, "tier": spec(method).tier}
    return {name: store._jsonable(dataclasses.asdict(value)) for name, value in as_dicts.items()}


def test_tier_overrides_set_the_budgets():
    diffmimic = manifest_config("diffmimic")
    assert diffmimic["tier"]["max_samples"] == 192 and diffmimic["tier"]["eval_frames"] == 16
    method = diffmimic["method"]
    assert (method["num_envs"], method["rollout_length"], method["num_iterations"]) == (4, 8, 6)
    assert method["hidden_sizes"] == [64, 64]

    method = manifest_config("ppo")["method"]
    assert (method["num_envs"], method["unroll_length"], method["minibatch_size"], method["num_epochs"]) == (4, 8, 16, 1)
    assert method["actor_hidden_sizes"] == method["critic_hidden_sizes"] == [64, 64]


def test_per_clip_replay_threshold_reaches_the_environment():
    diffmimic = manifest_config("diffmimic")
    assert diffmimic["method"]["replay_threshold"] == THRESHOLD
    assert diffmimic["env"]["replay"] == "threshold" and diffmimic["env"]["replay_threshold"] == THRESHOLD
    # PPO trains on the unmodified task: no replay whatever the clip's threshold, early termination on a fall.
    ppo = manifest_config("ppo")["env"]
    assert ppo["replay"] == "none" and ppo["early_termination"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["diffmimic", "ppo"])
def test_run_records_the_configuration_it_trained_with(resumed, method):
    run = resumed(method).run
    assert run.manifest["tier"] == "smoke"
    assert {name: run.manifest["config"][name] for name in ("method", "env", "tier")} == manifest_config(method)
    replay_rates = run.curve["replay_rate"].iloc[1:]  # the first row is before any training
    if method == "diffmimic":
        assert np.isfinite(replay_rates).all()
    else:
        assert replay_rates.isna().all()  # PPO never replays
