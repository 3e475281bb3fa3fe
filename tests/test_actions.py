"""Action -> PD target mappings (envs.actions), against hand-computed targets."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from envs.actions import actions_for_targets, euler_zyx, pd_targets


def _targets(model, mapping, **actions):
    action = np.zeros(model.action_size, np.float32)
    for name, value in actions.items():
        action[model.hinge_names.index(name)] = value
    targets = np.asarray(pd_targets(model, jnp.asarray(action), mapping))
    return {name: float(targets[i]) for i, name in enumerate(model.hinge_names)}


def test_diffmimic_mapping_is_action_times_1_2_pi(character_model):
    targets = _targets(character_model, "diffmimic", chest_z=0.5, right_knee=-1.0, neck_x=3.0)
    assert targets["chest_z"] == pytest.approx(0.6 * math.pi)
    assert targets["right_knee"] == pytest.approx(-1.2 * math.pi)  # past the knee's limit (-3.39)
    assert targets["neck_x"] == pytest.approx(1.2 * math.pi)  # actions are clipped to [-1, 1]
    assert targets["left_elbow"] == 0.0  # zero action: the zero pose


def test_range_mapping_stays_inside_deepmimic_limits(character_model):
    targets = _targets(character_model, "range", chest_z=1.0, right_knee=-1.0, right_shoulder_x=0.0)
    assert targets["chest_z"] == pytest.approx(1.2)  # humanoid3d.txt chest LimHigh 1.2
    assert targets["right_knee"] == pytest.approx(-3.14)
    assert targets["right_shoulder_x"] == pytest.approx(0.5 * (-3.14 + 0.5))


def test_deepmimic_mapping(character_model):
    # Revolute knee, limits [-3.14, 0]: mid -1.57, +-2 x range 3.14.
    targets = _targets(character_model, "deepmimic", right_knee=1.0, left_knee=-1.0, right_shoulder_x=0.25)
    assert targets["right_knee"] == pytest.approx(-1.57 + 6.28)
    assert targets["left_knee"] == pytest.approx(-1.57 - 6.28)
    # Spherical: exponential map pi x action; an x-only map is a rotation about x alone.
    assert targets["right_shoulder_x"] == pytest.approx(math.pi / 4)
    assert targets["right_shoulder_z"] == pytest.approx(0.0, abs=1e-6)
    assert targets["chest_z"] == 0.0 and targets["chest_x"] == 0.0  # zero action: identity, not mid-range
    # The map's length is clipped to 2 pi (a full turn: the identity).
    assert _targets(character_model, "deepmimic", neck_x=3.0)["neck_x"] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("mapping", ["diffmimic", "deepmimic", "range"])
def test_actions_for_targets_inverts_the_mapping(character_model, mapping):
    action = np.random.default_rng(0).uniform(-0.6, 0.6, character_model.action_size).astype(np.float32)
    targets = np.asarray(pd_targets(character_model, jnp.asarray(action), mapping))
    np.testing.assert_allclose(actions_for_targets(character_model, targets, mapping), action, atol=1e-5)


def test_euler_zyx_matches_scipy_intrinsic_zyx():
    rotations = Rotation.random(8, random_state=3)
    angles = euler_zyx(jnp.asarray(rotations.as_quat()[:, [3, 0, 1, 2]]))
    np.testing.assert_allclose(np.asarray(angles), rotations.as_euler("ZYX"), atol=1e-5)


def test_unknown_mapping_is_refused(character_model):
    with pytest.raises(ValueError, match="unknown action mapping 'torque'"):
        pd_targets(character_model, jnp.zeros(character_model.action_size), "torque")
