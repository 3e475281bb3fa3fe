"""benchmarks.reference_ground: how deep a reference frame puts the character into the floor."""

import numpy as np
import pytest

import envs
from benchmarks.reference_ground import floor_penetration, main, start_frames
from envs.model import load_character_model


@pytest.fixture(scope="module")
def synthetic():
    return load_character_model("humanoid3d"), np.asarray(envs.load_reference("synthetic", num_frames=20).q)


def test_lowering_the_root_deepens_the_penetration_by_as_much(synthetic):
    model, q = synthetic
    lowered = q.copy()
    lowered[:, 2] -= 0.3  # the root's height: every foot is now well inside the floor
    deeper = lowered.copy()
    deeper[:, 2] -= 0.1
    depth, bodies = floor_penetration(model, lowered)
    depth_deeper, _ = floor_penetration(model, deeper)
    assert np.all(depth > 0.25) and all(body is not None for body in bodies)
    np.testing.assert_allclose(depth_deeper - depth, 0.1, atol=1e-6)  # a plane floor: distances shift one for one


def test_a_character_in_the_air_touches_nothing(synthetic):
    model, q = synthetic
    raised = q.copy()
    raised[:, 2] += 1.0
    depth, bodies = floor_penetration(model, raised)
    assert np.all(depth == 0.0) and bodies == [None] * len(q)


def test_command_line(capsys):
    assert main(["synthetic"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:2] == ["synthetic", "60"]  # one cycle of start frames: the synthetic clip has no random-start range
    assert main(["no_such_clip"]) == 2
    assert "no_such_clip" in capsys.readouterr().err


def test_start_frames_follow_the_clips_random_start_range():
    assert start_frames("backflip", 52) == 541  # DiffMimic's 0..540
    assert start_frames("synthetic", 60) == 60  # one cycle
