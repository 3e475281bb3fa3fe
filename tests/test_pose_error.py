"""The headline metric and Demonstration Replay's trigger, on poses whose answers are computed by hand.

``pose_error``: mean over the non-root bodies of the Euclidean distance between root-relative positions (metres).
``global_position_error``: mean over all bodies of the world-frame distance (what replay compares with its threshold).
The small epsilon inside the norm (1e-6 m per body at zero error) is below every tolerance used here.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from envs.losses import global_position_error, pose_error
from envs.model import BodyStates

NUM_BODIES = 5  # a root and 4 others
NON_ROOT = NUM_BODIES - 1
STEP = np.array([0.3, 0.4, 0.0])  # 0.5 m long: a squared distance (0.25) or an L1 distance (0.7) would differ
TOL = 1e-5


def bodies(pos) -> BodyStates:
    pos = jnp.asarray(pos, jnp.float32)
    count = pos.shape[0]
    identity = jnp.tile(jnp.array([1.0, 0.0, 0.0, 0.0]), (count, 1))
    return BodyStates(pos=pos, rot=identity, vel=jnp.zeros((count, 3)), ang=jnp.zeros((count, 3)))


@pytest.fixture
def reference() -> np.ndarray:
    """A small standing skeleton: the root at 1 m, the other bodies around it."""
    return np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.5], [0.2, 0.0, 0.5], [-0.2, 0.0, 0.5], [0.0, 0.3, 1.3]])


def test_translating_every_body_is_no_pose_error(reference):
    shift = np.array([1.0, -1.0, 0.5])  # 1.5 m
    assert float(pose_error(bodies(reference + shift), bodies(reference))) == pytest.approx(0.0, abs=TOL)
    # ...but the whole character is 1.5 m away in the world, which is what replay looks at.
    assert float(global_position_error(bodies(reference + shift), bodies(reference))) == pytest.approx(1.5, abs=TOL)


@pytest.mark.parametrize("body", range(1, NUM_BODIES))
def test_moving_one_non_root_body(reference, body):
    moved = reference.copy()
    moved[body] += STEP
    assert float(pose_error(bodies(moved), bodies(reference))) == pytest.approx(0.5 / NON_ROOT, abs=TOL)
    assert float(global_position_error(bodies(moved), bodies(reference))) == pytest.approx(0.5 / NUM_BODIES, abs=TOL)


def test_moving_only_the_root_moves_every_other_body_relative_to_it(reference):
    moved = reference.copy()
    moved[0] += STEP
    # Every non-root body is 0.5 m off relative to the root; the root itself is not averaged in.
    assert float(pose_error(bodies(moved), bodies(reference))) == pytest.approx(0.5, abs=TOL)
    assert float(global_position_error(bodies(moved), bodies(reference))) == pytest.approx(0.5 / NUM_BODIES, abs=TOL)


def test_distances_are_averaged_not_squared(reference):
    moved = reference.copy()
    moved[1] += 2 * STEP  # 1.0 m
    moved[2] += np.array([0.0, 0.0, 3.0])  # 3.0 m
    expected = (1.0 + 3.0) / NON_ROOT  # squared would give (1 + 9) / 4, root-mean-square sqrt(10 / 4)
    assert float(pose_error(bodies(moved), bodies(reference))) == pytest.approx(expected, abs=TOL)
    assert float(global_position_error(bodies(moved), bodies(reference))) == pytest.approx(4.0 / NUM_BODIES, abs=TOL)


def test_root_relative_means_world_axes_not_the_root_frame(reference):
    """DiffMimic subtracts the root position but does not unrotate: a character turned about its root is off."""
    relative = reference - reference[0]
    turned = reference[0] + relative * np.array([-1.0, -1.0, 1.0])  # 180 degrees about the vertical through the root
    expected = np.mean(2 * np.linalg.norm(relative[1:, :2], axis=1))  # each body moves twice its horizontal offset
    assert expected > 0.1
    assert float(pose_error(bodies(turned), bodies(reference))) == pytest.approx(expected, abs=TOL)


def test_rotations_and_velocities_do_not_enter(reference):
    sim = bodies(reference)
    spun = BodyStates(
        pos=sim.pos,
        rot=jnp.tile(jnp.array([0.0, 0.0, 0.0, 1.0]), (NUM_BODIES, 1)),
        vel=jnp.ones((NUM_BODIES, 3)),
        ang=jnp.ones((NUM_BODIES, 3)),
    )
    assert float(pose_error(spun, sim)) == pytest.approx(0.0, abs=TOL)
    assert float(global_position_error(spun, sim)) == pytest.approx(0.0, abs=TOL)


def test_the_character_bodies(character_model):
    """On the real body list: the root is body 0, and one hand 0.1 m off costs 0.1 m / (bodies - 1)."""
    assert character_model.body_names[0] == "root"
    count = character_model.num_bodies
    reference = np.random.default_rng(0).normal(size=(count, 3))
    moved = reference.copy()
    moved[character_model.body_index("left_wrist")] += np.array([0.0, 0.1, 0.0])
    assert float(pose_error(bodies(moved), bodies(reference))) == pytest.approx(0.1 / (count - 1), abs=TOL)
