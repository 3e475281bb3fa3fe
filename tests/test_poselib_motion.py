"""ASE/poselib motions as references on swordshield: forward kinematics over the skeleton, the character's bodies by
name, joint angles recovered as for DiffMimic's state files; every shipped Reallusion clip; files that do not fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.plan import PlanRequest, make_plan
from benchmarks.suites import SUITES, clip_spec
from envs.clip_settings import REALLUSION_FRAMES
from envs.diffmimic_motion import diffmimic_coordinates
from envs.export import main as export_main
from envs.formats import load_diffmimic_states, load_poselib_motion
from envs.licensed_data import REALLUSION_CLIPS
from envs.model import load_character_model
from envs.motion import MotionError
from envs.poselib_motion import poselib_character, poselib_states
from envs.reference import check_clip, clip_format, load_reference
from tests.test_diffmimic_motion import _forward

CONVERTED = "RL_Avatar_Atk_2xCombo01_Motion.npy"  # the one Reallusion clip DiffMimic converted


@pytest.fixture(scope="module")
def sword():
    return load_character_model("swordshield")


def _reallusion(ase_data_dir, name: str):
    return ase_data_dir / "motions" / "reallusion_sword_shield" / name


def test_poselib_states_are_diffmimics_converted_file(ase_data_dir, diffmimic_data_dir, sword):
    """DiffMimic's sword_converter.py copies ASE's global body states: our forward kinematics over the skeleton gives
    the same positions and rotations, hence the same joint angles."""
    motion = load_poselib_motion(_reallusion(ase_data_dir, CONVERTED))
    assert poselib_character(motion) == "swordshield"
    ours = poselib_states(motion, sword)
    theirs = load_diffmimic_states(diffmimic_data_dir / "demo_swordshield" / CONVERTED)
    np.testing.assert_allclose(ours.pos, theirs.pos, atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(ours.rot * theirs.rot, axis=-1)), 1.0, atol=1e-9)  # q and -q alike
    np.testing.assert_allclose(diffmimic_coordinates(ours, sword), diffmimic_coordinates(theirs, sword), atol=1e-9)


def test_every_shipped_reallusion_clip_maps_onto_swordshield(ase_data_dir):
    clips = sorted(p.stem for p in (ase_data_dir / "motions" / "reallusion_sword_shield").glob("*.npy"))
    assert sorted(REALLUSION_CLIPS) == [name for name in clips if name != CONVERTED[:-4]]
    for name in clips:  # bones within 1 cm of the character's in every frame, every joint angle recoverable
        path = _reallusion(ase_data_dir, name + ".npy")
        assert clip_format(path) == "poselib"
        assert check_clip(str(path)) == "swordshield"
        if name in REALLUSION_FRAMES:  # the settings table's frames are the file's
            assert load_poselib_motion(path).num_frames == REALLUSION_FRAMES[name]


@pytest.mark.parametrize("name", ["RL_Avatar_Atk_SlashDown_Motion.npy", "RL_Avatar_Atk_ShieldSwipe01_Motion.npy"])
def test_round_trip_through_forward_kinematics(ase_data_dir, sword, name):
    """The recovered angles put every body where the clip does (issue 11: within 1 cm; a small jit of
    brax.kinematics.forward)."""
    states = poselib_states(load_poselib_motion(_reallusion(ase_data_dir, name)), sword)
    pos, _ = _forward(sword, diffmimic_coordinates(states, sword))
    assert np.abs(pos - states.pos).max() < 0.01


def test_reference_and_export_of_a_poselib_clip(ase_data_dir, tmp_path):
    path = _reallusion(ase_data_dir, "RL_Avatar_Atk_Kick_Motion.npy")
    reference = load_reference(str(path))
    assert reference.body_names == load_character_model("swordshield").body_names
    assert reference.num_frames == REALLUSION_FRAMES["RL_Avatar_Atk_Kick_Motion"]  # one frame per file row
    out = tmp_path / "kick.npz"
    assert export_main([str(path), "--out", str(out)]) == 0
    exported = np.load(out)
    assert exported["pos"].shape == (73, 14, 3)
    motion = load_poselib_motion(path)
    np.testing.assert_allclose(exported["pos"][:, 0], motion.root_translation, atol=0.01)  # the pelvis


def test_other_rates_are_resampled_to_30_hz(ase_data_dir, sword):
    motion = load_poselib_motion(_reallusion(ase_data_dir, "RL_Avatar_Atk_Kick_Motion.npy"))
    at_30 = poselib_states(dataclasses.replace(motion, fps=30.0), sword)
    at_60 = poselib_states(dataclasses.replace(motion, fps=60.0), sword)
    # Twice the rate, the same frames: half the duration; 30 Hz frame k is file frame 2k (the times coincide).
    assert at_60.num_frames == (motion.num_frames - 1) // 2 + 1
    np.testing.assert_allclose(at_60.pos, at_30.pos[::2][: at_60.num_frames], atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(at_60.rot * at_30.rot[::2][: at_60.num_frames], -1)), 1.0, atol=1e-9)


def test_poselib_clip_of_another_skeleton(ase_data_dir):
    walk = ase_data_dir / "motions" / "amp_humanoid_walk.npy"
    with pytest.raises(MotionError, match=r"amp_humanoid_walk\.npy: its skeleton \(15 nodes: pelvis, .*\) is no "
                                          r"character's here \(known skeletons: swordshield: "):
        check_clip(str(walk))


def test_poselib_clip_on_another_character(ase_data_dir):
    path = _reallusion(ase_data_dir, "RL_Avatar_Atk_Kick_Motion.npy")
    with pytest.raises(MotionError, match=r"RL_Avatar_Atk_Kick_Motion\.npy: a clip of character 'swordshield', asked "
                                          r"to run on character 'smpl'"):
        load_reference(str(path), character="smpl")


def test_global_rotations_and_missing_bodies_are_refused(ase_data_dir, sword):
    motion = load_poselib_motion(_reallusion(ase_data_dir, "RL_Avatar_Atk_Kick_Motion.npy"))
    with pytest.raises(MotionError, match=r"Kick_Motion\.npy: holds global rotations \(is_local False\)"):
        poselib_states(dataclasses.replace(motion, is_local=False), sword)
    renamed = dataclasses.replace(motion, node_names=tuple("hips" if n == "pelvis" else n for n in motion.node_names))
    with pytest.raises(MotionError, match=r"Kick_Motion\.npy: has no node for bodies \['pelvis'\] of character "
                                          r"'swordshield'"):
        poselib_states(renamed, sword)


def test_swordshield_suite_holds_the_reallusion_clips(monkeypatch, ase_data_dir, diffmimic_data_dir):
    labels = [spec.label for spec in SUITES["swordshield"]]
    assert labels[0] == CONVERTED[:-4] and labels[1:] == list(REALLUSION_CLIPS) and len(labels) == 80
    # As DiffMimic's SWORDSHIELD config with the clip as `ref`: ep_len min(96, frames), ep_len_eval = frames.
    kick = clip_spec("RL_Avatar_Atk_Kick_Motion")
    assert REALLUSION_FRAMES["RL_Avatar_Atk_Kick_Motion"] == 73  # the file's frames (checked above)
    assert kick.rollout_length == 72 and kick.random_start_range == 0  # ep_len = ep_len_eval = 73
    combo = clip_spec("RL_Avatar_Atk_3xCombo05_Motion")
    assert REALLUSION_FRAMES["RL_Avatar_Atk_3xCombo05_Motion"] == 170
    assert combo.rollout_length == 95 and combo.random_start_range == 74  # ep_len 96, ep_len_eval 170
    assert kick.max_grad_norm == 0.4 and kick.replay_threshold == 0.2 and kick.observation == "target"
    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(diffmimic_data_dir))
    monkeypatch.setenv("MIMICBENCH_ASE_DATA", str(ase_data_dir))
    runs = make_plan(PlanRequest("swordshield", ["diffmimic"], [0], "smoke",
                                 clips=[CONVERTED[:-4], "RL_Avatar_Atk_Kick_Motion"]))
    assert [run.clip.label for run in runs] == [CONVERTED[:-4], "RL_Avatar_Atk_Kick_Motion"]
