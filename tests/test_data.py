"""Tests for envs/data.py: data-dir precedence, name resolution, and offline fetch with fake openers."""

from __future__ import annotations

import io
import os
import urllib.error
from pathlib import Path

import pytest

from envs import data
from envs.data import DataError
from tests.conftest import missing_data


def _shared_dir() -> Path:
    env = os.environ.get(data.DATA_ENV_VAR)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared/data/deepmimic"


SHARED = _shared_dir()


@pytest.fixture
def shared_data():
    if not (SHARED / "motions/humanoid3d_walk.txt").is_file():
        missing_data(f"shared DeepMimic data not found at {SHARED}")


needs_shared = pytest.mark.usefixtures("shared_data")  # skipped without the data, failed in CI (conftest)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's env var or writes to the real cache dir."""
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _fake_data_dir(root: Path, relpaths=None) -> Path:
    """A data dir with (dummy-content) files at the shipped relative paths."""
    for rel in relpaths if relpaths is not None else [f.relpath for f in data.FILES]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}")
    return root


def _serving(root: Path, mutate=lambda rel, b: b):
    """Fake ``urlopen`` serving bytes of files under ``root`` by their upstream URL."""
    by_url = {f.url: f.relpath for f in data.FILES}
    calls: list[str] = []

    def opener(url, timeout=None):
        calls.append(url)
        rel = by_url[url]
        return io.BytesIO(mutate(rel, (root / rel).read_bytes()))

    opener.calls = calls
    return opener


# ----------------------------------------------------------------------------- table and names


def test_table_matches_design():
    assert len(data.FILES) == 15
    assert len({f.relpath for f in data.FILES}) == 15
    assert data.MOTION_NAMES == (
        "backflip", "cartwheel", "crawl", "dance_a", "jog", "jump",
        "roll", "run", "sideflip", "spinkick", "walk", "zombie_walk",
    )  # fmt: skip
    walk = next(f for f in data.FILES if f.relpath == "motions/humanoid3d_walk.txt")
    assert walk.upstream_path == "data/motions/humanoid3d_walk.txt"
    assert walk.url == (
        "https://raw.githubusercontent.com/xbpeng/DeepMimic/"
        "1f915c52fcd4b95b5f5f15b759ae91bd81e9a801/data/motions/humanoid3d_walk.txt"
    )


@needs_shared
def test_table_matches_shared_source_md():
    text = (SHARED / "SOURCE.md").read_text()
    for f in data.FILES:
        assert f"| {f.relpath} | {f.sha256} |" in text


# ----------------------------------------------------------------------------- data dir precedence


def test_default_cache_dir(monkeypatch, tmp_path):
    assert data.default_cache_dir() == tmp_path / "xdg" / "mimicbench" / "deepmimic"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.default_cache_dir() == Path.home() / ".cache" / "mimicbench" / "deepmimic"
    assert data.resolve_data_dir() == data.default_cache_dir()  # need not exist yet


def test_argument_beats_env_beats_cache(monkeypatch, tmp_path):
    arg_dir, env_dir = tmp_path / "arg", tmp_path / "env"
    arg_dir.mkdir()
    env_dir.mkdir()
    monkeypatch.setenv(data.DATA_ENV_VAR, str(env_dir))
    assert data.resolve_data_dir(arg_dir) == arg_dir
    assert data.resolve_data_dir(str(arg_dir)) == arg_dir
    assert data.resolve_data_dir() == env_dir
    monkeypatch.delenv(data.DATA_ENV_VAR)
    assert data.resolve_data_dir() == data.default_cache_dir()


def test_missing_explicit_dirs_name_their_source(monkeypatch, tmp_path):
    with pytest.raises(DataError, match=r"nope.*argument"):
        data.resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "nada"))
    with pytest.raises(DataError, match=r"nada.*MIMICBENCH_DATA"):
        data.resolve_data_dir()


# ----------------------------------------------------------------------------- resolving files


def test_resolve_names(tmp_path, monkeypatch):
    root = _fake_data_dir(tmp_path / "d")
    walk = root / "motions/humanoid3d_walk.txt"
    assert data.resolve_motion_file("walk", root) == walk
    assert data.resolve_motion_file("humanoid3d_walk", root) == walk
    assert data.resolve_motion_file("humanoid3d_walk.txt", root) == walk
    monkeypatch.setenv(data.DATA_ENV_VAR, str(root))
    for name in data.MOTION_NAMES:
        assert data.resolve_motion_file(name).is_file()
    assert data.resolve_character_file() == root / "characters/humanoid3d.txt"
    assert data.resolve_controller_file() == root / "controllers/humanoid3d_ctrl.txt"
    assert data.resolve_controller_file("humanoid3d_phase_rot_ctrl") == root / "controllers/humanoid3d_phase_rot_ctrl.txt"


def test_path_passthrough(tmp_path):
    clip = tmp_path / "my_clip.txt"
    clip.write_text("{}")
    assert data.resolve_motion_file(clip) == clip
    assert data.resolve_motion_file(str(clip)) == clip
    assert data.resolve_character_file(clip) == clip
    assert data.resolve_controller_file(clip) == clip
    with pytest.raises(DataError, match="does not exist"):
        data.resolve_motion_file(tmp_path / "absent.txt")


def test_unknown_clip_lists_names(tmp_path):
    with pytest.raises(DataError) as e:
        data.resolve_motion_file("moonwalk", _fake_data_dir(tmp_path))
    msg = str(e.value)
    assert "moonwalk" in msg
    for name in data.MOTION_NAMES:
        assert name in msg
    with pytest.raises(DataError, match="humanoid3d"):
        data.resolve_character_file("robot")
    with pytest.raises(DataError, match="humanoid3d_ctrl"):
        data.resolve_controller_file("robot_ctrl")


def test_known_clip_missing_says_fetch(tmp_path):
    root = _fake_data_dir(tmp_path, ["motions/humanoid3d_run.txt"])
    with pytest.raises(DataError) as e:
        data.resolve_motion_file("walk", root)
    msg = str(e.value)
    assert "python run_benchmark.py fetch" in msg and "MIMICBENCH_DATA" in msg and str(root) in msg
    with pytest.raises(DataError, match="fetch"):
        data.resolve_character_file()  # default cache dir, empty


# ----------------------------------------------------------------------------- verify and fetch


@needs_shared
def test_verify_shared_dir_is_clean():
    assert data.verify(SHARED) == []


def test_verify_reports_missing_and_bad(tmp_path):
    root = _fake_data_dir(tmp_path, ["motions/humanoid3d_walk.txt"])
    problems = data.verify(root)
    assert len(problems) == 15
    assert any("bad sha256" in p and "humanoid3d_walk.txt" in p for p in problems)
    assert sum(p.startswith("missing") for p in problems) == 14


@needs_shared
def test_fetch_with_fake_opener(tmp_path):
    opener = _serving(SHARED)
    dest = tmp_path / "dest"
    msgs: list[str] = []
    assert data.fetch(dest, progress=msgs.append, opener=opener) == dest
    assert len(opener.calls) == 15
    assert data.verify(dest) == []
    assert "MIT License" in (dest / "LICENSE").read_text()
    assert data.COMMIT in (dest / "SOURCE.md").read_text()
    assert not list(dest.rglob("*.part"))
    assert data.resolve_motion_file("backflip", dest) == dest / "motions/humanoid3d_backflip.txt"

    # Second run skips files already present with the right hash; a corrupted one is re-downloaded.
    (dest / "motions/humanoid3d_jog.txt").write_text("corrupt")
    data.fetch(dest, progress=None, opener=opener)
    assert opener.calls[15:] == [f.url for f in data.FILES if f.relpath == "motions/humanoid3d_jog.txt"]
    assert data.verify(dest) == []
    data.fetch(dest, force=True, progress=None, opener=opener)
    assert len(opener.calls) == 16 + 15


@needs_shared
def test_fetch_default_dest_is_cache(tmp_path):
    assert data.fetch(progress=None, opener=_serving(SHARED)) == data.default_cache_dir()
    assert data.verify() == []


@needs_shared
def test_fetch_wrong_bytes_raises_and_leaves_nothing(tmp_path):
    bad = "motions/humanoid3d_walk.txt"
    opener = _serving(SHARED, mutate=lambda rel, b: b + b"tampered" if rel == bad else b)
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as e:
        data.fetch(dest, progress=None, opener=opener)
    msg = str(e.value)
    expected = next(f.sha256 for f in data.FILES if f.relpath == bad)
    assert bad in msg and expected in msg and "got" in msg
    assert not (dest / bad).exists()
    assert not list(dest.rglob("*.part"))  # no temp file left either
    assert (dest / "motions/humanoid3d_backflip.txt").is_file()  # earlier good files are kept


def test_fetch_offline_message(tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    dest = tmp_path / "dest"
    with pytest.raises(DataError) as e:
        data.fetch(dest, progress=None, opener=offline)
    msg = str(e.value)
    assert "offline" in msg and "--data-dir" in msg and "MIMICBENCH_DATA" in msg
    assert not [p for p in dest.rglob("*") if p.is_file()]


def test_fetch_http_error_message(tmp_path):
    def not_found(url, timeout=None):
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)

    with pytest.raises(DataError, match=r"HTTP 404.*--data-dir"):
        data.fetch(tmp_path, progress=None, opener=not_found)


@needs_shared
def test_cli_verify(capsys, tmp_path):
    assert data.main(["verify", "--data-dir", str(SHARED)]) == 0
    assert data.main(["verify", "--data-dir", str(tmp_path)]) == 1
    assert data.main(["verify", "--data-dir", str(tmp_path / "absent")]) == 1
    assert "does not exist" in capsys.readouterr().err
