"""DeepMimic motion loading, resampling, cyclic extension, reference states and export."""

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from envs.character import load_character, yup_to_zup
from envs.data import MOTION_NAMES
from envs.export import main as export_main
from envs.motion import MotionError, build_reference, cycle_phase, load_motion_file

FRAMES = 48  # one length for every reference built here, so the jitted kinematics compile once


def _motion(data_dir, name):
    return data_dir / "motions" / f"humanoid3d_{name}.txt"


@pytest.mark.parametrize("name", MOTION_NAMES)
def test_every_shipped_clip_builds_a_reference(data_dir, character_model, name):
    clip = load_motion_file(_motion(data_dir, name), character_model)
    reference = build_reference(clip, character_model, num_frames=FRAMES)
    assert reference.q.shape == (FRAMES, character_model.sys.q_size())
    assert reference.bodies.pos.shape == (FRAMES, 15, 3)
    for array in (reference.q, reference.qd, reference.qd_brax, reference.bodies.pos, reference.bodies.vel):
        assert np.all(np.isfinite(np.asarray(array)))
    # Feet stay near the floor level the clip was recorded on (z-up conversion and heights are right).
    feet = np.asarray(reference.bodies.pos[:, [5, 11], 2])
    assert -0.1 < feet.min() < 0.3


def _independent_body_positions(character, frames: np.ndarray) -> np.ndarray:
    """Forward kinematics straight from the character and motion files, in DeepMimic's y-up frame, with scipy."""
    positions = []
    for frame in frames:
        world_pos, world_rot = {}, {}
        column = 8
        for index, joint in enumerate(character.joints):
            if joint.type == "none":
                world_pos[index] = frame[1:4]
                world_rot[index] = Rotation.from_quat(frame[[5, 6, 7, 4]])
                continue
            if joint.type == "spherical":
                local = Rotation.from_quat(frame[[column + 1, column + 2, column + 3, column]])
                column += 4
            elif joint.type == "revolute":
                local = Rotation.from_rotvec([0.0, 0.0, frame[column]])
                column += 1
            else:
                local = Rotation.identity()
            parent = joint.parent
            world_pos[index] = world_pos[parent] + world_rot[parent].apply(joint.attach)
            world_rot[index] = world_rot[parent] * local
        positions.append([world_pos[i] for i in range(len(character.joints))])
    return yup_to_zup(np.asarray(positions))


@pytest.mark.parametrize("name", ["walk", "backflip"])
def test_reference_positions_match_independent_forward_kinematics(data_dir, character_model, name):
    character = load_character(data_dir / "characters/humanoid3d.txt", data_dir / "controllers/humanoid3d_ctrl.txt")
    frames = np.asarray(json.loads(_motion(data_dir, name).read_text())["Frames"])
    clip = load_motion_file(_motion(data_dir, name), character_model)
    # Resample at the file's own frame rate, so reference frame k is file frame k.
    reference = build_reference(clip, character_model, num_frames=FRAMES, dt=float(frames[0, 0]))
    # The last file frame closes the cycle; the loader starts the next cycle there (frame 0 + displacement).
    count = min(len(frames) - 1, FRAMES)
    expected = _independent_body_positions(character, frames[:count])
    actual = np.asarray(reference.bodies.pos[:count])
    np.testing.assert_allclose(actual, expected, atol=2e-3)


def test_cyclic_clip_extends_with_root_displacement(data_dir, character_model):
    clip = load_motion_file(_motion(data_dir, "walk"), character_model)
    reference = build_reference(clip, character_model, num_frames=FRAMES * 2)
    cycle = reference.cycle_frames
    pos = np.asarray(reference.bodies.pos)
    displacement = clip.root_pos[-1] - clip.root_pos[0]
    assert np.linalg.norm(displacement[:2]) > 0.5  # walk moves forward
    shift = pos[cycle + 3] - pos[3]
    np.testing.assert_allclose(shift[:, :2], np.broadcast_to(displacement[:2], shift[:, :2].shape), atol=0.03)
    np.testing.assert_allclose(shift[:, 2], 0.0, atol=0.03)


def test_phase_of_a_cycle_of_52_and_a_half_steps_by_hand():
    """Backflip's 1.75 s at 30 Hz: the phase comes from the time, as DeepMimic's time / period."""
    frames = np.array([0, 52, 53, 104, 106, 540])
    phase, starts = cycle_phase(1.75, frames / 30.0)
    # 52/52.5; 53 steps = 1.7667 s, 0.0167 s into cycle 2; 104: 3.4667 - 1.75 = 1.7167 s; 106: 3.5333 - 3.5 s;
    # 540 steps = 18 s = 10 cycles (17.5 s) + 0.5 s
    np.testing.assert_allclose(phase, [0.0, 52 / 52.5, 0.5 / 52.5, 51.5 / 52.5, 1 / 52.5, 0.5 / 1.75], atol=1e-9)
    _, every_start = cycle_phase(1.75, np.arange(107) / 30.0)
    assert np.flatnonzero(every_start).tolist() == [0, 53, 105]  # 105 steps = 3.5 s exactly: the third cycle begins
    # The rounded period (52 steps) the environment counted before put 540 at 540 % 52 / 52 = 0.385, not 0.286.
    # A clip that does not loop: 0 -> 1 over its duration, then held at 1; only frame 0 starts a cycle.
    held, held_starts = cycle_phase(1.75, np.array([0, 21, 105, 200]) / 30.0, loop=False)
    np.testing.assert_allclose(held, [0.0, 0.4, 1.0, 1.0], atol=1e-9)
    assert held_starts.tolist() == [True, False, False, False]


def test_reference_carries_the_exact_phase(data_dir, character_model):
    clip = load_motion_file(_motion(data_dir, "backflip"), character_model)
    reference = build_reference(clip, character_model, num_frames=120)
    assert reference.cycle_frames == 52  # the cycle evaluation horizon stays whole steps
    np.testing.assert_allclose(np.asarray(reference.phase)[[52, 53]], [52 / 52.5, 0.5 / 52.5], atol=1e-6)
    assert np.flatnonzero(np.asarray(reference.cycle_start)).tolist() == [0, 53, 105]


def test_unseen_clip_in_deepmimic_format(tmp_path, data_dir, character_model):
    """A clip that is not one of the 12: walk played backwards at 60 Hz without looping."""
    source = json.loads(_motion(data_dir, "walk").read_text())
    frames = [[1.0 / 60.0] + frame[1:] for frame in reversed(source["Frames"])]
    path = tmp_path / "my_backwards_walk.txt"
    path.write_text(json.dumps({"Loop": "none", "Frames": frames}))
    clip = load_motion_file(path, character_model)
    assert not clip.loop and clip.duration == pytest.approx((len(frames) - 1) / 60.0)
    reference = build_reference(clip, character_model, num_frames=FRAMES)
    # Past its end a non-looping clip holds its last pose.
    np.testing.assert_allclose(reference.bodies.pos[-1], reference.bodies.pos[-2], atol=1e-5)


def _bad_clip(tmp_path, data_dir, mutate):
    data = json.loads(_motion(data_dir, "walk").read_text())
    path = tmp_path / "bad_clip.txt"
    result = mutate(data)
    path.write_text(result if isinstance(result, str) else json.dumps(result).replace("NaN", "NaN"))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: "{ broken", "not valid JSON"),
        (lambda d: {"Loop": "wrap"}, "no 'Frames' list"),
        (lambda d: {**d, "Frames": []}, "needs at least 2 frames, found 0"),
        (lambda d: {**d, "Frames": [f[:-4] for f in d["Frames"]]}, "joint layout does not match"),
        (lambda d: {**d, "Frames": d["Frames"][:3] + [[float("nan")] * 44] + d["Frames"][3:]}, "frame 3 value 0 is not finite"),
        (lambda d: {**d, "Loop": "pingpong"}, "'Loop' must be"),
        (lambda d: {**d, "Frames": [[0.0] + f[1:] for f in d["Frames"]]}, "non-positive duration"),
    ],
)
def test_bad_motion_file_names_file_and_problem(tmp_path, data_dir, character_model, mutate, message):
    path = _bad_clip(tmp_path, data_dir, mutate)
    with pytest.raises(MotionError, match=message) as info:
        load_motion_file(path, character_model)
    assert "bad_clip.txt" in str(info.value)


def test_export_command_writes_documented_keys(tmp_path, data_dir):
    out = tmp_path / "walk.npz"
    assert export_main(["walk", "--out", str(out), "--data-dir", str(data_dir), "--frames", str(FRAMES)]) == 0
    exported = np.load(out)
    assert list(exported["body_names"][:3]) == ["root", "chest", "neck"]
    assert exported["pos"].shape == (FRAMES, 15, 3) and exported["rot"].shape == (FRAMES, 15, 4)
    assert exported["vel"].shape == exported["ang"].shape == (FRAMES, 15, 3)
    assert float(exported["dt"]) == pytest.approx(1 / 30)
    np.testing.assert_allclose(np.linalg.norm(exported["rot"], axis=-1), 1.0, atol=1e-5)


def test_export_command_reports_unknown_clip(tmp_path, capsys):
    assert export_main(["no_such_clip", "--out", str(tmp_path / "x.npz")]) == 2
    assert "unknown motion clip 'no_such_clip'" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
