"""Clip-format readers (envs.formats): poselib motions, DiffMimic states, AMASS poses; shipped files and bad files."""

from __future__ import annotations

import builtins
import collections
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from envs.formats import (
    DIFFMIMIC_FPS,
    SMPL_BODY_JOINTS,
    load_amass_npz,
    load_diffmimic_states,
    load_poselib_motion,
)
from envs.motion import MotionError

HALF = math.sqrt(0.5)  # cos and sin of 45 degrees: a quarter turn's quaternion


@pytest.fixture(autouse=True)
def _never_unpickle_with_numpy(monkeypatch):
    """Every reader must read user files with allow_pickle=False (the poselib reader does not call np.load at all)."""
    real_load = np.load

    def guarded_load(*args, **kwargs):
        assert not kwargs.get("allow_pickle", False), "np.load(allow_pickle=True) called on a user's file"
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", guarded_load)


# ---------------------------------------------------------------------------------------------------------------
# poselib


def _tensor(values) -> dict:
    array = np.asarray(values)
    return {"arr": array, "context": {"dtype": array.dtype.name}}


def _poselib_content(frames: int = 3, fps: float = 20.0) -> collections.OrderedDict:
    """What poselib's SkeletonMotion.to_dict() holds, for a root with one child; the child turns about z."""
    rotation = np.tile([0.0, 0.0, 0.0, 1.0], (frames, 2, 1))
    rotation[1, 1] = [0.0, 0.0, HALF, HALF]  # frame 1: the child a quarter turn about z, x y z w
    tree = collections.OrderedDict(
        node_names=["pelvis", "torso"],
        parent_indices=_tensor(np.array([-1, 0])),
        local_translation=_tensor(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.25]], np.float32)),
    )
    return collections.OrderedDict(
        rotation=_tensor(rotation),
        root_translation=_tensor(np.tile([0.0, 0.0, 0.9], (frames, 1))),
        global_velocity=_tensor(np.zeros((frames, 2, 3))),
        global_angular_velocity=_tensor(np.zeros((frames, 2, 3))),
        skeleton_tree=tree,
        is_local=True,
        fps=np.float64(fps),
        __name__="SkeletonMotion",
    )


def _save_poselib(path: Path, content) -> Path:
    """Writes ``content`` the way poselib does: np.save of a 0-d object array (a pickle after the .npy header)."""
    holder = np.empty((), dtype=object)
    holder[()] = content
    np.save(path, holder, allow_pickle=True)
    return path


def test_poselib_hand_made_motion(tmp_path):
    motion = load_poselib_motion(_save_poselib(tmp_path / "clip.npy", _poselib_content(frames=3, fps=20.0)))
    assert motion.name == "clip" and motion.node_names == ("pelvis", "torso")
    assert motion.num_frames == 3 and motion.fps == 20.0
    assert motion.duration == pytest.approx(0.1)  # (3 - 1) frames / 20 fps
    np.testing.assert_array_equal(motion.rotation[1, 1], [0.0, 0.0, HALF, HALF])  # kept x y z w, as stored
    np.testing.assert_array_equal(motion.parent_indices, [-1, 0])
    np.testing.assert_allclose(motion.local_translation[1], [0.0, 0.0, 0.25])
    assert motion.is_local and motion.global_velocity.shape == (3, 2, 3)
    assert motion.rotation.dtype == np.float64


def test_poselib_velocities_are_optional(tmp_path):
    content = _poselib_content()
    del content["global_velocity"], content["global_angular_velocity"]
    motion = load_poselib_motion(_save_poselib(tmp_path / "clip.npy", content))
    assert motion.global_velocity is None and motion.global_angular_velocity is None


def _ase_motions(ase_data_dir: Path) -> list[Path]:
    return sorted((ase_data_dir / "motions").rglob("*.npy"))


def test_every_shipped_poselib_motion_loads(ase_data_dir):
    paths = _ase_motions(ase_data_dir)
    assert len(paths) == 83  # 3 AMP clips and 80 Reallusion sword-and-shield clips (shared/data/ase/SOURCE.md)
    for path in paths:
        motion = load_poselib_motion(path)
        assert len(motion.node_names) == (17 if "reallusion" in path.parent.name else 15)
        assert motion.num_frames >= 2 and motion.fps == pytest.approx(30.0, abs=0.2)  # ASE: 29.86 to 30 fps
        assert motion.global_velocity is not None and motion.is_local


def _poselib_velocity(motion) -> np.ndarray:
    """World velocities of every node, by forward kinematics with x y z w local rotations and poselib's own velocity
    estimate (skeleton3d.py ``_compute_velocity``: np.gradient over frames, Gaussian filter sigma 2, times fps)."""
    positions = np.zeros(motion.rotation.shape[:2] + (3,))
    world = []
    for node, parent in enumerate(motion.parent_indices):
        local = Rotation.from_quat(motion.rotation[:, node])  # scipy reads x y z w
        if parent < 0:
            world.append(local)
            positions[:, node] = motion.root_translation
        else:
            world.append(world[parent] * local)
            positions[:, node] = positions[:, parent] + world[parent].apply(motion.local_translation[node])
    return gaussian_filter1d(np.gradient(positions, axis=0), 2, axis=0, mode="nearest") * motion.fps


def _check_local_xyzw(path: Path) -> None:
    motion = load_poselib_motion(path)
    np.testing.assert_allclose(_poselib_velocity(motion), motion.global_velocity, atol=1e-3, err_msg=str(path))


@pytest.mark.parametrize(
    "relpath",
    ["amp_humanoid_walk.npy", "amp_humanoid_run.npy", "reallusion_sword_shield/RL_Avatar_Atk_Spin_Motion.npy"],
)
def test_poselib_rotations_are_local_xyzw(ase_data_dir, relpath):
    """The stored velocities agree with forward kinematics only under the documented conventions."""
    _check_local_xyzw(ase_data_dir / "motions" / relpath)


@pytest.mark.slow
def test_every_poselib_motion_is_local_xyzw(ase_data_dir):
    for path in _ase_motions(ase_data_dir):
        _check_local_xyzw(path)


class Skeleton:
    """A class of the file's choosing: must be refused, not instantiated."""


class _RunOnLoad:
    """Pickles as a call of ``function(*args)``, made when the pickle is loaded."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


@pytest.mark.parametrize("payload", ["system", "open"])
def test_poselib_refuses_code_without_running_it(tmp_path, payload):
    marker = tmp_path / "ran"
    if payload == "system":
        attack = _RunOnLoad(os.system, f"touch {marker}")
    else:
        attack = _RunOnLoad(builtins.open, str(marker), "w")
    content = _poselib_content()
    content["fps"] = attack
    path = _save_poselib(tmp_path / "attack.npy", content)
    with pytest.raises(MotionError, match=rf"attack\.npy: refused to unpickle \w+\.{payload}") as info:
        load_poselib_motion(path)
    assert str(path) in str(info.value)
    assert not marker.exists()
    # Control: an unrestricted unpickler does run it, so the refusal above is what kept the marker away.
    with open(path, "rb") as file:
        np.lib.format.read_magic(file)
        np.lib.format.read_array_header_1_0(file)
        loaded = pickle.load(file).item()
    if payload == "open":
        loaded["fps"].close()
    assert marker.exists()


def test_poselib_refuses_a_custom_class(tmp_path):
    content = _poselib_content()
    content["skeleton_tree"]["node_names"] = Skeleton()
    with pytest.raises(MotionError, match=r"clip\.npy: refused to unpickle [\w.]*test_clip_formats\.Skeleton"):
        load_poselib_motion(_save_poselib(tmp_path / "clip.npy", content))


def test_poselib_refuses_a_huge_array_before_allocating_it(tmp_path):
    content = _poselib_content()
    content["fps"] = _RunOnLoad(_reconstruct, np.ndarray, (10**12,), b"b")  # a terabyte, were it allocated
    with pytest.raises(MotionError, match=r"clip\.npy: not a readable poselib \.npy file \(UnpicklingError: array"):
        load_poselib_motion(_save_poselib(tmp_path / "clip.npy", content))


def test_poselib_refuses_a_truncated_file(tmp_path):
    path = _save_poselib(tmp_path / "clip.npy", _poselib_content())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MotionError, match=r"clip\.npy: not a readable poselib \.npy file"):
        load_poselib_motion(path)


def _set(keys, value):
    def mutate(content):
        *parents, last = keys
        target = content
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _nan_frame(content):
    content["rotation"]["arr"][2, 0] = np.nan


def _long_quaternion(content):
    content["rotation"]["arr"][1, 1] *= 2.0


BAD_POSELIB = {
    "nan frame": (_nan_frame, r"'rotation' of frame 2 is not finite"),
    "short root": (
        _set(["root_translation"], _tensor(np.zeros((2, 3)))),
        r"'root_translation' has shape \[2, 3\], expected \[3, 3\]",
    ),
    "joint count": (
        _set(["global_velocity"], _tensor(np.zeros((3, 5, 3)))),
        r"'global_velocity' has shape \[3, 5, 3\], expected \[3, 2, 3\]",
    ),
    "names": (
        _set(["skeleton_tree", "node_names"], ["pelvis", "torso", "head"]),
        r"'rotation' has shape \[3, 2, 4\], expected \[\*, 3, 4\]",
    ),
    "non-unit": (_long_quaternion, r"rotation of node 1 of frame 1 is not a unit quaternion \(norm 2\)"),
    "fps zero": (_set(["fps"], 0.0), r"the frame rate must be positive, got 0.0"),
    "no fps": (lambda content: content.pop("fps"), r"holds a poselib SkeletonMotion without 'fps'"),
    "one velocity": (lambda content: content.pop("global_velocity"), r"holds 'global_angular_velocity' without"),
    "parents": (
        _set(["skeleton_tree", "parent_indices"], _tensor(np.array([1, -1]))),
        r"skeleton 'parent_indices' \[1, -1\] must start with -1",
    ),
    "text array": (_set(["rotation"], _tensor(np.array(["a"]))), r"'rotation' must be a numeric array"),
}


@pytest.mark.parametrize("case", BAD_POSELIB)
def test_poselib_bad_content(tmp_path, case):
    mutate, message = BAD_POSELIB[case]
    content = _poselib_content(frames=3)
    mutate(content)
    with pytest.raises(MotionError, match=rf"bad\.npy: {message}"):
        load_poselib_motion(_save_poselib(tmp_path / "bad.npy", content))


def test_poselib_refuses_a_plain_array(tmp_path):
    np.save(tmp_path / "states.npy", np.zeros((4, 26)))
    with pytest.raises(MotionError, match=r"states\.npy: holds a float64 array of shape \[4, 26\], not a poselib"):
        load_poselib_motion(tmp_path / "states.npy")
    with pytest.raises(MotionError, match=r"missing\.npy: cannot read"):
        load_poselib_motion(tmp_path / "missing.npy")


# ---------------------------------------------------------------------------------------------------------------
# DiffMimic states

IDENTITY_WXYZ = [1.0, 0.0, 0.0, 0.0]


def _state_table(frames: int = 2) -> np.ndarray:
    """Two bodies and the floor (last), in DiffMimic's field-major row: 3 positions, 3 quaternions (w x y z),
    3 velocities, 3 angular velocities; the columns are filled by hand."""
    row = np.concatenate([
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0, 0.0, 0.0],  # positions: body 0, body 1, floor
        IDENTITY_WXYZ + [HALF, 0.0, 0.0, HALF] + IDENTITY_WXYZ,  # body 1 a quarter turn about z
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.0, 0.0, 0.0],  # velocities
        [0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0],  # angular velocities
    ])  # fmt: skip
    assert row.shape == (3 * 13,)
    return np.tile(row, (frames, 1))


def test_diffmimic_hand_made_states(tmp_path):
    np.save(tmp_path / "clip.npy", _state_table(frames=2))
    states = load_diffmimic_states(tmp_path / "clip.npy", expected_bodies=2)
    assert states.name == "clip" and states.num_frames == 2 and states.num_bodies == 2  # floor dropped
    assert states.fps == DIFFMIMIC_FPS == 30.0
    np.testing.assert_array_equal(states.pos[1, 1], [4.0, 5.0, 6.0])  # columns 3..5
    np.testing.assert_array_equal(states.rot[1, 1], [HALF, 0.0, 0.0, HALF])  # columns 9 + 4..7, w first
    np.testing.assert_array_equal(states.vel[0, 0], [0.1, 0.2, 0.3])  # columns 21..23
    np.testing.assert_array_equal(states.ang[0, 1], [0.0, 0.0, 2.0])  # columns 30 + 3..5


# (folder, character bodies without the floor, frames): DiffMimic's SMPL has 18 bodies, SWORDSHIELD 14.
SHIPPED_STATES = {
    "demo_amass/75_09_stageii.npy": (18, 186),
    "demo_amass/KickHuefthoch05_stageii.npy": (18, 138),
    "demo_amass/WalkingStraightBackwards07_stageii.npy": (18, 151),
    "demo_aist/gBR_sBM_cAll_d04_mBR0_ch01.npy": (18, 360),
    "demo_aist/gBR_sFM_cAll_d04_mBR1_ch02.npy": (18, 1280),
    "demo_swordshield/RL_Avatar_Atk_2xCombo01_Motion.npy": (14, 96),
}


def test_every_shipped_diffmimic_file_loads(diffmimic_data_dir):
    assert sorted(str(p.relative_to(diffmimic_data_dir)) for p in diffmimic_data_dir.glob("demo_*/*.npy")) == sorted(
        SHIPPED_STATES
    )
    for relpath, (bodies, frames) in SHIPPED_STATES.items():
        states = load_diffmimic_states(diffmimic_data_dir / relpath, expected_bodies=bodies)
        assert states.num_frames == frames
        assert 0.2 < states.pos[:, 0, 2].min() and states.pos[:, 0, 2].max() < 1.3  # pelvis height: z up, metres


def test_diffmimic_swordshield_is_the_poselib_clip_reordered(ase_data_dir, diffmimic_data_dir):
    """DiffMimic's sword_converter.py copies ASE's root (pelvis) as is, reordering x y z w -> w x y z, unresampled."""
    clip = "RL_Avatar_Atk_2xCombo01_Motion.npy"
    states = load_diffmimic_states(diffmimic_data_dir / "demo_swordshield" / clip, expected_bodies=14)
    motion = load_poselib_motion(ase_data_dir / "motions" / "reallusion_sword_shield" / clip)
    assert states.num_frames == motion.num_frames
    np.testing.assert_allclose(states.pos[:, 0], motion.root_translation, atol=1e-6)
    np.testing.assert_allclose(states.rot[:, 0], motion.rotation[:, 0, [3, 0, 1, 2]], atol=1e-6)
    np.testing.assert_allclose(states.vel[:, 0], motion.global_velocity[:, 0], atol=1e-6)


def _with(table: np.ndarray, column: int, value: float, frame: int = 1) -> np.ndarray:
    table = table.copy()
    table[frame, column] = value
    return table


BAD_STATES = {
    "width": (np.zeros((2, 27)), {}, r"rows hold 27"),
    "one body": (_state_table()[:, :13], {}, r"rows hold 13"),
    "vector": (np.zeros(39), {}, r"state table has shape \[39\], expected \[frames, bodies x 13\]"),
    "one frame": (_state_table(frames=1), {}, r"needs at least 2 frames, found 1"),
    "nan": (_with(_state_table(frames=3), 4, np.nan, frame=2), {}, r"position of frame 2 is not finite"),
    "non-unit": (_with(_state_table(), 13, 2.0), {}, r"rotation of body 1 of frame 1 is not a unit quaternion"),
    "bodies": (_state_table(), {"expected_bodies": 18}, r"holds 2 bodies \(plus the floor\) but the character has 18"),
    "floor first": (_state_table()[:, [6, 7, 8, 0, 1, 2, 3, 4, 5] + list(range(9, 39))], {}, r"last body is not"),
    "moving floor": (_with(_state_table(), 8, 0.5), {}, r"last body is not DiffMimic's static floor"),
    "text": (np.array([["a"] * 26] * 2), {}, r"the state table must be a numeric array"),
}


@pytest.mark.parametrize("case", BAD_STATES)
def test_diffmimic_bad_files(tmp_path, case):
    table, kwargs, message = BAD_STATES[case]
    np.save(tmp_path / "bad.npy", table)
    with pytest.raises(MotionError, match=rf"bad\.npy: .*{message}"):
        load_diffmimic_states(tmp_path / "bad.npy", **kwargs)


def test_diffmimic_refuses_pickles_and_missing_files(tmp_path):
    path = _save_poselib(tmp_path / "motion.npy", _poselib_content())
    with pytest.raises(MotionError, match=r"motion\.npy: holds pickled objects, not a DiffMimic state file"):
        load_diffmimic_states(path)
    with pytest.raises(MotionError, match=r"missing\.npy: cannot read"):
        load_diffmimic_states(tmp_path / "missing.npy")


# ---------------------------------------------------------------------------------------------------------------
# AMASS


def _amass_arrays(frames: int = 4, width: int = 156, fps_key: str = "mocap_framerate") -> dict:
    """An AMASS-like clip whose value at (frame f, joint j, axis a) is f + j / 100 + a / 1000, so that any
    misplaced column shows."""
    frame, joint, axis = np.meshgrid(np.arange(frames), np.arange(width // 3), np.arange(3), indexing="ij")
    poses = (frame + joint / 100 + axis / 1000).reshape(frames, width)
    return {
        "poses": poses,
        "trans": np.tile([0.5, -0.25, 0.9], (frames, 1)),
        fps_key: np.array(120.0),
        "betas": np.zeros(16),
        "gender": np.array("female"),
        "dmpls": np.zeros((frames, 8)),
    }


def test_amass_smplh_hand_made(tmp_path):
    np.savez(tmp_path / "walk_poses.npz", **_amass_arrays(frames=4, width=156))
    motion = load_amass_npz(tmp_path / "walk_poses.npz")
    assert motion.name == "walk_poses" and motion.model == "SMPL-H" and motion.fps == 120.0
    assert motion.num_frames == 4 and motion.body_pose.shape == (4, 22, 3)  # 30 finger joints dropped
    assert motion.joint_names == SMPL_BODY_JOINTS and motion.joint_names[4] == "left_knee"
    np.testing.assert_allclose(motion.body_pose[2, 4], [2.04, 2.041, 2.042])  # frame 2, joint 4: columns 12..14
    np.testing.assert_allclose(motion.body_pose[3, 21], [3.21, 3.211, 3.212])  # right wrist, the last body joint
    np.testing.assert_array_equal(motion.trans[1], [0.5, -0.25, 0.9])
    assert motion.gender == "female" and motion.betas.shape == (16,)


@pytest.mark.parametrize(("width", "model"), [(72, "SMPL"), (165, "SMPL-X")])
def test_amass_other_body_models(tmp_path, width, model):
    arrays = _amass_arrays(frames=3, width=width, fps_key="mocap_frame_rate")  # SMPL-X releases spell it so
    arrays["gender"] = np.array(b"male")
    del arrays["betas"]
    np.savez(tmp_path / "clip.npz", **arrays)
    motion = load_amass_npz(tmp_path / "clip.npz")
    assert motion.model == model and motion.fps == 120.0 and motion.body_pose.shape == (3, 22, 3)
    assert motion.gender == "male" and motion.betas is None
    np.testing.assert_allclose(motion.body_pose[1, 21], [1.21, 1.211, 1.212])


def _amass_with(**changes) -> dict:
    arrays = _amass_arrays()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


def _nan_pose() -> dict:
    arrays = _amass_arrays()
    arrays["poses"][2, 7] = np.nan
    return arrays


BAD_AMASS = {
    "shape file": (
        {"betas": np.zeros(16), "gender": np.array("male")},
        r"AMASS file misses 'poses', 'trans', 'mocap_framerate' \(an AMASS shape file holds only a body shape",
    ),
    "no fps": (_amass_with(mocap_framerate=None), r"AMASS file misses 'mocap_framerate'"),
    "width": (_amass_with(poses=np.zeros((4, 75))), r"'poses' has shape \[4, 75\], expected \[frames, 72 \(SMPL\)"),
    "nan": (_nan_pose(), r"'poses' of frame 2 is not finite"),
    "trans": (_amass_with(trans=np.zeros((3, 3))), r"'trans' has shape \[3, 3\], expected \[4, 3\]"),
    "fps": (_amass_with(mocap_framerate=np.array(0.0)), r"the frame rate must be positive"),
    "pickled poses": (_amass_with(poses=np.array([None, {}], dtype=object)), r"'poses' is a pickled object array"),
    "pickled gender": (_amass_with(gender=np.array({"x": 1}, dtype=object)), r"'gender' is a pickled object array"),
    "text poses": (_amass_with(poses=np.array([["a"] * 156] * 4)), r"'poses' must be a numeric array"),
}


@pytest.mark.parametrize("case", BAD_AMASS)
def test_amass_bad_files(tmp_path, case):
    arrays, message = BAD_AMASS[case]
    np.savez(tmp_path / "bad.npz", **arrays)  # object arrays are pickled by savez: the reader must not load them
    with pytest.raises(MotionError, match=rf"bad\.npz: {message}"):
        load_amass_npz(tmp_path / "bad.npz")


def test_amass_refuses_other_files(tmp_path):
    (tmp_path / "notes.npz").write_text("not a zip")
    with pytest.raises(MotionError, match=r"notes\.npz: not an AMASS \.npz archive"):
        load_amass_npz(tmp_path / "notes.npz")
    np.save(tmp_path / "array.npy", np.zeros((4, 72)))
    with pytest.raises(MotionError, match=r"array\.npy: not an AMASS \.npz archive \(a single \.npy array\)"):
        load_amass_npz(tmp_path / "array.npy")
