"""Clips by format: a DiffMimic state file runs on its own character (inferred from the file), with that character's
fall bodies; a clip asked to run on another character is an error naming the file and both characters; export
writes every format. Eager only: the environments are built, never stepped."""

from __future__ import annotations

import numpy as np
import pytest

from envs.export import main as export_main
from envs.mimic_env import MimicConfig
from envs.model import load_character_model
from envs.motion import MotionError
from envs.reference import check_clip, load_reference, make_env
from tests.test_diffmimic_motion import _save_states

SWORD = "demo_swordshield/RL_Avatar_Atk_2xCombo01_Motion.npy"
AMASS = "demo_amass/KickHuefthoch05_stageii.npy"


def test_diffmimic_file_builds_its_own_character(diffmimic_data_dir):
    reference = load_reference(str(diffmimic_data_dir / SWORD))
    assert reference.body_names == load_character_model("swordshield").body_names
    assert reference.num_frames == 96  # one row per control step
    assert check_clip(str(diffmimic_data_dir / AMASS)) == "smpl"


def test_env_on_a_diffmimic_file_uses_the_character_and_its_fall_bodies(diffmimic_data_dir):
    config = MimicConfig(episode_length=40, random_start_range=20)
    env = make_env(str(diffmimic_data_dir / AMASS), config)
    smpl = load_character_model("smpl")
    assert env.model.name == "smpl"
    assert env.fall_contact_bodies == tuple(smpl.body_names[i] for i in smpl.fall_contact)
    assert "right_foot" not in env.fall_contact_bodies and "pelvis" in env.fall_contact_bodies
    # 138 rows: starts within the clip (137 frames) plus an episode and its boundary frames.
    assert env.reference.num_frames >= 137 + 40 + 1
    assert env.action_size == smpl.action_size


def test_explicit_character_must_be_the_clips(diffmimic_data_dir, data_dir):
    sword = diffmimic_data_dir / SWORD
    assert load_reference(str(sword), character="swordshield").body_names[0] == "pelvis"
    with pytest.raises(MotionError, match=r"RL_Avatar_Atk_2xCombo01_Motion\.npy: a clip of character 'swordshield', "
                                          r"asked to run on character 'smpl'"):
        make_env(str(sword), MimicConfig(), character="smpl")
    walk = data_dir / "motions" / "humanoid3d_walk.txt"
    with pytest.raises(MotionError, match=r"humanoid3d_walk\.txt: a clip of character 'humanoid3d', asked to run on "
                                          r"character 'swordshield'"):
        load_reference(str(walk), character="swordshield")
    with pytest.raises(MotionError, match="a clip of character 'smpl'"):
        check_clip(str(diffmimic_data_dir / AMASS), character="humanoid3d")


def test_diffmimic_file_cannot_be_resampled(diffmimic_data_dir):
    with pytest.raises(MotionError, match=r"\.npy: a diffmimic clip becomes one reference frame per 30 Hz control "
                                          r"step; it cannot be resampled to 60 frames per second"):
        load_reference(str(diffmimic_data_dir / SWORD), dt=1.0 / 60.0)


def test_bad_state_files_fail_the_check_naming_the_file(tmp_path):
    wrong_count = tmp_path / "ten_bodies.npy"
    _save_states(wrong_count, np.zeros((5, 10, 3)), np.tile([1.0, 0.0, 0.0, 0.0], (5, 10, 1)))
    with pytest.raises(MotionError, match=r"ten_bodies\.npy: holds 10 bodies \(plus the floor\); no character"):
        check_clip(str(wrong_count))
    missing = tmp_path / "missing.npy"
    with pytest.raises(Exception, match=r"missing\.npy does not exist"):
        check_clip(str(missing))


def test_export_writes_a_diffmimic_clip(diffmimic_data_dir, tmp_path, capsys):
    out = tmp_path / "sword.npz"
    assert export_main([str(diffmimic_data_dir / SWORD), "--out", str(out)]) == 0
    exported = np.load(out)
    assert exported["pos"].shape == (96, 14, 3) and exported["q"].shape[0] == 96
    assert list(exported["body_names"][:2]) == ["pelvis", "torso"]
    assert float(exported["dt"]) == pytest.approx(1.0 / 30.0)
    # The exported positions are the file's (the round trip of envs.diffmimic_motion, 1 cm at most).
    states = np.load(diffmimic_data_dir / SWORD)
    pelvis = states[:, 0:3]
    np.testing.assert_allclose(exported["pos"][:, 0], pelvis, atol=0.01)


def test_export_refuses_another_character(diffmimic_data_dir, tmp_path, capsys):
    out = tmp_path / "sword.npz"
    assert export_main([str(diffmimic_data_dir / SWORD), "--out", str(out), "--character", "smpl"]) == 2
    assert "a clip of character 'swordshield', asked to run on character 'smpl'" in capsys.readouterr().err
    assert not out.exists()
