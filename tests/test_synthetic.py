"""The embedded synthetic clip: a kneeling motion that loops, regenerated bit for bit by envs.synthetic."""

import json

import numpy as np
import pytest

from envs.reference import SYNTHETIC_PATH


def committed_frames() -> np.ndarray:
    motion = json.loads(SYNTHETIC_PATH.read_text())
    assert motion["Loop"] == "wrap"
    return np.asarray(motion["Frames"])


def test_the_committed_clip_kneels_and_loops():
    frames = committed_frames()
    assert frames.shape == (61, 44)  # 2 s at 30 Hz plus the frame that closes the cycle; DeepMimic's 44 columns
    np.testing.assert_allclose(frames[:, 0], 1 / 30, atol=1e-7)
    root_height = frames[:, 2]  # y-up
    assert 0.25 < root_height.min() and root_height.max() < 0.5  # kneeling (standing: about 0.9 m)
    # The last frame returns to the first (joint quaternions and angles, root height): no jump when the clip wraps.
    assert np.abs(frames[-1, 2:] - frames[0, 2:]).max() < 0.01


@pytest.mark.slow
def test_the_committed_clip_regenerates_bit_for_bit():
    from envs.synthetic import generate

    assert np.array_equal(np.asarray(generate()["Frames"]), committed_frames())
