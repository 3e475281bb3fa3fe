"""DiffMimic's and ASE's data: the pinned file tables, the folder each is read from, and the licence-gated, sha256-checked
fetch, tested offline with fake openers."""

from __future__ import annotations

import hashlib
import io
import re
import urllib.error

import pytest

import run_benchmark
from envs import licensed_data
from envs.data import DataError
from envs.licensed_data import SOURCES, fetch, resolve_clip_file, resolve_source_dir, verify


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's variables or writes to the real cache."""
    for source in SOURCES.values():
        monkeypatch.delenv(source.env_var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _source_md_rows(folder) -> dict[str, str]:
    text = (folder / "SOURCE.md").read_text()
    return dict(re.findall(r"^\| (\S+) \| ([0-9a-f]{64}) \|$", text, re.M))


@pytest.mark.parametrize("name", ["diffmimic", "ase"])
def test_tables_are_the_source_md_hashes(name, diffmimic_data_dir, ase_data_dir):
    folder = {"diffmimic": diffmimic_data_dir, "ase": ase_data_dir}[name]
    table = dict(SOURCES[name].table)
    licence = {"diffmimic": "LICENSE.md", "ase": "LICENSE.txt"}[name]
    assert {rel: sha for rel, sha in table.items() if rel != licence} == _source_md_rows(folder)
    assert verify(name, folder) == []  # every shared file, licence included, has the pinned bytes


def test_urls_point_at_the_pinned_commits():
    diffmimic = {f.relpath: f.url for f in SOURCES["diffmimic"].files}
    assert diffmimic["demo_amass/75_09_stageii.npy"] == (
        "https://raw.githubusercontent.com/jiawei-ren/diffmimic/d0db48a4af12d8c73924d88973db69a4d104595c/"
        "data/demo_amass/75_09_stageii.npy")
    assert diffmimic["LICENSE.md"].endswith("d0db48a4af12d8c73924d88973db69a4d104595c/LICENSE.md")
    ase = {f.relpath: f.url for f in SOURCES["ase"].files}
    base = "https://raw.githubusercontent.com/nv-tlabs/ASE/28952a3d3a42434e74a9251a14725fa4e2627b57/"
    assert ase["mjcf/amp_humanoid_sword_shield.xml"] == base + "ase/data/assets/mjcf/amp_humanoid_sword_shield.xml"
    assert ase["motions/amp_humanoid_walk.npy"] == base + "ase/data/motions/amp_humanoid_walk.npy"
    assert ase["LICENSE.txt"] == base + "LICENSE.txt"


def _serving(source: str, contents: dict[str, bytes]):
    """A fake ``urlopen`` serving ``contents`` by relative path at the source's urls."""
    by_url = {f.url: f.relpath for f in SOURCES[source].files}
    calls = []

    def opener(url, timeout=None):
        calls.append(url)
        return io.BytesIO(contents[by_url[url]])

    opener.calls = calls
    return opener


def _fake_source(monkeypatch, source: str) -> dict[str, bytes]:
    """Replace the source's table by three small files whose hashes are those of the bytes served."""
    contents = {"LICENSE.md": b"licence", "demo_a/one.npy": b"one", "demo_b/two.npy": b"two"}
    table = tuple((rel, hashlib.sha256(data).hexdigest()) for rel, data in contents.items())
    monkeypatch.setitem(SOURCES, source, licensed_data.Source(**{**SOURCES[source].__dict__, "table": table}))
    return contents


def test_fetch_refuses_without_accepting_the_licence(tmp_path):
    with pytest.raises(DataError, match=r"the diffmimic data \(jiawei-ren/diffmimic\) is licensed under the S-Lab "
                                        r"License 1\.0 \(non-commercial use only\); fetching it needs --accept-licence"):
        fetch("diffmimic", tmp_path, opener=_serving("diffmimic", {}))
    with pytest.raises(DataError, match=r"NVIDIA Source Code License and Reallusion's licence .*non-commercial"):
        fetch("ase", tmp_path)
    assert not any(tmp_path.iterdir())


def test_fetch_downloads_checks_and_skips(monkeypatch, tmp_path):
    contents = _fake_source(monkeypatch, "diffmimic")
    opener = _serving("diffmimic", contents)
    root = fetch("diffmimic", accept_licence=True, opener=opener, progress=None)
    assert root == tmp_path / "xdg" / "mimicbench" / "diffmimic"  # the cache by default
    assert (root / "demo_b" / "two.npy").read_bytes() == b"two"
    assert len(opener.calls) == 3 and verify("diffmimic", root) == []
    fetch("diffmimic", accept_licence=True, opener=opener, progress=None)
    assert len(opener.calls) == 3  # present with the right hash: not downloaded again
    fetch("diffmimic", accept_licence=True, opener=opener, progress=None, force=True)
    assert len(opener.calls) == 6


def test_fetch_refuses_a_corrupt_download(monkeypatch, tmp_path):
    contents = _fake_source(monkeypatch, "ase")
    contents["demo_b/two.npy"] = b"tampered"
    with pytest.raises(DataError, match=r"sha256 mismatch for demo_b/two\.npy downloaded from "
                                        r"https://raw\.githubusercontent\.com/nv-tlabs/ASE/28952a3.*the file was not saved"):
        fetch("ase", tmp_path, accept_licence=True, opener=_serving("ase", contents), progress=None)
    assert not (tmp_path / "demo_b" / "two.npy").exists()
    assert not list(tmp_path.rglob("*.part"))


def test_fetch_offline_says_how_to_work_offline(monkeypatch, tmp_path):
    _fake_source(monkeypatch, "diffmimic")

    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    with pytest.raises(DataError, match=r"appears to be offline .* set MIMICBENCH_DIFFMIMIC_DATA to a local copy"):
        fetch("diffmimic", tmp_path, accept_licence=True, opener=offline, progress=None)


def test_folder_comes_from_the_environment_variable(monkeypatch, tmp_path):
    assert resolve_source_dir("ase") == tmp_path / "xdg" / "mimicbench" / "ase"
    monkeypatch.setenv("MIMICBENCH_ASE_DATA", str(tmp_path))
    assert resolve_source_dir("ase") == tmp_path
    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(tmp_path / "typo"))
    with pytest.raises(DataError, match=r"typo \(from environment variable MIMICBENCH_DIFFMIMIC_DATA\) does not exist"):
        resolve_clip_file("75_09_stageii")
    with pytest.raises(DataError, match="unknown data source 'amass': valid sources are diffmimic, ase"):
        resolve_source_dir("amass")


def test_cli_verify_checks_the_named_folder(monkeypatch, tmp_path, capsys):
    contents = _fake_source(monkeypatch, "diffmimic")
    root = fetch("diffmimic", tmp_path / "copy", accept_licence=True, opener=_serving("diffmimic", contents),
                 progress=None)
    assert licensed_data.main(["verify", "--source", "diffmimic", "--data-dir", str(root)]) == 0
    assert "files present with the right sha256" in capsys.readouterr().out
    (root / "demo_b" / "two.npy").write_bytes(b"tampered")
    assert licensed_data.main(["verify", "--source", "diffmimic", "--data-dir", str(root)]) == 1
    assert f"bad sha256: {root / 'demo_b' / 'two.npy'}" in capsys.readouterr().err


def test_cli_fetch_names_the_licence(tmp_path, capsys):
    assert run_benchmark.main(["fetch", "--source", "ase", "--dest", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the ase data (nv-tlabs/ASE) is licensed under the NVIDIA Source Code License")
    assert "--accept-licence" in err and not any(tmp_path.iterdir())


def test_ray_workers_get_the_data_folders(monkeypatch, tmp_path):
    from benchmarks.executors import _worker_env

    monkeypatch.setenv("MIMICBENCH_DIFFMIMIC_DATA", str(tmp_path / "diffmimic"))
    monkeypatch.setenv("MIMICBENCH_ASE_DATA", str(tmp_path / "ase"))
    env = _worker_env(0)
    assert env["MIMICBENCH_DIFFMIMIC_DATA"] == str(tmp_path / "diffmimic")
    assert env["MIMICBENCH_ASE_DATA"] == str(tmp_path / "ase")
