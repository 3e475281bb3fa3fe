"""The amass, aist and swordshield suites: DiffMimic's demo clips with the settings of its released configs, applied by
the harness, and checked by the plan against each clip's own character before anything compiles."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks import harness
from benchmarks.plan import PlanRequest, make_plan
from benchmarks.suites import SUITES, UnknownSuiteError, clip_spec, resolve_suite
from benchmarks.tiers import get_tier
from envs.clip_settings import DIFFMIMIC_CLIP_SETTINGS, DIFFMIMIC_DEFAULT_CLIP_SETTINGS, clip_settings
from envs.data import DataError
from envs.licensed_data import DIFFMIMIC_CLIPS, REALLUSION_CLIPS
from envs.motion import MotionError
from tests.test_diffmimic_motion import _save_states

# DiffMimic d0db48a, configs/<folder>/<file> (copied by hand): max_grad_norm, ep_len, ep_len_eval (None: not set),
# and the rows of the clip each one names.
RELEASED = {
    "gBR_sBM_cAll_d04_mBR0_ch01": ("AIST/aist_example.yaml", 0.3, 60, 60, 360),
    "gBR_sFM_cAll_d04_mBR1_ch02": ("AIST/aist_example2.yaml", 0.3, 60, 60, 1280),
    "WalkingStraightBackwards07_stageii": ("AMASS/amass_example.yaml", 0.3, 60, None, 151),
    "KickHuefthoch05_stageii": ("AMASS/amass_example2.yaml", 0.3, 60, None, 138),
    "75_09_stageii": ("AMASS/amass_example3.yaml", 0.4, 60, None, 186),
    "RL_Avatar_Atk_2xCombo01_Motion": ("SWORDSHIELD/RL_Avatar_Atk_2xCombo01_Motion.yaml", 0.4, 96, None, 96),
}


@pytest.fixture
def diffmimic_data(monkeypatch, diffmimic_data_dir, ase_data_dir):
    """The suites' clips where CI keeps them (the swordshield suite also reads ASE's Reallusion clips)."""
    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(diffmimic_data_dir))
    monkeypatch.setenv("MIMICBENCH_ASE_DATA", str(ase_data_dir))
    return diffmimic_data_dir


def test_suites_hold_the_demo_folders():
    assert [spec.label for spec in SUITES["amass"]] == [
        "75_09_stageii", "KickHuefthoch05_stageii", "WalkingStraightBackwards07_stageii"]  # fmt: skip
    assert [spec.label for spec in SUITES["aist"]] == ["gBR_sBM_cAll_d04_mBR0_ch01", "gBR_sFM_cAll_d04_mBR1_ch02"]
    assert SUITES["swordshield"][0].label == "RL_Avatar_Atk_2xCombo01_Motion"  # then the Reallusion clips
    assert set(DIFFMIMIC_CLIPS) == set(RELEASED)
    assert set(DIFFMIMIC_CLIP_SETTINGS) == set(RELEASED) | set(REALLUSION_CLIPS)


@pytest.mark.parametrize("clip", sorted(RELEASED))
def test_settings_match_the_released_configs(diffmimic_data_dir, clip):
    _, max_grad_norm, ep_len, ep_len_eval, rows = RELEASED[clip]
    assert np.load(diffmimic_data_dir / DIFFMIMIC_CLIPS[clip]).shape[0] == rows
    # mimic.py: ep_len and ep_len_eval are capped at the clip's rows, ep_len_eval defaults to them; the rollout is
    # ep_len - 1 steps; humanoid_mimic_train.py draws the start from [0, total_length - rollout_length].
    ep_len, ep_len_eval = min(ep_len, rows), min(ep_len_eval or rows, rows)
    spec = clip_spec(clip)
    assert spec.replay_threshold == 0.2
    assert spec.max_grad_norm == max_grad_norm
    assert spec.rollout_length == ep_len - 1
    assert spec.random_start_range == ep_len_eval - ep_len
    assert spec.observation == "target"  # obs_type: target_state
    assert spec.fall_contact_bodies is None  # the character's own
    # agent_diffmimic.train evaluates eval_episode_length = ep_len_eval - 1 steps: less than the clip only for AIST.
    assert spec.eval_frames == (ep_len_eval - 1 if ep_len_eval < rows else None)


def test_hand_computed_rollouts_and_start_ranges():
    assert clip_spec("RL_Avatar_Atk_2xCombo01_Motion").rollout_length == 95  # ep_len 96 - 1
    assert clip_spec("RL_Avatar_Atk_2xCombo01_Motion").random_start_range == 0  # 96 rows - 96
    assert clip_spec("75_09_stageii").random_start_range == 126  # 186 rows - 60
    assert clip_spec("gBR_sFM_cAll_d04_mBR1_ch02").random_start_range == 0  # ep_len_eval 60 - 60


def test_unlisted_state_file_gets_diffmimic_defaults():
    settings = clip_settings("my/own_states.npy")
    assert settings is DIFFMIMIC_DEFAULT_CLIP_SETTINGS
    assert settings.observation == "target" and settings.fall_contact_bodies is None
    assert clip_spec("my/own_states.npy").max_grad_norm is None  # the method's own
    assert resolve_suite("amass", ["my/own_states.npy"])[0] == clip_spec("my/own_states.npy")
    with pytest.raises(UnknownSuiteError, match="unknown clip 'kick': valid clips are .*KickHuefthoch05_stageii"):
        resolve_suite("amass", ["kick"])


def test_harness_applies_the_clip_settings():
    spec = harness.RunSpec("amass", clip_spec("KickHuefthoch05_stageii"), "diffmimic", 0, get_tier("paper"))
    _, config, env_config = harness.method_config(spec)
    assert config.max_grad_norm == 0.3  # the clip's, not the method's 0.4
    assert config.rollout_length == env_config.episode_length == 59
    assert env_config.observation == "target"
    assert env_config.fall_contact_bodies is None
    assert env_config.random_start_range == 78  # 138 rows - 60
    ppo = harness.RunSpec("amass", clip_spec("KickHuefthoch05_stageii"), "ppo", 0, get_tier("paper"))
    _, ppo_config, ppo_env = harness.method_config(ppo)
    assert ppo_config.max_grad_norm == 1.0  # PPO's own clip is not DiffMimic's
    assert ppo_env.observation == "target"  # the task's observation, for every method
    assert harness.cycle_eval_frames(spec) is None  # the whole clip (AMASS: ep_len_eval = its rows)
    aist = harness.RunSpec("aist", clip_spec("gBR_sBM_cAll_d04_mBR0_ch01"), "diffmimic", 0, get_tier("paper"))
    assert harness.cycle_eval_frames(aist) == 59  # ep_len_eval 60 - 1
    assert harness.cycle_eval_frames(dataclasses.replace(aist, tier=get_tier("smoke"))) == 16  # a tier's own wins
    command_line = dataclasses.replace(spec, config_overrides=(("max_grad_norm", 1.5),))
    assert harness.method_config(command_line)[1].max_grad_norm == 1.5  # the command line still wins


@pytest.mark.parametrize("suite", ["amass", "aist", "swordshield"])
def test_plan_checks_every_clip_on_its_character(diffmimic_data, suite):
    runs = make_plan(PlanRequest(suite, ["diffmimic", "ppo"], [0], "smoke"))
    assert len(runs) == 2 * len(SUITES[suite])


def test_plan_refuses_a_bad_state_file_before_compiling(diffmimic_data, tmp_path):
    bad = tmp_path / "nine_bodies.npy"
    _save_states(bad, np.zeros((4, 9, 3)), np.tile([1.0, 0.0, 0.0, 0.0], (4, 9, 1)))
    with pytest.raises(MotionError, match=r"nine_bodies\.npy: holds 9 bodies \(plus the floor\); no character"):
        make_plan(PlanRequest("amass", ["diffmimic"], [0], "smoke", clips=["75_09_stageii", str(bad)]))


def test_missing_diffmimic_data_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"DiffMimic clip '75_09_stageii' not found: .*demo_amass/75_09_stageii\.npy "
                                        r"is missing\. Run `python run_benchmark.py fetch --source diffmimic "
                                        r"--accept-licence` \(DiffMimic's data is under the S-Lab License"):
        make_plan(PlanRequest("amass", ["diffmimic"], [0], "smoke"))
    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"nowhere \(from environment variable MIMICBENCH_DIFFMIMIC_DATA\) does not "
                                        r"exist"):
        make_plan(PlanRequest("swordshield", ["diffmimic"], [0], "smoke"))


def test_cli_without_the_data_is_one_line(monkeypatch, tmp_path, capsys):
    import run_benchmark

    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(tmp_path))
    out = tmp_path / "out"
    assert run_benchmark.main(["--suite", "aist", "--methods", "diffmimic", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: DiffMimic clip 'gBR_sBM_cAll_d04_mBR0_ch01' not found" in err, err
    assert "fetch --source diffmimic --accept-licence" in err and not out.exists()
