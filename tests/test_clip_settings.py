"""The one per-clip settings table against the released configs, and the harness applying it."""

import dataclasses
import re

import pytest

import envs
from benchmarks import harness
from benchmarks.suites import SUITES, clip_spec, resolve_suite
from benchmarks.tiers import get_tier
from envs.clip_settings import CLIP_SETTINGS, COMMON_FALL_BODIES, HUMANOID3D_BODIES, clip_settings
from envs.data import MOTION_NAMES

# DiffMimic d0db48a, configs/AMP/<file>: `threshold`, `ep_len`, `ep_len_eval` (copied by hand from each file).
DIFFMIMIC_20S = {
    "backflip": ("backflip_20s.yaml", 0.4, 60, 600),
    "cartwheel": ("cartwheel_20s.yaml", 0.4, 60, 600),
    "crawl": ("crawl_20s.yaml", 0.2, 60, 600),
    "dance_a": ("dance_20s.yaml", 0.4, 60, 600),
    "jog": ("jog_20s.yaml", 0.4, 60, 600),
    "jump": ("jump_20s.yaml", 0.4, 60, 600),
    "roll": ("roll_20s.yaml", 0.4, 60, 600),
    "run": ("run_20s.yaml", 0.2, 60, 600),
    "sideflip": ("sideflip_20s.yaml", 0.4, 60, 600),
    "spinkick": ("spinkick_20s.yaml", 0.4, 60, 600),
    "walk": ("walk_20s.yaml", 0.2, 60, 600),
    "zombie_walk": ("zombie_20s.yaml", 0.2, 60, 600),
}


def test_table_covers_every_shipped_clip():
    assert set(CLIP_SETTINGS) == set(MOTION_NAMES) == set(DIFFMIMIC_20S)


@pytest.mark.parametrize("clip", sorted(DIFFMIMIC_20S))
def test_diffmimic_settings_match_the_released_configs(clip):
    _, threshold, ep_len, ep_len_eval = DIFFMIMIC_20S[clip]
    settings = CLIP_SETTINGS[clip]
    assert settings.replay_threshold == threshold
    assert settings.rollout_length == ep_len - 1  # mimic.py: episode_length=args.ep_len - 1
    # humanoid_mimic_train.py: step_index = randint(high=total_length - rollout_length + 1), total = ep_len_eval
    assert settings.random_start_range == ep_len_eval - ep_len == 540


def _args_fall_bodies(data_dir, clip):
    """DeepMimic's fall bodies from its args file: the `--fall_contact_bodies` list, none if contact falls are off."""
    text = (data_dir / "args" / f"train_humanoid3d_{clip}_args.txt").read_text()
    if re.search(r"^--enable_char_contact_fall\s+false", text, re.M):
        return ()
    indices = re.search(r"^--fall_contact_bodies\s+([\d ]+)$", text, re.M).group(1).split()
    return tuple(HUMANOID3D_BODIES[int(i)] for i in indices)


@pytest.mark.parametrize("clip", sorted(set(DIFFMIMIC_20S) - {"sideflip"}))
def test_fall_bodies_match_deepmimic_args_files(data_dir, clip):
    assert CLIP_SETTINGS[clip].fall_contact_bodies == _args_fall_bodies(data_dir, clip)


def test_fall_body_facts(data_dir):
    assert "right_ankle" not in COMMON_FALL_BODIES and len(COMMON_FALL_BODIES) == 13
    assert CLIP_SETTINGS["crawl"].fall_contact_bodies == ("root", "chest", "neck")
    assert CLIP_SETTINGS["roll"].fall_contact_bodies == ()
    assert not (data_dir / "args" / "train_humanoid3d_sideflip_args.txt").exists()  # upstream has none
    assert CLIP_SETTINGS["sideflip"].fall_contact_bodies == _args_fall_bodies(data_dir, "walk")
    assert clip_settings("path/to/humanoid3d_crawl.txt") is CLIP_SETTINGS["crawl"]
    unknown = clip_settings("my_clip.txt")  # not in the table: RSI within one cycle, the method's own rollout
    assert unknown.random_start_range is None and unknown.rollout_length is None
    synthetic = clip_settings("synthetic")  # the defaults, but for the kneeling clip's fall bodies
    assert synthetic == dataclasses.replace(unknown, fall_contact_bodies=synthetic.fall_contact_bodies)
    assert clip_settings("envs/assets/humanoid3d_synthetic.txt") is synthetic
    assert clip_spec("synthetic").fall_contact_bodies == synthetic.fall_contact_bodies


def test_suites_are_built_from_the_table():
    by_label = {spec.label: spec for spec in SUITES["deepmimic"]}
    assert by_label["jog"].replay_threshold == 0.4 and by_label["dance_a"].replay_threshold == 0.4
    assert by_label["crawl"].fall_contact_bodies == ("root", "chest", "neck")
    assert resolve_suite("deepmimic", ["cartwheel"])[0] == clip_spec("cartwheel")
    assert clip_spec("my_clip.txt").replay_threshold == 0.2


def test_harness_applies_the_clip_settings(monkeypatch):
    built = {}
    monkeypatch.setattr(envs, "make_env", lambda clip, config, data_dir=None: built.setdefault("config", config))
    spec = harness.RunSpec("deepmimic", clip_spec("cartwheel"), "diffmimic", 0, get_tier("paper"))
    _, config, env_config = harness.build(spec)
    assert config.replay_threshold == env_config.replay_threshold == 0.4
    assert config.rollout_length == env_config.episode_length == 59  # the paper tier does not set one
    assert env_config.fall_contact_bodies == CLIP_SETTINGS["cartwheel"].fall_contact_bodies
    assert env_config.random_start_range == 540
    quick = harness.RunSpec("deepmimic", clip_spec("cartwheel"), "diffmimic", 0, get_tier("quick"))
    assert harness.build(quick)[1].rollout_length == 32  # a tier's own rollout length wins
    long = harness.build(harness.RunSpec("deepmimic", clip_spec("backflip"), "diffmimic", 0, get_tier("long")))[1]
    assert (long.rollout_length, long.num_envs, long.replay_threshold) == (59, 128, 0.4)  # backflip_20s.yaml
