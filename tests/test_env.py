"""The mimic environment: interface, metrics, Demonstration Replay, falls and gradients."""

import dataclasses
import json

import brax.actuator
from brax import contact as brax_contact
from brax import math as brax_math
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.actions import actions_for_targets
from envs.clip_settings import CLIP_SETTINGS, COMMON_FALL_BODIES, SYNTHETIC_CLIP_SETTINGS
from envs.mimic_env import EnvConfigError
from envs.model import BodyStates, body_states
from envs.observations import observe_deepmimic, observe_timestamp
from envs.reference import SYNTHETIC_PATH

EPISODE = 8


@pytest.fixture(scope="module")
def env():
    return envs.make_env("synthetic", envs.MimicConfig(episode_length=EPISODE, random_start=False, replay="none"))


def reference_actions(env):
    """[T, A] the actions whose PD targets are the reference's joint angles, frame by frame."""
    hinge_angles = np.asarray(env.reference.q)[:, env.model.hinge_q_index]
    return jnp.asarray(actions_for_targets(env.model, hinge_angles, env.config.action_mapping), jnp.float32)


@pytest.fixture(scope="module")
def play(env):
    """``(key, actions[T, A]) -> (metrics, reward, obs)`` of an EPISODE-step rollout that plays ``actions[frame + 1]``:
    one compiled program for every table of actions."""

    @jax.jit
    def run(key, actions):
        def step(state, _):
            state = env.step(state, actions[state.info["frame"] + 1])
            return state, (state.metrics, state.reward, state.obs)

        return jax.lax.scan(step, env.reset(key), None, EPISODE)[1]

    return run


@pytest.fixture(scope="module")
def rollout(env, play):
    return play(jax.random.PRNGKey(0), reference_actions(env))


def test_interface_sizes(env):
    state = env.reset(jax.random.PRNGKey(1))
    assert env.action_size == 28
    assert state.obs.shape == (env.observation_size,) == (15 * 15 + 2,)
    assert set(state.metrics) >= {"loss", "pose_error", "fall", "replay"}
    assert int(state.info["frame"]) == 0  # fixed start when random_start is off


def test_tracking_the_synthetic_clip_with_its_own_targets(rollout):
    metrics, reward, obs = rollout
    # The synthetic clip is what the simulator did under PD control, so replaying its joint targets tracks it.
    assert float(metrics["pose_error"].max()) < 0.05
    assert float(metrics["fall"].sum()) == 0.0
    assert float(reward.min()) > 0.8 and float(reward.max()) <= 1.0
    assert np.all(np.isfinite(np.asarray(obs)))


def test_zero_action_drifts_from_reference(env, play, rollout):
    drifting, _, _ = play(jax.random.PRNGKey(0), jnp.zeros_like(reference_actions(env)))
    assert float(drifting["pose_error"][-1]) > 2 * float(rollout[0]["pose_error"][-1])


def test_an_untrained_policy_is_far_above_the_bar_on_the_synthetic_clip():
    """The main job's premise: DiffMimic's untrained policy (action near 0: the zero pose under its mapping) is far
    from the kneeling clip over the evaluated cycle from frame 0, so "samples to 0.15 m" measures learning."""
    cycle_env = envs.make_env("synthetic", envs.MimicConfig(episode_length=60, random_start=False, replay="none"))
    cycle = cycle_env.reference.cycle_frames
    assert cycle == 60  # 2 s at 30 Hz

    @jax.jit
    def episode(key):
        def step(state, _):
            state = cycle_env.step(state, jnp.zeros(28))
            return state, state.metrics["pose_error"]

        return jax.lax.scan(step, cycle_env.reset(key), None, cycle)[1]

    # Measured: 0.424 m over the cycle, the character toppling from the kneel towards its zero (standing) pose.
    assert float(episode(jax.random.PRNGKey(0)).mean()) > 0.3


def test_random_start_frames_cover_the_cycle():
    env = envs.make_env("synthetic", envs.MimicConfig(episode_length=EPISODE, random_start=True))
    frames = jax.jit(jax.vmap(lambda k: env.reset(k).info["frame"]))(jax.random.split(jax.random.PRNGKey(0), 64))
    assert int(frames.min()) >= 0 and int(frames.max()) < env.reference.cycle_frames
    assert len(np.unique(np.asarray(frames))) > 20


def test_random_start_range_sets_the_start_frames(env):
    narrow = envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, random_start=True, random_start_range=10))
    frames = np.asarray(jax.jit(jax.vmap(lambda k: narrow.reset(k).info["frame"]))(jax.random.split(jax.random.PRNGKey(0), 64)))
    assert frames.min() == 0 and frames.max() == 10  # uniform over [0, 10], both ends included
    with pytest.raises(EnvConfigError, match="frames"):  # the reference must cover start + episode
        envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, random_start=True, random_start_range=500))


@pytest.mark.parametrize("backend", ["spring", "generalized", "mjx"])
def test_inertia_option_is_the_same_on_every_backend(env, backend):
    def inertia(kind):
        config = dataclasses.replace(env.config, backend=backend, inertia=kind)
        return envs.MimicEnv(env.model, env.reference, config).sys

    unit, geometric = inertia("unit"), inertia("geometric")
    np.testing.assert_allclose(unit.link.inertia.i, np.tile(np.eye(3), (unit.num_links(), 1, 1)))
    np.testing.assert_allclose(unit.body_inertia[1:], 1.0)
    assert float(geometric.link.inertia.i[0, 0, 0]) < 0.1  # a 6 kg sphere of radius 0.09 m: 0.019 kg m^2
    assert float(unit.spring_inertia_scale) == float(geometric.spring_inertia_scale) == 0.0


@pytest.mark.parametrize("backend", ["spring", "mjx"])
def test_torque_limits_option_clips_or_frees_the_pd_torque(env, backend):
    """chest_z: Kp 1000 N m/rad, DeepMimic's TorqueLim 200 N m; a 1 rad target error asks 1000 N m (q = qd = 0)."""
    def chest_torque(limits):
        config = dataclasses.replace(env.config, backend=backend, torque_limits=limits)
        sys = envs.MimicEnv(env.model, env.reference, config).sys
        act = jnp.zeros(sys.nu).at[0].set(1.0)  # actuator 0 is chest_z
        tau = brax.actuator.to_tau(sys, act, jnp.zeros(sys.q_size()), jnp.zeros(sys.qd_size()))
        return float(tau[sys.actuator.qd_id[0]]), sys

    limited, limited_sys = chest_torque("character")
    free, free_sys = chest_torque("none")
    assert limited == pytest.approx(200.0) and free == pytest.approx(1000.0)
    assert bool(np.all(np.asarray(limited_sys.actuator_forcelimited)))
    assert not np.any(np.asarray(free_sys.actuator_forcelimited)) and np.all(np.isinf(free_sys.actuator.force_range))
    with pytest.raises(EnvConfigError, match="torque_limits"):
        dataclasses.replace(env.config, torque_limits="loose").validate()


def test_threshold_replay_restores_the_reference_state(env):
    replaying = envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, replay="threshold", replay_threshold=0.0))
    state = jax.jit(replaying.step)(replaying.reset(jax.random.PRNGKey(0)), jnp.zeros(28))
    assert float(state.metrics["replay"]) == 1.0
    np.testing.assert_allclose(state.pipeline_state.q, env.reference.q[1], atol=1e-5)
    never = envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, replay="threshold", replay_threshold=10.0))
    assert float(jax.jit(never.step)(never.reset(jax.random.PRNGKey(0)), jnp.zeros(28)).metrics["replay"]) == 0.0


def test_fall_is_a_ground_contact_of_a_fall_body(env):
    # The synthetic clip kneels: shins, feet and thighs near the floor are part of the motion, the rest is a fall.
    assert env.fall_contact_bodies == SYNTHETIC_CLIP_SETTINGS.fall_contact_bodies
    assert set(env.fall_contact_bodies) == set(COMMON_FALL_BODIES) - {"right_hip", "right_knee", "left_hip", "left_knee"}
    fell = jax.jit(env._fell)
    kneeling = jax.tree.map(lambda a: a[10], env.reference.link_x)
    assert not bool(fell(kneeling))
    sunk = kneeling.replace(pos=kneeling.pos.at[:, 2].add(-0.5))
    assert bool(fell(sunk))
    under_every_fall_list = envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, fall_contact_bodies=COMMON_FALL_BODIES))
    assert bool(jax.jit(under_every_fall_list._fell)(kneeling))  # the shins rest on the floor


def test_fall_contact_is_within_deepmimics_millimetre(env):
    # DeepMimic's cContactManager counts a contact point at distance <= 1 mm: lift the kneeling pose so that its
    # lowest fall-body geom is 0.5 mm above the floor (a contact) and then 2 mm above it (none; the old 1 cm rule
    # called it a fall).
    every_body = envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, fall_contact_bodies=COMMON_FALL_BODIES))
    kneeling = jax.tree.map(lambda a: a[10], env.reference.link_x)
    lowest = float(jnp.min(brax_contact.get(every_body._fall_sys, kneeling).dist))
    at = lambda height: kneeling.replace(pos=kneeling.pos.at[:, 2].add(height - lowest))  # noqa: E731
    fell = jax.jit(every_body._fell)
    assert bool(fell(at(0.0005))) and not bool(fell(at(0.002)))
    loose = envs.MimicEnv(env.model, env.reference, dataclasses.replace(every_body.config, fall_contact_distance=0.01))
    assert bool(jax.jit(loose._fell)(at(0.002)))
    with pytest.raises(EnvConfigError, match="fall_contact_distance must be finite"):
        dataclasses.replace(env.config, fall_contact_distance=float("nan")).validate()


def test_crawling_on_knees_and_hands_is_a_fall_except_for_crawl(data_dir, character_model):
    """The PPO loophole: on hands and knees, a walk policy used to run out the clock; under DeepMimic's lists it
    falls, while the crawl clip (fall bodies root, chest, neck) does not fall in its own reference poses."""
    crawl = envs.load_reference("crawl", data_dir=data_dir, num_frames=48)
    config = envs.MimicConfig(episode_length=8, random_start=False)
    as_crawl = envs.MimicEnv(character_model, crawl, config)
    as_walk = envs.MimicEnv(character_model, crawl, dataclasses.replace(config, fall_contact_bodies=CLIP_SETTINGS["walk"].fall_contact_bodies))
    assert as_crawl.fall_contact_bodies == ("root", "chest", "neck")
    frames = jnp.arange(0, 40, 4)
    poses = jax.tree.map(lambda a: a[frames], crawl.link_x)
    assert not np.any(np.asarray(jax.jit(jax.vmap(as_crawl._fell))(poses)))
    # A crawl pose rests on hands and knees: in 4 of these 10 frames a hand or knee is within DeepMimic's 1 mm of
    # the floor (the mocap's hover 1-4 mm above it in 3 more; a simulated body resting on it sits at -0.4..0 mm).
    assert int(np.sum(np.asarray(jax.jit(jax.vmap(as_walk._fell))(poses)))) == 4


def test_unknown_fall_body_is_refused(env):
    with pytest.raises(EnvConfigError, match="fall_contact_bodies \\['tail'\\]"):
        envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, fall_contact_bodies=("root", "tail")))


def test_reset_above_ground_lifts_the_character_not_the_rewards_reference(env):
    """A reference sunk 10 cm into the floor: the reset raises the character 1 mm clear of it; the reward still
    compares with the reference as it is (DeepMimic measures the reference's heights from its raised origin); the
    horizontal root re-sync fires on the cycle start (frame 3 here)."""
    reference = env.reference
    sink = jnp.array([0.0, 0.0, -0.1])
    cycle_start = np.zeros(reference.num_frames, bool)
    cycle_start[[0, 3]] = True
    sunk = dataclasses.replace(
        reference, q=reference.q.at[:, 2].add(-0.1), cycle_start=jnp.asarray(cycle_start),
        bodies=dataclasses.replace(reference.bodies, pos=reference.bodies.pos + sink),
    )
    plain = envs.MimicEnv(env.model, sunk, dataclasses.replace(env.config, reset_above_ground=False))
    lifted = envs.MimicEnv(env.model, sunk, dataclasses.replace(env.config, reset_above_ground=True))
    key = jax.random.PRNGKey(0)
    start, state = plain.reset(key), lifted.reset(key)
    depth = float(jnp.min(brax_contact.get(plain.sys, start.pipeline_state.x).dist))
    assert depth < -0.05  # sunk
    lift = 0.001 - depth
    assert float(jnp.min(brax_contact.get(lifted.sys, state.pipeline_state.x).dist)) == pytest.approx(0.001, abs=1e-5)
    np.testing.assert_allclose(state.pipeline_state.q - start.pipeline_state.q,
                               np.eye(start.pipeline_state.q.shape[0])[2] * lift, atol=1e-5)
    np.testing.assert_array_equal(state.pipeline_state.qd, start.pipeline_state.qd)
    assert jax.tree.structure(state) == jax.tree.structure(start)  # no extra state: batches and checkpoints fit

    actions = reference_actions(env)
    step = jax.jit(plain.step)
    # The same step either way: the reward of the lifted character is against the reference as it is.
    assert float(jax.jit(lifted.step)(state, actions[1]).reward) == pytest.approx(
        float(step(state, actions[1]).reward), abs=1e-6)
    offsets, roots = [], []
    for frame in (1, 2, 3, 4):
        state = step(state, actions[frame])
        offsets.append(np.asarray(state.info["reference_root_offset"]))
        roots.append(np.asarray(body_states(env.model, state.pipeline_state.x, state.pipeline_state.xd).pos[0, :2]))
    assert np.all(offsets[0] == 0) and np.all(offsets[1] == 0)
    # At the cycle start (frame 3) the reference root moves horizontally onto the simulated root, and stays there.
    np.testing.assert_allclose(offsets[2], roots[2] - np.asarray(sunk.bodies.pos[3, 0, :2]), atol=1e-6)
    np.testing.assert_allclose(offsets[3], offsets[2])
    assert np.any(offsets[2] != 0)


def test_early_termination_sets_done(env):
    terminating = envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, early_termination=True))
    state = terminating.reset(jax.random.PRNGKey(0))
    # Start the character lying on its front on the floor: the first step is a fall.
    q = state.pipeline_state.q.at[2].set(0.1).at[3:7].set(jnp.array([0.7071, 0.0, 0.7071, 0.0]))
    state = state.replace(pipeline_state=terminating.pipeline_init(q, jnp.zeros_like(state.pipeline_state.qd)))
    state = jax.jit(terminating.step)(state, jnp.zeros(28))
    assert float(state.metrics["fall"]) == 1.0 and float(state.done) == 1.0
    assert float(state.reward) == 0.0  # DeepMimic: the fall step earns nothing


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(backend="bullet"), "unknown backend 'bullet'"),
        (dict(replay="sometimes"), "unknown replay mode"),
        (dict(observation="pixels"), "unknown observation"),
        (dict(replay_rate=2.0), "replay_rate"),
        (dict(inertia="heavy"), "unknown inertia"),
        (dict(action_mapping="torque"), "unknown action_mapping"),
        (dict(random_start_range=-1), "random_start_range"),
    ],
)
def test_bad_options_are_refused(change, message):
    with pytest.raises(EnvConfigError, match=message):
        envs.make_env("synthetic", envs.MimicConfig(**change))


def test_target_observation_appends_next_reference_frame():
    env = envs.make_env("synthetic", envs.MimicConfig(episode_length=EPISODE, observation="target"))
    assert env.observation_size == 2 * 15 * 15 + 2


@pytest.mark.slow  # compiling this gradient takes 50-100 s on 2 cores; test_methods covers short-horizon gradients
def test_gradient_through_32_steps_is_finite():
    """DiffMimic's setting on the default backend: 32-step rollouts with threshold replay, a batch of 2."""
    env = envs.make_env("synthetic", envs.MimicConfig(episode_length=32, replay="threshold"))

    def loss(bias, keys):
        def episode(key):
            state = env.reset(key)
            def step(state, _):
                state = env.step(state, jnp.tanh(bias))
                return state, state.metrics["loss"]

            return jax.lax.scan(step, state, None, 32)[1].mean()

        return jax.vmap(episode)(keys).mean()

    value, grad = jax.jit(jax.value_and_grad(loss))(jnp.zeros(28), jax.random.split(jax.random.PRNGKey(0), 2))
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(np.asarray(grad))) and float(jnp.linalg.norm(grad)) > 0


def test_timestamp_observation_by_hand():
    """DiffMimic's layout on three bodies, the middle one left out (a fixed-joint point DiffMimic lacks)."""
    identity = jnp.array([1.0, 0.0, 0.0, 0.0])
    quarter_turn_z = jnp.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])
    sim = BodyStates(
        pos=jnp.array([[1.0, 2.0, 0.9], [5.0, 5.0, 5.0], [1.5, 2.0, 0.4]]),
        rot=jnp.stack([identity, identity, quarter_turn_z]),
        vel=jnp.array([[0.1, 0.2, 0.3], [9.0, 9.0, 9.0], [0.4, 0.5, 0.6]]),
        ang=jnp.array([[1.0, 0.0, 0.0], [9.0, 9.0, 9.0], [0.0, 0.0, 2.0]]),
    )
    obs = observe_timestamp(sim, jnp.float32(0.25), np.array([0, 2]))
    expected = [
        0.5, 0.0, -0.5,  # the second body relative to the root; the root's own position (and height) is left out
        1, 0, 0, 0, 1, 0,  # the root's rotation: rows 0 and 1 of the identity
        0, -1, 0, 1, 0, 0,  # a quarter turn about z: rows [cos -sin 0] and [sin cos 0]
        0.1, 0.2, 0.3, 0.4, 0.5, 0.6,  # world velocities
        1, 0, 0, 0, 0, 2,  # world angular velocities
        0.25,  # the phase as one number
    ]
    np.testing.assert_allclose(np.asarray(obs), expected, atol=1e-6)


def test_timestamp_observation_has_diffmimics_size():
    env = envs.make_env("synthetic", envs.MimicConfig(episode_length=EPISODE, random_start=False, observation="timestamp"))
    # HUMANOID.py's 13 bodies: 12 relative positions, 13 x (6D rotation, velocity, angular velocity), the phase
    assert env.observation_size == 12 * 3 + 13 * 12 + 1 == 193
    assert float(env.reset(jax.random.PRNGKey(0)).obs[-1]) == 0.0  # frame 0: phase 0


def test_deepmimic_observation_by_hand():
    """DeepMimic's layout on two bodies, the root turned a quarter about the vertical (heading 90 degrees): the other
    body's position, rotation and velocities turned back into the heading frame, the root's rotation and velocities
    left in the world frame."""
    quarter_turn_z = jnp.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])
    sim = BodyStates(
        pos=jnp.array([[1.0, 2.0, 0.9], [1.0, 3.0, 1.1]]),
        rot=jnp.stack([quarter_turn_z, quarter_turn_z]),
        vel=jnp.array([[0.0, 2.0, 0.0], [0.0, 2.0, 0.0]]),
        ang=jnp.array([[0.0, 0.0, 3.0], [1.0, 0.0, 0.0]]),
    )
    obs = observe_deepmimic(sim, jnp.float32(0.25))
    expected = [
        0.25, 0.9,  # the phase, the root's height
        0, 0, 0, 0, 0, 1, 0, 1, 0,  # root: no offset; world normal (up) and tangent (x axis turned to +y)
        1, 0, 0.2, 0, 0, 1, 1, 0, 0,  # the body 1 m ahead along the heading, 0.2 m up; unturned in the heading frame
        0, 2, 0, 0, 0, 3,  # the root's world velocities
        2, 0, 0, 0, -1, 0,  # the body's in the heading frame
    ]
    np.testing.assert_allclose(np.asarray(obs), expected, atol=1e-6)
    # Turned and moved as a whole about the vertical, the character observes the same but for the root's world terms.
    turn = jnp.array([np.cos(0.6), 0.0, 0.0, np.sin(0.6)])
    turned = BodyStates(
        pos=jax.vmap(brax_math.rotate, in_axes=(0, None))(sim.pos, turn) + jnp.array([3.0, -1.0, 0.0]),
        rot=jax.vmap(brax_math.quat_mul, in_axes=(None, 0))(turn, sim.rot),
        vel=jax.vmap(brax_math.rotate, in_axes=(0, None))(sim.vel, turn),
        ang=jax.vmap(brax_math.rotate, in_axes=(0, None))(sim.ang, turn),
    )
    root_world = np.r_[5:11, 20:26]  # the root's normal and tangent, velocity and angular velocity
    others = np.setdiff1d(np.arange(len(expected)), root_world)
    np.testing.assert_allclose(np.asarray(observe_deepmimic(turned, jnp.float32(0.25)))[others],
                               np.asarray(expected)[others], atol=1e-5)


def test_deepmimic_observation_has_deepmimics_size():
    env = envs.make_env("synthetic", envs.MimicConfig(episode_length=EPISODE, random_start=False, observation="deepmimic"))
    # phase, root height, 15 bodies x (position, normal, tangent), 15 x (velocity, angular velocity): 1 + 1 + 135 + 90
    assert env.observation_size == 227
    assert float(env.reset(jax.random.PRNGKey(0)).obs[0]) == 0.0  # frame 0: phase 0


def test_diffmimic_joint_damping_is_each_joints_kd():
    brax_damped = envs.make_env("synthetic", envs.MimicConfig(episode_length=EPISODE))
    diffmimic_damped = envs.make_env("synthetic", envs.MimicConfig(episode_length=EPISODE, joint_damping="diffmimic"))
    names = list(diffmimic_damped.sys.link_names)
    before = dict(zip(names, np.asarray(brax_damped.sys.link.constraint_ang_damping)))
    after = dict(zip(names, np.asarray(diffmimic_damped.sys.link.constraint_ang_damping)))
    # HUMANOID.py's angular_damping, Kp / 10 of DeepMimic's (and DiffMimic's) gains
    kd = {"chest": 100, "neck": 10, "shoulder": 40, "elbow": 30, "hip": 50, "knee": 50, "ankle": 40}
    expected = {name: kd[name.split("_")[-1]] for name in names if name != "root"}  # all 12 actuated joints
    assert len(expected) == 12 and {name: float(after[name]) for name in expected} == pytest.approx(expected)
    assert after["root"] == before["root"] == 30  # no actuator: the asset's value
    assert set(before.values()) == {30}


def test_diffmimic_joint_damping_needs_spring_or_positional():
    with pytest.raises(EnvConfigError, match="joint_damping 'diffmimic'.*'generalized'"):
        envs.MimicConfig(backend="generalized", joint_damping="diffmimic").validate()
    with pytest.raises(EnvConfigError, match="unknown joint_damping 'lots'"):
        envs.MimicConfig(joint_damping="lots").validate()


def test_phase_option_picks_the_exact_or_the_rounded_phase(data_dir):
    exact = envs.make_env("backflip", envs.MimicConfig(episode_length=EPISODE, random_start_range=120), data_dir=data_dir)
    rounded = envs.make_env("backflip", dataclasses.replace(exact.config, phase="rounded"), data_dir=data_dir)
    frames = jnp.array([52, 104, 105])
    np.testing.assert_allclose(np.asarray(exact._phase(frames)), [52 / 52.5, 51.5 / 52.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(rounded._phase(frames)), [0.0, 0.0, 1 / 52], atol=1e-6)
    assert np.asarray(exact._cycle_start(frames)).tolist() == [False, False, True]
    assert np.asarray(rounded._cycle_start(frames)).tolist() == [True, True, False]
    with pytest.raises(EnvConfigError, match="unknown phase 'sometimes'"):
        envs.MimicConfig(phase="sometimes").validate()


def stretched_synthetic(tmp_path, loop: str):
    """The synthetic clip's keyframes 0.0341667 s apart: 60 intervals, 2.05 s, 61.5 control steps per cycle."""
    frames = [[0.0341667] + frame[1:] for frame in json.loads(SYNTHETIC_PATH.read_text())["Frames"]]
    path = tmp_path / f"stretched_{loop}.txt"
    path.write_text(json.dumps({"Loop": loop, "Frames": frames}))
    return str(path), 60 * 0.0341667


def test_exact_phase_of_a_cycle_that_is_not_whole_steps(tmp_path):
    clip, duration = stretched_synthetic(tmp_path, "wrap")
    config = envs.MimicConfig(episode_length=EPISODE, random_start_range=200)
    exact = envs.make_env(clip, config)
    rounded = envs.make_env(clip, dataclasses.replace(config, phase="rounded"))
    assert exact.reference.cycle_frames == rounded.reference.cycle_frames == 62  # round(61.5)
    frames = jnp.array([61, 62, 185, 186])
    # cycles begin at 0, 61.5, 123, 184.5 steps: the first frame of each is 0, 62, 124, 185 (rounded: 186)
    expected = [61 / 30 / duration, 62 / 30 / duration - 1, 185 / 30 / duration - 3, 186 / 30 / duration - 3]
    np.testing.assert_allclose(np.asarray(exact._phase(frames)), expected, atol=1e-6)
    np.testing.assert_allclose(np.asarray(rounded._phase(frames)), [61 / 62, 0.0, 61 / 62, 0.0], atol=1e-6)
    assert np.asarray(exact._cycle_start(frames)).tolist() == [False, True, True, False]
    assert np.asarray(rounded._cycle_start(frames)).tolist() == [False, True, False, True]


def test_exact_phase_of_a_clip_that_does_not_loop_is_the_same_in_every_env(tmp_path):
    """It used to be frame / (frames the env built), which differed between training and evaluation envs."""
    clip, duration = stretched_synthetic(tmp_path, "none")
    short = envs.make_env(clip, envs.MimicConfig(episode_length=8, random_start=False))
    long = envs.make_env(clip, envs.MimicConfig(episode_length=100, random_start=False))
    frames = np.array([0, 30, 61, 70])
    for env in (short, long):
        np.testing.assert_allclose(np.asarray(env._phase(jnp.asarray(frames))),
                                   np.minimum(frames / 30 / duration, 1.0), atol=1e-6)
    assert short.reference.num_frames != long.reference.num_frames
