"""Every frame of every shipped DeepMimic clip lies inside the simulated character's joint limits (numpy only)."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from envs.character import SPHERICAL_AXES
from envs.data import MOTION_NAMES
from envs.mjcf_writer import ASSET_DIR

TOLERANCE = 1e-6  # radians; the asset writes pi with 9 digits


@pytest.fixture(scope="module")
def character():
    """Joint ranges from the committed MJCF and the motion-file layout from its sidecar."""
    ranges = {j.get("name"): [float(v) for v in j.get("range").split()] for j in ET.parse(ASSET_DIR / "humanoid3d.xml").iter("joint") if j.get("range")}
    meta = json.loads((ASSET_DIR / "humanoid3d.meta.json").read_text())
    return ranges, meta


def hinge_angles(frames: np.ndarray, meta: dict) -> dict[str, np.ndarray]:
    """Hinge angles of every frame, straight from the file: spherical joints as intrinsic z-y-x angles in
    DeepMimic's own axes (the converter's hinge order), revolute joints as stored."""
    angles, column = {}, 8
    for name, jtype in meta["motion_joints"]:
        if jtype == "spherical":
            quat = frames[:, column : column + 4]
            euler = Rotation.from_quat(quat[:, [1, 2, 3, 0]]).as_euler("".join(SPHERICAL_AXES).upper())
            angles.update({f"{name}_{axis}": euler[:, k] for k, axis in enumerate(SPHERICAL_AXES)})
            column += 4
        elif jtype == "revolute":
            angles[name] = frames[:, column]
            column += 1
    return angles


def outside(angles: dict[str, np.ndarray], limits: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Largest violation per hinge (radians), hinges inside their limits left out."""
    worst = {}
    for name, values in angles.items():
        low, high = limits[name]
        excess = float(np.max(np.maximum(low - values, values - high)))
        if excess > TOLERANCE:
            worst[name] = excess
    return worst


@pytest.mark.parametrize("clip", MOTION_NAMES)
def test_every_frame_is_inside_the_characters_limits(data_dir, character, clip):
    ranges, meta = character
    frames = np.asarray(json.loads((data_dir / "motions" / f"humanoid3d_{clip}.txt").read_text())["Frames"])
    assert outside(hinge_angles(frames, meta), ranges) == {}


def test_deepmimic_limits_on_every_hinge_would_cut_the_clips(data_dir, character):
    """The finding this fixes: with DeepMimic's per-axis limits on spherical joints too, `run` and `sideflip`
    leave them (shoulders), and DeepMimic's revolute knee limit (0) is exceeded by spinkick and sideflip."""
    _, meta = character
    limits = meta["hinge_limits"]

    def frames(clip):
        return np.asarray(json.loads((data_dir / "motions" / f"humanoid3d_{clip}.txt").read_text())["Frames"])

    run = outside(hinge_angles(frames("run"), meta), limits)
    assert {"right_shoulder_z", "left_shoulder_z"} <= set(run)
    spinkick = outside(hinge_angles(frames("spinkick"), meta), limits)
    knees = [spinkick.get("left_knee", 0.0), spinkick.get("right_knee", 0.0)]
    assert max(knees) == pytest.approx(0.222, abs=0.001)
