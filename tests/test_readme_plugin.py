"""The README's "Add a method" example, run as written: the code block is the plugin a user would copy."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import jax.numpy as jnp
import pytest

import methods
from benchmarks import harness
from benchmarks import results_store as store
from benchmarks.suites import ClipSpec
from benchmarks.tiers import Tier

README = Path(__file__).resolve().parents[1] / "README.md"


def _plugin_source() -> str:
    section = README.read_text().split("### Add a method", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's 'Add a method' section has no python block"
    return match.group(1)


@pytest.fixture(scope="module")
def random_search() -> methods.Method:
    module = types.ModuleType("readme_random_search")
    sys.modules[module.__name__] = module  # dataclasses look their module up, as for an imported file
    exec(compile(_plugin_source(), str(README), "exec"), module.__dict__)
    return methods.register(module.METHOD, replace=True)


def test_readme_plugin_trains_through_the_harness(random_search, tmp_path):
    assert random_search.name == "random_search"
    tier = Tier(
        name="test", description="tiny", max_samples=2 * 4 * 2, max_train_seconds=None, eval_every_samples=2 * 4,
        eval_frames=6, overrides={"*": {}, "random_search": {"num_envs": 2, "rollout_length": 4}},
        long_eval_frames=8,
    )
    spec = harness.RunSpec("smoke", ClipSpec("synthetic", 0.2), "random_search", 0, tier)
    assert harness.run(spec, tmp_path)["status"] == "complete"
    run = store.load_run(spec.key.dir(tmp_path))
    assert list(run.curve["samples"]) == [0, 8, 16]  # 2 candidates x 4 steps per update, as the example counts them
    assert run.curve["pose_error_cycle"].notna().all() and run.curve["loss"].iloc[1:].notna().all()
    assert run.manifest["config"]["method"] == {"num_envs": 2, "rollout_length": 4, "noise": 0.1}


def test_readme_plugin_trains_without_replay(random_search):
    import envs

    config = random_search.config_cls()
    env_config = random_search.env_config(config, envs.MimicConfig())
    assert env_config.replay == "none" and env_config.episode_length == config.rollout_length
    state = random_search.init(None, types.SimpleNamespace(action_size=3), config)
    assert jnp.array_equal(state.action, jnp.zeros(3))
