"""Shared fixtures: the DeepMimic data dir, JAX's persistent compilation cache, and session-wide jitted envs."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.host_devices import request_host_devices

# Before JAX is imported: two XLA host devices, so the data-parallel tests can split a batch (run_benchmark.py asks
# for one per core). Runs in the tests use both unless they ask otherwise, as they would from the command line here.
request_host_devices(2)

import jax  # noqa: E402
import pytest


REPO = Path(__file__).resolve().parents[1]
# Compiling the humanoid's programs takes tens of seconds; the persistent cache makes reruns (and CI's second
# process) reuse them. It is also how tests share programs within one session: every harness.run jits fresh
# functions (no in-memory hit), so the same small evaluation program compiled again is read back from disk instead.
# The environment variables carry the same settings to the subprocesses some tests start (the CLI).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(REPO / ".jax_cache"))
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "1.0"
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)

# After the cache settings: nothing may compile before them (the cache is set up at the first compile).
from envs import data as envs_data  # noqa: E402
from envs import licensed_data  # noqa: E402


def _shared_data_dir() -> Path | None:
    """DeepMimic's data: ``$MIMICBENCH_DATA``, else ``shared/data/deepmimic`` beside the repository, else where
    ``run_benchmark.py fetch`` puts it."""
    candidates = [
        os.environ.get("MIMICBENCH_DATA"),
        REPO.parent / "shared" / "data" / "deepmimic",
        envs_data.default_cache_dir(),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "motions").is_dir():
            return Path(candidate)
    return None


REQUIRE_DATA = "MIMICBENCH_REQUIRE_DATA"
"""Set to 1 (CI does) to make a missing DeepMimic data dir fail the tests that need it instead of skipping them."""


def missing_data(reason: str) -> None:
    """Skip (a developer without the data) or fail (CI, where skipping would hide the shipped-clip tests)."""
    if os.environ.get(REQUIRE_DATA, "") not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRE_DATA} is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _shared_data_dir()
    if path is None:
        missing_data("DeepMimic data not found: set MIMICBENCH_DATA to a copy of DeepMimic's data/ folder")
    return path


def _reference_data_dir(name: str) -> Path:
    """ASE's or DiffMimic's files: the folder ``$MIMICBENCH_<NAME>_DATA`` names (CI sets it), else ``shared/data/<name>``
    beside the DeepMimic data dir or the repository, else the fetch cache; the first that holds the source's first
    pinned file."""
    deepmimic = _shared_data_dir()
    named = os.environ.get(f"MIMICBENCH_{name.upper()}_DATA")
    candidates = (
        ([Path(named)] if named else [])
        + ([deepmimic.parent / name] if deepmimic else [])
        + [REPO.parent / "shared" / "data" / name, licensed_data.default_cache_dir(name)]
    )
    marker = licensed_data.get_source(name).files[0].relpath
    for candidate in candidates:
        if (candidate / marker).is_file():
            return candidate
    missing_data(f"{name} reference data not found (looked in {', '.join(map(str, candidates))})")


@pytest.fixture(scope="session")
def ase_data_dir() -> Path:
    return _reference_data_dir("ase")


@pytest.fixture(scope="session")
def diffmimic_data_dir() -> Path:
    return _reference_data_dir("diffmimic")


@pytest.fixture(scope="session")
def character_model():
    from envs.model import load_character_model

    return load_character_model("humanoid3d")
