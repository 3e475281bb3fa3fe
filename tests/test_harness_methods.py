"""The harness with the real methods on the smoke tier: budgets and per-clip settings, interruption and resume.

One run per method (4 envs x 8 steps, hidden (64, 64), 6 updates), stopped after its first evaluation past 0
samples, then rerun. PPO's run is in the fast suite; DiffMimic's is marked slow, because compiling its gradient
through the humanoid costs one to two minutes of CPU (the fast suite already compiles one in test_methods). What
reaches DiffMimic's configuration (tier budgets, the clip's replay threshold) is checked without compiling.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import serialization

from benchmarks import harness
from benchmarks import results_store as store
from benchmarks.evaluator import evaluation_env, make_evaluate
from benchmarks.suites import ClipSpec
from benchmarks.tiers import get_tier

SMOKE = get_tier("smoke")
THRESHOLD = 0.3  # no suite uses it: a 0.3 in the env config can only have come from the clip spec
SAMPLES_PER_UPDATE = 4 * 8  # the smoke tier's num_envs x rollout (DiffMimic) or unroll (PPO) length


class Interrupted(Exception):
    """Raised by the progress callback: the process dies between two updates."""


def spec(method: str) -> harness.RunSpec:
    return harness.RunSpec("smoke", ClipSpec("synthetic", THRESHOLD), method, 0, SMOKE)


def evaluate(method, env, state) -> float:
    """The harness's evaluation of ``state`` (frame 0, deterministic policy, key 0)."""
    frames = SMOKE.eval_frames
    eval_env = evaluation_env(spec(method.name).clip.clip, env, frames)
    return float(jax.jit(make_evaluate(eval_env, method.policy, frames))(state, jax.random.PRNGKey(0))["pose_error"])


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


METHODS = [pytest.param("diffmimic", marks=pytest.mark.slow), "ppo"]


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
    assert np.isfinite(result.run.curve["pose_error"]).all()
    assert not (result.dir / harness.CHECKPOINT_FILE).exists()


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
    recorded = float(result.interrupted.curve["pose_error"].iloc[-1])
    assert evaluate(method_, env, restored) == pytest.approx(recorded, rel=1e-5)
    assert evaluate(method_, env, initial) != pytest.approx(recorded, rel=1e-5)


def manifest_config(method: str) -> dict:
    """The configuration the harness records in a run's manifest (built, not compiled)."""
    method_, config, env = harness.build(spec(method))
    return store._jsonable(harness._manifest(spec(method), method_, config, env)["config"])


def test_tier_overrides_set_the_budgets(resumed):
    diffmimic = manifest_config("diffmimic")
    assert diffmimic["tier"]["max_samples"] == 192 and diffmimic["tier"]["eval_frames"] == 16
    method = diffmimic["method"]
    assert (method["num_envs"], method["rollout_length"], method["num_iterations"]) == (4, 8, 6)
    assert method["hidden_sizes"] == [64, 64]

    ppo = resumed("ppo").run.manifest
    assert ppo["tier"] == "smoke" and ppo["config"] == manifest_config("ppo")
    method = ppo["config"]["method"]
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
def test_diffmimic_run_records_the_clip_threshold_and_replays(resumed):
    run = resumed("diffmimic").run
    assert run.manifest["config"] == manifest_config("diffmimic")
    assert np.isfinite(run.curve["replay_rate"].iloc[1:]).all()
