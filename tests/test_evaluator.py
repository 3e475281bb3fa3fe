"""The evaluator: its settings (frame 0, no replay, no early termination, both horizons) and its arithmetic.

The aggregation is a pure function, checked here on hand-made per-step traces; the settings are checked on the
configs and on one real evaluation env (built, never compiled). The harness tests run it end to end.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import jax
import numpy as np
import pytest

import envs
from benchmarks.evaluator import (
    EVALUATION_METRICS,
    EvaluationError,
    Horizons,
    check_evaluation_config,
    evaluation_env,
    evaluation_horizons,
    intact_error_bound,
    make_evaluate,
    make_sampled_evaluate,
    mean_over_episodes,
    sampled_episode_keys,
    pelvis_out_of_range,
    summarise_episode,
)
from benchmarks.results_store import CURVE_COLUMNS
from benchmarks.tiers import TIERS

DT = 1 / 30


def test_cycle_and_20s_aggregation_hand_computed():
    horizons = Horizons(cycle_frames=3, long_frames=5)
    result = summarise_episode(
        pose_error=[0.1, 0.2, 0.3, 0.4, 0.5],
        contact_fall=[0, 0, 0, 1, 0],
        pelvis_height=[0.9, 0.15, 0.9, 1.8, 0.9],  # out of [0.2, 1.7] m at steps 2 and 4
        horizons=horizons,
        dt=DT,
    )
    assert set(result) == set(EVALUATION_METRICS)
    assert float(result["pose_error_cycle"]) == pytest.approx(0.2)  # (0.1 + 0.2 + 0.3) / 3
    assert float(result["pose_error_20s"]) == pytest.approx(0.3)  # (0.1 + ... + 0.5) / 5
    assert float(result["fall_rate_cycle"]) == 0.0 and float(result["fall_rate_20s"]) == 1.0
    assert float(result["height_fall_cycle"]) == pytest.approx(1 / 3)
    assert float(result["height_fall_20s"]) == pytest.approx(2 / 5)
    assert float(result["first_fall_seconds"]) == pytest.approx(4 / 30)  # the 4th step ends 4 control steps in

    # The same numbers under jit (the evaluator runs it inside the compiled episode).
    jitted = jax.jit(lambda p, c, h: summarise_episode(p, c, h, horizons, DT))(
        np.array([0.1, 0.2, 0.3, 0.4, 0.5]), np.array([0, 0, 0, 1, 0.0]), np.array([0.9, 0.15, 0.9, 1.8, 0.9]))
    for name in EVALUATION_METRICS:
        assert float(jitted[name]) == pytest.approx(float(result[name]), nan_ok=True)


def test_aggregation_edge_cases():
    # No fall: first fall is NaN (the report shows "no fall"), rates 0.
    calm = summarise_episode([0.2] * 4, [0] * 4, [0.9] * 4, Horizons(2, 4), DT)
    assert math.isnan(float(calm["first_fall_seconds"])) and float(calm["fall_rate_20s"]) == 0.0
    # A fall at the first step: 1/30 s.
    assert float(summarise_episode([0.2] * 4, [1, 1, 0, 0], [0.9] * 4, Horizons(2, 4), DT)["first_fall_seconds"]) == \
        pytest.approx(1 / 30)
    # A long horizon shorter than the cycle (never in a shipped tier): each horizon its own prefix.
    short = summarise_episode([0.1, 0.3, 0.5, 0.7], [0] * 4, [0.9] * 4, Horizons(4, 2), DT)
    assert float(short["pose_error_cycle"]) == pytest.approx(0.4) and float(short["pose_error_20s"]) == pytest.approx(0.2)
    # No long horizon (a clip that does not loop): the 20 s metrics are NaN, the cycle ones measured.
    single = summarise_episode([0.1, 0.3], [0, 1], [0.9, 0.1], Horizons(2, None), DT)
    assert all(math.isnan(float(single[f"{m}_20s"])) for m in ("pose_error", "fall_rate", "height_fall"))
    assert float(single["pose_error_cycle"]) == pytest.approx(0.2) and float(single["height_fall_cycle"]) == 0.5
    assert float(single["first_fall_seconds"]) == pytest.approx(2 / 30)
    # Steps after the episode's horizons are ignored; fewer steps than the horizons is an error.
    assert float(summarise_episode([0.1, 0.3, 9.0], [0, 0, 1], [0.9] * 3, Horizons(2, 2), DT)["pose_error_20s"]) == \
        pytest.approx(0.2)
    with pytest.raises(EvaluationError, match="2 steps recorded for horizons of 3"):
        summarise_episode([0.1, 0.3], [0, 0], [0.9, 0.9], Horizons(3, 2), DT)
    with pytest.raises(EvaluationError, match="positive"):
        Horizons(0, 600)


def test_intact_error_bound_hand_computed():
    # Root at the origin; body 1 0.5 m above it; body 2 0.3 m beyond body 1 (chain 0.8 m); body 3 0.4 m beside the
    # root (chain 0.4 m). The longest chain is 0.8 m, so no intact pose can be more than 1.6 m from another.
    pos = np.array([[0, 0, 1.0], [0, 0, 1.5], [0.3, 0, 1.5], [0, 0.4, 1.0]])
    assert intact_error_bound(pos, np.array([-1, 0, 1, 0])) == pytest.approx(1.6)
    # Parents may come after their children in the body order.
    assert intact_error_bound(pos[[2, 1, 0, 3]], np.array([1, 2, -1, 2])) == pytest.approx(1.6)


def test_diverged_simulation_scores_as_a_failure_from_the_first_exploded_step():
    # Bound 1.0 m, so above 2.0 m (DIVERGENCE_FACTOR) a step has diverged. Step 3 explodes (9e9 m); step 4 comes back
    # to 0.2 m numerically, but a torn-apart character stays diverged: steps 3-5 score 1.0 m and a fall.
    result = summarise_episode(
        pose_error=[0.1, 0.3, 9e9, 0.2, float("nan")],
        contact_fall=[0, 0, 0, 0, 0],
        pelvis_height=[0.9] * 5,
        horizons=Horizons(cycle_frames=2, long_frames=5),
        dt=DT,
        error_bound=1.0,
    )
    assert float(result["pose_error_cycle"]) == pytest.approx(0.2)  # before the divergence: unchanged
    assert float(result["pose_error_20s"]) == pytest.approx((0.1 + 0.3 + 3 * 1.0) / 5)
    assert float(result["fall_rate_cycle"]) == 0.0 and float(result["fall_rate_20s"]) == 1.0
    assert float(result["height_fall_20s"]) == pytest.approx(3 / 5)
    assert float(result["first_fall_seconds"]) == pytest.approx(3 / 30)
    assert float(result["diverged_seconds"]) == pytest.approx(3 / 30)
    # An error up to the factor times the bound (a stretched spring joint) is not a divergence; NaN always is,
    # even without a bound.
    stretched = summarise_episode([0.5, 1.9], [0, 0], [0.9, 0.9], Horizons(2, 2), DT, error_bound=1.0)
    assert float(stretched["pose_error_cycle"]) == pytest.approx(1.2) and math.isnan(float(stretched["diverged_seconds"]))
    unbounded = summarise_episode([0.5, float("nan")], [0, 0], [0.9, 0.9], Horizons(2, 2), DT)
    assert float(unbounded["diverged_seconds"]) == pytest.approx(2 / 30) and float(unbounded["fall_rate_cycle"]) == 1.0


def test_diffmimic_height_fall_flag():
    # humanoid_mimic.py: fall when the pelvis is below 0.2 m or above 1.7 m; the bounds themselves are not falls.
    flags = pelvis_out_of_range(np.array([0.19, 0.2, 0.9, 1.7, 1.71]))
    assert np.asarray(flags).tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_evaluation_metrics_are_curve_columns():
    assert set(EVALUATION_METRICS) <= set(CURVE_COLUMNS)


def test_horizons_per_tier_and_clip():
    walk = SimpleNamespace(cycle_frames=38, loop=True)
    one_shot = SimpleNamespace(cycle_frames=54, loop=False)
    # DiffMimic's *_20s configs: ep_len_eval 600 (20 s at 30 Hz) in the quick, long and paper tiers; one cycle of the clip.
    for name in ("quick", "long", "paper"):
        tier = TIERS[name]
        assert tier.long_eval_frames == 600 and tier.eval_frames is None
        horizons = evaluation_horizons(walk, tier.eval_frames, tier.long_eval_frames)
        assert horizons == Horizons(cycle_frames=38, long_frames=600) and horizons.episode_frames == 600
        # A clip that does not loop has no 20 s horizon (nothing to extend): one cycle, and NaN in the 20 s columns.
        assert evaluation_horizons(one_shot, tier.eval_frames, tier.long_eval_frames) == Horizons(54, None)
        assert evaluation_horizons(one_shot, tier.eval_frames, tier.long_eval_frames).episode_frames == 54
    smoke = TIERS["smoke"]  # kept short for CI
    assert evaluation_horizons(walk, smoke.eval_frames, smoke.long_eval_frames).episode_frames <= 64


def test_check_refuses_settings_that_would_flatter_the_headline():
    horizons = Horizons(4, 8)
    good = envs.MimicConfig(random_start=False, early_termination=False, replay="none", episode_length=8)
    check_evaluation_config(good, horizons)
    for change, message in (
        ({"replay": "threshold"}, "replay='threshold'"),
        ({"replay": "random"}, "replay='random'"),
        ({"random_start": True}, "random_start"),
        ({"early_termination": True}, "early_termination"),
        ({"episode_length": 7}, "episode_length=7 < 8"),
    ):
        with pytest.raises(EvaluationError, match=message):
            check_evaluation_config(dataclasses.replace(good, **change), horizons)


@pytest.fixture(scope="module")
def train_env():
    # A training env as DiffMimic and PPO have them: replay on, random start, early termination on.
    config = envs.MimicConfig(replay="threshold", random_start=True, early_termination=True, episode_length=4)
    return envs.make_env("synthetic", config)


def test_evaluation_env_settings(train_env):
    horizons = Horizons(cycle_frames=4, long_frames=8)
    env = evaluation_env("synthetic", train_env, horizons)
    assert env.config.replay == "none"
    assert env.config.random_start is False
    assert env.config.early_termination is False
    assert env.config.episode_length == horizons.episode_frames == 8
    # Everything else (backend, physics, loss, observation) is the training env's.
    unchanged = {"replay", "random_start", "early_termination", "episode_length"}
    for field in dataclasses.fields(envs.MimicConfig):
        if field.name not in unchanged:
            assert getattr(env.config, field.name) == getattr(train_env.config, field.name), field.name
    assert env.reference.loop and env.reference.num_frames >= horizons.episode_frames + 1
    # The episode starts at frame 0 whatever the key.
    for seed in range(3):
        assert int(env.reset(jax.random.PRNGKey(seed)).info["frame"]) == 0
    make_evaluate(env, lambda state: None, horizons)  # accepted (nothing is compiled here)


def test_evaluator_rejects_an_env_with_replay_left_on(train_env):
    # If evaluation_env stopped forcing replay off, DiffMimic's evaluation would be snapped back onto the
    # reference whenever it drifted: the evaluator must refuse before anything is compiled.
    with pytest.raises(EvaluationError, match="replay='threshold'"):
        make_evaluate(train_env, lambda state: None, Horizons(4, 4))


def test_every_sampled_episode_and_step_draws_with_its_own_key():
    reset_keys, step_keys = sampled_episode_keys(jax.random.PRNGKey(0), episodes=3, steps=5)
    assert reset_keys.shape[0] == 3 and step_keys.shape[:2] == (3, 5)
    drawn = {tuple(np.asarray(key).ravel()) for key in [*reset_keys, *step_keys.reshape((15,) + step_keys.shape[2:])]}
    assert len(drawn) == 3 + 15


def test_mean_over_episodes_hand_computed():
    """DiffMimic's average over its evaluation envs: means of the pose errors and height falls, the fraction of
    episodes that fell, and the mean time of the falls (and divergences) that happened."""
    nan = math.nan
    episodes = {name: np.zeros(3, np.float32) for name in EVALUATION_METRICS}
    episodes.update(pose_error_cycle=np.array([0.1, 0.2, 0.6]), pose_error_20s=np.array([0.3, 0.4, 2.0]),
                    fall_rate_cycle=np.array([0.0, 0.0, 1.0]), fall_rate_20s=np.array([0.0, 1.0, 1.0]),
                    height_fall_20s=np.array([0.0, 0.1, 0.5]),
                    first_fall_seconds=np.array([nan, 4.0, 1.0]), diverged_seconds=np.array([nan, nan, nan]))
    result = {name: float(value) for name, value in mean_over_episodes(episodes).items()}
    assert set(result) == set(EVALUATION_METRICS)
    assert result["pose_error_cycle"] == pytest.approx(0.3)  # (0.1 + 0.2 + 0.6) / 3
    assert result["pose_error_20s"] == pytest.approx(0.9)  # (0.3 + 0.4 + 2.0) / 3
    assert result["fall_rate_cycle"] == pytest.approx(1 / 3) and result["fall_rate_20s"] == pytest.approx(2 / 3)
    assert result["height_fall_20s"] == pytest.approx(0.2)
    assert result["first_fall_seconds"] == pytest.approx(2.5)  # (4 + 1) / 2: the two episodes that fell
    assert math.isnan(result["diverged_seconds"])  # none diverged


@pytest.fixture(scope="module")
def eval_setup(train_env):
    horizons = Horizons(cycle_frames=4, long_frames=6)
    return evaluation_env("synthetic", train_env, horizons), horizons


def test_sampled_evaluation_without_noise_is_the_deterministic_one(eval_setup):
    env, horizons = eval_setup
    action = np.full(env.action_size, 0.2, np.float32)
    mean_policy = lambda state: (lambda obs, key: jax.numpy.broadcast_to(state, obs.shape[:-1] + state.shape))  # noqa: E731
    noisy_policy = lambda state: (lambda obs, key: state + 0.3 * jax.random.normal(key, state.shape))  # noqa: E731
    deterministic = jax.jit(make_evaluate(env, mean_policy, horizons))(action, jax.random.PRNGKey(0))
    means, per_episode = jax.jit(make_sampled_evaluate(env, mean_policy, horizons, 3))(action, jax.random.PRNGKey(1))
    for name in ("pose_error_cycle", "pose_error_20s", "height_fall_20s"):
        np.testing.assert_allclose(per_episode[name], np.full(3, float(deterministic[name])), rtol=1e-5)
        assert float(means[name]) == pytest.approx(float(deterministic[name]), rel=1e-5)
    # With noise, each episode draws its own actions: the episodes differ, and the mean is their mean.
    means, per_episode = jax.jit(make_sampled_evaluate(env, noisy_policy, horizons, 3))(action, jax.random.PRNGKey(1))
    assert len(set(np.round(np.asarray(per_episode["pose_error_20s"]), 7))) == 3
    assert float(means["pose_error_20s"]) == pytest.approx(float(np.mean(per_episode["pose_error_20s"])), rel=1e-6)
    with pytest.raises(EvaluationError, match="at least one episode"):
        make_sampled_evaluate(env, noisy_policy, horizons, 0)
