"""DiffMimic's other characters end to end (slow; issue 11's matrix).

- Every shipped clip of the ``amass``, ``aist`` and ``swordshield`` suites (5 DiffMimic state files, 79 Reallusion
  poselib motions) exports through ``python -m envs.export`` and steps in the env on every backend, its first step
  close to the reference.
- Every built-in method trains on the first clip of each suite on every backend at the smoke tier, through the
  harness (4 envs x 8 steps, 6 updates), with finite curves.

One compile per (clip, backend) and per (clip, method, backend): run with ``python -m pytest -m slow
tests/test_character_matrix.py`` (hours on 2 cores; ``-k spring`` for one backend).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from benchmarks import harness
from benchmarks import results_store as store
from benchmarks.suites import SUITES
from benchmarks.tiers import get_tier
from envs.export import main as export_main
from methods import list_methods

NEW_SUITES = ("amass", "aist", "swordshield")
BUILT_IN_METHODS = tuple(name for name in list_methods() if not name.startswith("test_"))
CLIPS = [(suite, spec) for suite in NEW_SUITES for spec in SUITES[suite]]


@pytest.fixture
def licensed_data(monkeypatch, diffmimic_data_dir, ase_data_dir):
    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(diffmimic_data_dir))
    monkeypatch.setenv("MIMICBENCH_ASE_DATA", str(ase_data_dir))


def test_matrix_covers_every_shipped_clip_and_method():
    assert [len(SUITES[suite]) for suite in NEW_SUITES] == [3, 2, 80]
    assert {"diffmimic", "diffmimic_noreplay", "diffmimic_random", "ppo", "ppo_deepmimic"} <= set(BUILT_IN_METHODS)


@pytest.mark.slow
@pytest.mark.parametrize("backend", envs.BACKENDS)
@pytest.mark.parametrize("suite, spec", CLIPS, ids=[f"{suite}-{spec.label}" for suite, spec in CLIPS])
def test_every_shipped_clip_exports_and_steps(licensed_data, tmp_path, suite, spec, backend):
    if backend == envs.BACKENDS[0]:  # the export does not depend on the backend: once per clip
        out = tmp_path / "clip.npz"
        assert export_main([spec.clip, "--out", str(out)]) == 0
        exported = np.load(out)
        assert np.all(np.isfinite(exported["pos"])) and exported["pos"].shape[1] == len(exported["body_names"])
    config = envs.MimicConfig(backend=backend, episode_length=4, observation=spec.observation,
                              fall_contact_bodies=spec.fall_contact_bodies)
    env = envs.make_env(spec.clip, config)

    @jax.jit
    def rollout(key):
        def step(state, _):
            state = env.step(state, jnp.zeros(env.action_size))
            return state, state.metrics

        return jax.lax.scan(step, env.reset(key), None, 4)[1]

    metrics = rollout(jax.random.PRNGKey(0))
    for name in ("loss", "pose_error", "fall", "replay"):
        assert np.all(np.isfinite(np.asarray(metrics[name]))), name
    assert float(metrics["pose_error"][0]) < 0.2  # one step from a reference state stays close to it


@pytest.mark.slow
@pytest.mark.parametrize("backend", envs.BACKENDS)
@pytest.mark.parametrize("method", BUILT_IN_METHODS)
@pytest.mark.parametrize("suite", NEW_SUITES)
def test_every_method_trains_on_every_backend(licensed_data, tmp_path, suite, method, backend):
    smoke = get_tier("smoke")
    spec = harness.RunSpec(suite, SUITES[suite][0], method, 0, smoke, backend=backend)
    summary = harness.run(spec, tmp_path)
    assert summary["status"] == "complete" and summary["total_samples"] == smoke.max_samples
    curve = store.load_run(spec.key.dir(tmp_path)).curve
    assert len(curve) == 1 + smoke.max_samples // smoke.eval_every_samples
    assert all(math.isfinite(value) for value in curve["pose_error_cycle"])
    assert (spec.key.dir(tmp_path) / "rollout.npz").exists()
