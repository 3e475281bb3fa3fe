"""DiffMimic's state files as references on smpl and swordshield: recovered joint angles, the round trip through
forward kinematics on every shipped file, and files that do not fit the character."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax import kinematics

from envs.actions import actions_for_targets
from envs.character import CharacterError
from envs.diffmimic_characters import SWORDSHIELD_BODIES
from envs.diffmimic_motion import diffmimic_character, diffmimic_coordinates, load_diffmimic_reference
from envs.formats import load_diffmimic_states
from envs.mimic_env import MimicConfig, MimicEnv
from envs.model import load_character_model
from envs.motion import CONTROL_DT, MotionError
from tests.test_character_sources import STATE_FILES

CHUNK = 256  # frames per forward-kinematics call: one compiled program per character, whatever the file's length
_FORWARD = {}


def _forward(model, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Body positions and rotations ``[F, B, ...]`` of generalized coordinates ``q`` ``[F, q_size]``."""
    if model.name not in _FORWARD:
        zero = jnp.zeros(model.sys.qd_size())
        _FORWARD[model.name] = jax.jit(jax.vmap(lambda a: kinematics.forward(model.sys, a, zero)[0]))
    frames = len(q)
    padded = np.concatenate([q, np.repeat(q[-1:], -frames % CHUNK, axis=0)])
    pos, rot = [], []
    for start in range(0, len(padded), CHUNK):
        x = _FORWARD[model.name](jnp.asarray(padded[start : start + CHUNK], jnp.float32))
        pos.append(np.asarray(x.pos)[:, model.body_link])
        rot.append(np.asarray(x.rot)[:, model.body_link])
    return np.concatenate(pos)[:frames].astype(np.float64), np.concatenate(rot)[:frames].astype(np.float64)


def _save_states(path, pos: np.ndarray, rot: np.ndarray) -> None:
    """A DiffMimic state file: field-major rows, the floor last (at the origin, identity, at rest), no velocities."""
    frames = len(pos)
    pos = np.concatenate([pos, np.zeros((frames, 1, 3))], axis=1)
    rot = np.concatenate([rot, np.tile([1.0, 0.0, 0.0, 0.0], (frames, 1, 1))], axis=1)
    rest = np.zeros((frames, 2 * 3 * pos.shape[1]))
    np.save(path, np.concatenate([pos.reshape(frames, -1), rot.reshape(frames, -1), rest], axis=1))


@pytest.mark.parametrize("name", ["smpl", "swordshield"])
def test_round_trip_on_every_shipped_file(diffmimic_data_dir, name):
    """Forward kinematics of the recovered angles puts every body where the file does (issue 11: within 1 cm;
    measured 1e-6 m, float32) and turns it as the file does."""
    model = load_character_model(name)
    for relpath in STATE_FILES[name]:
        states = load_diffmimic_states(diffmimic_data_dir / relpath)
        assert diffmimic_character(states) == name
        pos, rot = _forward(model, diffmimic_coordinates(states, model))
        assert np.linalg.norm(pos - states.pos, axis=-1).max() < 1e-4, relpath
        # Angle between the rotations; float32 quaternions resolve about 1e-3 rad through arccos.
        turn = 2 * np.arccos(np.clip(np.abs(np.sum(rot * states.rot, axis=-1)), 0.0, 1.0))
        assert turn.max() < 3e-3, relpath


def test_recovers_hand_set_angles(tmp_path):
    """A pose with known hinge angles, written as a state file, reads back as those angles; and the right foot of a
    knee bent 0.5 rad sits where a hand computation puts it."""
    model = load_character_model("smpl")
    q = np.zeros((2, model.sys.q_size()))
    q[:, 0:3] = [0.0, 0.0, 0.95]
    q[:, 3] = 1.0
    hinge = {name: int(model.hinge_q_index[i]) for i, name in enumerate(model.hinge_names)}
    angles = {"right_knee": 0.5, "right_shoulder_z": 0.3, "right_shoulder_y": -0.2, "right_shoulder_x": 0.1,
              "left_elbow": -0.7, "spine3_y": 0.25, "left_ankle_x": -0.15}  # fmt: skip
    for name, angle in angles.items():
        q[1, hinge[name]] = angle
    pos, rot = _forward(model, q)
    # Hand computation: hip 0.084887 m right of the pelvis, knee 0.421546 m below it, the knee turning the shin
    # about +y by 0.5 rad: the ankle (the foot's frame) lies 0.40987 m along (-sin 0.5, 0, -cos 0.5) from the knee.
    knee = np.array([0.0, -0.084887, 0.95 - 0.421546])
    ankle = knee + 0.40987 * np.array([-math.sin(0.5), 0.0, -math.cos(0.5)])
    np.testing.assert_allclose(pos[1, model.body_index("right_foot")], ankle, atol=1e-6)
    _save_states(tmp_path / "pose.npy", pos, rot)
    states = load_diffmimic_states(tmp_path / "pose.npy", expected_bodies=18)
    np.testing.assert_allclose(diffmimic_coordinates(states, model), q, atol=2e-6)


EXTRA = 10  # frames past the end of the clip, held still


@pytest.fixture(scope="module")
def sword_reference(diffmimic_data_dir):
    path = diffmimic_data_dir / STATE_FILES["swordshield"][0]
    return load_diffmimic_states(path), load_diffmimic_reference(path, num_frames=96 + EXTRA)


def test_reference_of_the_swordshield_clip(sword_reference):
    """The same structure build_reference gives DeepMimic clips: every row a control step, no loop, velocities by
    central differences of the bodies' motion, frames past the end holding the last row."""
    states, reference = sword_reference
    model = load_character_model("swordshield")
    assert reference.name == "RL_Avatar_Atk_2xCombo01_Motion" and reference.body_names == SWORDSHIELD_BODIES
    assert (reference.num_frames, reference.cycle_frames, reference.loop, reference.dt) == (106, 95, False, CONTROL_DT)
    assert reference.q.shape == (106, model.sys.q_size()) and reference.qd.shape == (106, model.sys.qd_size())
    assert reference.qd_brax.shape == (106, model.sys.qd_size()) and np.isfinite(np.asarray(reference.qd_brax)).all()
    np.testing.assert_allclose(np.asarray(reference.q[:96, :3]), states.pos[:, 0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(reference.bodies.pos[:96]), states.pos, atol=1e-4)
    np.testing.assert_allclose(np.asarray(reference.bodies.pos[96:]), np.repeat(states.pos[-1:], EXTRA, 0), atol=1e-4)
    assert np.abs(np.asarray(reference.bodies.vel[97:])).max() < 1e-3  # held still
    central = (states.pos[2:] - states.pos[:-2]) / (2 * CONTROL_DT)
    np.testing.assert_allclose(np.asarray(reference.bodies.vel)[1:95], central, atol=1e-3)
    # PD targets taken from the reference are reachable: every hinge angle lies in its joint's range.
    hinges = np.asarray(reference.q)[:, model.hinge_q_index]
    assert np.all(hinges >= model.hinge_range[:, 0] - 1e-6) and np.all(hinges <= model.hinge_range[:, 1] + 1e-6)


@pytest.mark.slow
def test_environment_starts_and_steps_on_a_state_file(sword_reference):
    """Reference-state initialisation puts the character on a reference frame, and one step under PD targets at the
    next frame's angles stays close (eager, not jitted: one step of the sword-and-shield character)."""
    _, reference = sword_reference
    model = load_character_model("swordshield")
    fall = tuple(model.body_names[i] for i in model.fall_contact)
    env = MimicEnv(model, reference, MimicConfig(fall_contact_bodies=fall, episode_length=8))
    state = env.reset(jax.random.PRNGKey(0))
    frame = int(state.info["frame"])
    assert 0 <= frame < 95 - 8
    start = np.asarray(state.pipeline_state.x.pos)[model.body_link]
    np.testing.assert_allclose(start, np.asarray(reference.bodies.pos[frame]), atol=1e-5)
    targets = np.asarray(reference.q[frame + 1])[model.hinge_q_index]
    state = env.step(state, jnp.asarray(actions_for_targets(model, targets, "diffmimic"), jnp.float32))
    assert float(state.metrics["pose_error"]) < 0.05  # measured 0.018 m (spring, unit inertia)
    assert float(state.metrics["fall"]) == 0.0


def test_state_file_of_another_character(diffmimic_data_dir, tmp_path):
    sword = diffmimic_data_dir / STATE_FILES["swordshield"][0]
    with pytest.raises(MotionError, match=r"RL_Avatar_Atk_2xCombo01_Motion\.npy: holds 14 bodies \(plus the floor\) "
                                          r"but character 'smpl' has 18: the clip was made for another character"):
        load_diffmimic_reference(sword, character="smpl")
    with pytest.raises(CharacterError, match=r"unknown character 'smlp'"):
        load_diffmimic_reference(sword, character="smlp")
    # Two bodies: no character has that few.
    _save_states(tmp_path / "two.npy", np.zeros((3, 2, 3)), np.tile([1.0, 0.0, 0.0, 0.0], (3, 2, 1)))
    with pytest.raises(MotionError, match=r"two\.npy: holds 2 bodies \(plus the floor\); no character here has that "
                                          r"many \(smpl 18, swordshield 14\)"):
        load_diffmimic_reference(tmp_path / "two.npy")
    # The right body count with longer bones (a 10% taller body) is another character too.
    states = load_diffmimic_states(sword)
    _save_states(tmp_path / "tall.npy", states.pos[:3] * 1.1, states.rot[:3])
    with pytest.raises(MotionError, match=r"tall\.npy: body 1 sits 2\.4 cm from where character 'swordshield' puts "
                                          r"its 'torso' \(frame \d\): the clip was made for another character"):
        load_diffmimic_reference(tmp_path / "tall.npy")
