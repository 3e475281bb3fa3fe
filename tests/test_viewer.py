"""Rollouts and how they are shown: the recorder and its file, the HTML viewer (parsed back, and loaded in a
headless Chromium when one is installed), the report's GIF and strip renderer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.rollout_file import FIELDS, ROLLOUT_FILE, RolloutError, load_rollout, mean_pose_error, save_rollout
from report.render import render_gif, render_strip
from report.viewer import VIEWER_FILE, main as view_main, write_viewer

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")

# humanoid3d's bodies standing at the origin (DeepMimic order, z up, metres), from the synthetic clip's frame 0.
BODY_NAMES = ("root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
              "right_wrist", "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow", "left_wrist")
BODY_PARENT = (-1, 0, 1, 0, 3, 4, 1, 6, 7, 0, 9, 10, 1, 12, 13)
STANDING = np.array([
    [0.0, 0.0, 0.86], [0.0, 0.0, 1.10], [0.0, 0.0, 1.32], [0.0, -0.09, 0.86], [0.03, -0.09, 0.44],
    [0.0, -0.10, 0.03], [0.0, -0.19, 1.34], [0.0, -0.24, 1.07], [0.0, -0.28, 0.81], [0.0, 0.08, 0.86],
    [0.03, 0.08, 0.44], [0.0, 0.08, 0.03], [0.0, 0.17, 1.34], [0.0, 0.22, 1.07], [0.0, 0.26, 0.81],
])


def synthetic_rollout(frames: int = 24) -> dict[str, np.ndarray]:
    """A reference that walks forward swinging its arms, and a policy that lags it and sinks; no JAX."""
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    swing = np.zeros((1, len(BODY_NAMES), 3))
    swing[0, [7, 8], 0], swing[0, [13, 14], 0] = (0.15, 0.3), (-0.15, -0.3)
    ref = STANDING[None] + np.array([0.04, 0.0, 0.0]) * t + np.sin(t / 4) * swing
    drift = np.clip(t / frames, 0, 1) * np.array([-0.3, 0.1, -0.25])
    sim = ref + drift
    sim[:, :, 2] = np.maximum(sim[:, :, 2], 0.02)
    rot = np.zeros((frames, len(BODY_NAMES), 4))
    rot[..., 0] = 1.0
    root_relative = lambda p: p[:, 1:] - p[:, :1]  # noqa: E731
    pose_error = np.linalg.norm(root_relative(sim) - root_relative(ref), axis=-1).mean(axis=1)
    return {
        "sim_pos": sim.astype(np.float32),
        "sim_rot": rot.astype(np.float16),
        "ref_pos": ref.astype(np.float32),
        "ref_rot": rot.astype(np.float16),
        "pose_error": pose_error.astype(np.float32),
        "fall": (t[:, 0, 0] > frames * 0.75),
        "body_names": np.array(BODY_NAMES),
        "body_parent": np.array(BODY_PARENT, np.int16),
        "dt": np.float64(1 / 30),
    }


def assert_same_rollout(a: dict, b: dict) -> None:
    assert set(a) == set(b) == set(FIELDS)
    for name in FIELDS:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# ------------------------------------------------------------------------------------------ the file


def test_save_load_round_trip(tmp_path):
    rollout = synthetic_rollout(61)
    run_dir = tmp_path / "smoke" / "synthetic" / "diffmimic" / "seed_0"
    path = save_rollout(run_dir, rollout)  # a run directory gets its rollout.npz
    assert path == run_dir / ROLLOUT_FILE
    assert_same_rollout(load_rollout(run_dir), rollout)
    assert_same_rollout(load_rollout(path), rollout)
    assert sorted(p.name for p in run_dir.iterdir()) == [ROLLOUT_FILE]  # no temp file left behind
    assert path.stat().st_size < 60_000  # committable: tens of KB for a 60-frame episode
    assert mean_pose_error(rollout) == pytest.approx(float(rollout["pose_error"][1:].mean()))

    # Other dtypes are stored in the file's own (float64 positions, 0/1 floats for falls).
    loose = {**rollout, "sim_pos": rollout["sim_pos"].astype(np.float64), "fall": rollout["fall"].astype(np.float32),
             "body_parent": rollout["body_parent"].astype(np.int64)}
    save_rollout(path, loose)
    assert_same_rollout(load_rollout(path), rollout)


def _write_npz(path: Path, arrays: dict) -> Path:
    np.savez_compressed(path, **arrays)
    return path


@pytest.mark.parametrize("damage, message", [
    ("missing", "no rollout recorded"),
    ("truncated", "truncated or damaged"),
    ("flipped", "not a readable rollout archive"),
    ("empty", "truncated or damaged"),
    ("no_fall", r"missing arrays \['fall'\]"),
    ("short_ref", r"ref_pos has shape \(9, 15, 3\), expected \(10, 15, 3\)"),
    ("nan", r"sim_pos has a non-finite value at index \(4, 2, 1\)"),
    ("bad_parent", "body_parent"),
    ("text_error", "pose_error must be numeric"),
])
def test_load_rejects_damaged_files_naming_file_and_problem(tmp_path, damage, message):
    rollout = synthetic_rollout(10)
    path = tmp_path / ROLLOUT_FILE
    if damage != "missing":
        save_rollout(path, rollout)
    data = path.read_bytes() if path.exists() else b""
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":  # the zip directory is intact, a compressed member is not
        damaged = bytearray(data)
        for offset in range(200, 260):
            damaged[offset] ^= 0xFF
        path.write_bytes(bytes(damaged))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "no_fall":
        _write_npz(path, {k: v for k, v in rollout.items() if k != "fall"})
    elif damage == "short_ref":
        _write_npz(path, {**rollout, "ref_pos": rollout["ref_pos"][:9]})
    elif damage == "nan":
        sim_pos = rollout["sim_pos"].copy()
        sim_pos[4, 2, 1] = np.nan
        _write_npz(path, {**rollout, "sim_pos": sim_pos})
    elif damage == "bad_parent":
        _write_npz(path, {**rollout, "body_parent": np.arange(15, dtype=np.int16)})  # every body its own parent
    elif damage == "text_error":
        _write_npz(path, {**rollout, "pose_error": np.array(["x"] * 10)})
    if damage == "flipped":
        assert zipfile.is_zipfile(path)
    with pytest.raises(RolloutError, match=message) as error:
        load_rollout(path)
    assert str(path) in str(error.value)
    with pytest.raises(RolloutError):
        save_rollout(tmp_path / "other.npz", {**rollout, "pose_error": -rollout["pose_error"] - 1})


@pytest.fixture(scope="module")
def recorded():
    """One real 6-frame episode of the zero-action policy on the embedded clip (about 10 s of compiling)."""
    import jax
    import jax.numpy as jnp

    import envs
    from benchmarks.evaluator import Horizons, make_evaluate
    from benchmarks.rollouts import record_rollout

    env = envs.make_env("synthetic", envs.MimicConfig(episode_length=6, random_start=False, replay="none"))
    act = lambda obs, key: jnp.zeros(env.action_size)  # noqa: E731
    rollout = record_rollout(env, act, 6, jax.random.PRNGKey(0))
    horizons = Horizons(cycle_frames=6, long_frames=None)
    evaluation = jax.jit(make_evaluate(env, lambda state: act, horizons))(None, jax.random.PRNGKey(0))
    return env, rollout, jax.device_get(evaluation)


def test_record_rollout_of_a_real_episode(recorded, tmp_path):
    env, rollout, evaluation = recorded
    bodies = len(env.model.body_names)
    assert rollout["sim_pos"].shape == rollout["ref_pos"].shape == (7, bodies, 3)
    assert rollout["sim_rot"].shape == (7, bodies, 4) and rollout["sim_rot"].dtype == np.float16
    assert list(rollout["body_names"]) == list(env.model.body_names)
    np.testing.assert_array_equal(rollout["body_parent"], env.model.body_parent)
    assert rollout["dt"] == pytest.approx(env.reference.dt)
    # Frame 0 is the reset state: the reference pose itself; the reference follows the clip frame by frame.
    assert rollout["pose_error"][0] == 0.0
    np.testing.assert_allclose(rollout["sim_pos"][0], rollout["ref_pos"][0], atol=1e-4)
    np.testing.assert_allclose(rollout["ref_pos"], np.asarray(env.reference.bodies.pos[:7]), atol=1e-6)
    norms = np.linalg.norm(rollout["sim_rot"].astype(np.float32), axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)
    # The same episode as the evaluator's: the recorded pose errors average to its number.
    assert mean_pose_error(rollout) == pytest.approx(float(evaluation["pose_error_cycle"]), rel=1e-5)
    assert bool(rollout["fall"].any()) == bool(evaluation["fall_rate_cycle"] > 0)
    assert 0.0 < rollout["pose_error"][1:].min()

    path = save_rollout(tmp_path, rollout)
    assert_same_rollout(load_rollout(path), rollout)
    assert path.stat().st_size < 10_000


def test_fall_contacts_rebuild_the_links_and_measure_the_nearest_fall_body(recorded, tmp_path, capsys):
    import dataclasses
    import json

    import jax
    import jax.numpy as jnp
    from brax import math

    from benchmarks.fall_contacts import link_transforms, main, nearest_fall_body

    env, rollout, _ = recorded
    model = env.model
    # The reference's link transforms come back from its recorded bodies (half-precision orientations).
    x = link_transforms(model, rollout["ref_pos"], rollout["ref_rot"])
    np.testing.assert_allclose(np.asarray(x.pos), np.asarray(env.reference.link_x.pos[:7]), atol=2e-3)
    # A reference pose lifted so that its lowest fall body is 3 mm above the floor, passed through the bodies the
    # rollout file would hold: 3 mm, found on the body that was lowest.
    pose = jax.tree.map(lambda a: a[3], env.reference.link_x)
    dist, body = nearest_fall_body(env, jax.tree.map(lambda a: a[None], pose))
    pose = pose.replace(pos=pose.pos.at[:, 2].add(0.003 - dist[0]))
    rot = pose.rot[model.body_link]
    body_pos = pose.pos[model.body_link] + jax.vmap(math.rotate)(jnp.asarray(model.body_offset), rot)
    lifted, lifted_body = nearest_fall_body(env, link_transforms(model, body_pos[None], np.asarray(rot, np.float16)[None]))
    assert lifted[0] == pytest.approx(0.003, abs=3e-4) and lifted_body == body and body[0] in env.fall_contact_bodies
    # The recorded episode: its fall flags are the env's rule applied to the rebuilt links.
    dist, _ = nearest_fall_body(env, link_transforms(model, rollout["sim_pos"], rollout["sim_rot"]))
    np.testing.assert_array_equal(dist[1:] <= env.config.fall_contact_distance, rollout["fall"][1:])

    run = tmp_path / "run"
    save_rollout(run, rollout)
    assert main([str(run)]) == 2
    assert "manifest.json: missing" in capsys.readouterr().err
    env_config = dataclasses.asdict(env.config)
    (run / "manifest.json").write_text(json.dumps({"clip": "synthetic", "config": {"env": env_config}}))
    assert main([str(run), "--distance", "10"]) == 0  # every frame but the reset one is within 10 m of the floor
    out = capsys.readouterr().out
    assert "fall bodies root, chest, neck" in out and "within 10000 mm of the floor: 6 frames" in out
    # Frame 3 sunk 2 m, every body under the floor: the one fall, 3 control steps (0.10 s) into the episode.
    sunk = {**rollout, "sim_pos": rollout["sim_pos"].copy()}
    sunk["sim_pos"][3, :, 2] -= 2.0
    save_rollout(run, sunk)
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "a fall body within 1 mm of the floor: 1 frames, the first at 0.10 s" in out
    listed = out.strip().splitlines()[-1].split()
    assert listed[:2] == ["0.10", "s"] and listed[2] in env.fall_contact_bodies and float(listed[3]) < -500


def test_frames_after_a_blow_up_are_dropped():
    from benchmarks.rollouts import finite_frames

    rollout = synthetic_rollout(10)
    assert finite_frames(rollout) == 10
    rollout["sim_pos"][7, 3, 2] = 3e5  # an exploding spring simulation
    assert finite_frames(rollout) == 7
    rollout["pose_error"][4] = np.nan
    assert finite_frames(rollout) == 4
    rollout["sim_rot"][0, 0, 0] = np.inf
    assert finite_frames(rollout) == 1  # the reset frame is always kept


# ------------------------------------------------------------------------------------------ the page


def embedded_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="rollout-data">(.*?)</script>', page, re.S)
    assert match, "rollout JSON not embedded"
    return json.loads(match.group(1))


def test_viewer_page_embeds_the_rollout(tmp_path):
    rollout = synthetic_rollout(30)
    title = "smoke / walk </script><b>&"
    path = write_viewer(rollout, tmp_path / "sub" / "viewer.html", title)
    page = path.read_text()
    assert path.stat().st_size < 150_000
    data = embedded_data(page)  # a title holding "</script>" must not end the data block early
    assert data["title"] == title and "<title>smoke / walk &lt;/script&gt;&lt;b&gt;&amp;</title>" in page
    for name in ("sim_pos", "ref_pos"):
        np.testing.assert_allclose(np.array(data[name]), rollout[name], atol=5e-4 + 1e-6)
    for name in ("sim_rot", "ref_rot"):
        np.testing.assert_allclose(np.array(data[name]), rollout[name].astype(np.float64), atol=5e-4 + 1e-6)
    np.testing.assert_allclose(data["pose_error"], rollout["pose_error"], atol=5e-5 + 1e-7)
    assert data["fall"] == rollout["fall"].astype(int).tolist()
    assert data["body_names"] == list(BODY_NAMES) and data["body_parent"] == list(BODY_PARENT)
    assert data["dt"] == pytest.approx(1 / 30) and data["quality_bar"] == 0.15
    assert data["head"]["body"] == BODY_NAMES.index("neck")
    assert np.array(data["camera_track"]).shape == (30, 2)
    # Self-contained: no external script, stylesheet or font, nothing fetched at view time.
    assert "http://" not in page and "https://" not in page and "<script src" not in page and "<link" not in page


def test_view_cli(tmp_path, capsys):
    run_dir = tmp_path / "results" / "smoke" / "synthetic" / "ppo" / "seed_3"
    save_rollout(run_dir, synthetic_rollout(12))
    assert view_main([str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / VIEWER_FILE)
    assert embedded_data((run_dir / VIEWER_FILE).read_text())["title"] == "smoke / synthetic / ppo / seed 3"

    out = tmp_path / "elsewhere" / "page.html"
    assert view_main([str(run_dir / ROLLOUT_FILE), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out) and out.exists()

    empty_run = tmp_path / "results" / "smoke" / "synthetic" / "ppo" / "seed_4"
    empty_run.mkdir()
    assert view_main([str(empty_run)]) == 2
    error = capsys.readouterr().err
    assert "no rollout recorded" in error and str(empty_run / ROLLOUT_FILE) in error and "--no-resume" in error


def test_viewer_and_renderer_do_not_import_jax():
    probe = (
        "import sys, report.viewer, report.render, report.motion, benchmarks.rollout_file; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'brax', 'envs', 'methods')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True)


# -------------------------------------------------------------------------------------- the pictures


def colour_counts(image: Image.Image) -> tuple[int, int, int]:
    """(distinct colours, policy-blue pixels, reference-orange pixels)."""
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    red, blue = pixels[:, 0], pixels[:, 2]
    return len(np.unique(pixels, axis=0)), int(((blue - red) > 80).sum()), int(((red - blue) > 60).sum())


def test_render_gif_and_strip(tmp_path):
    rollout = synthetic_rollout(31)
    gif = render_gif(rollout, tmp_path / "motion.gif", every=2)
    assert 5_000 < gif.stat().st_size < 1_000_000
    with Image.open(gif) as image:
        assert image.size == (320, 240) and image.n_frames == 16 and image.info["loop"] == 0
        assert 60 <= image.info["duration"] <= 70  # 15 fps (GIF delays are in hundredths of a second)
        image.seek(10)
        distinct, blue, orange = colour_counts(image)
    assert distinct >= 8 and blue > 150 and orange > 100

    strip = render_strip(rollout, tmp_path / "strip.png", n=6)
    with Image.open(strip) as image:
        assert image.size[0] > 5 * image.size[1] / 2  # six panels side by side
        distinct, blue, orange = colour_counts(image)
    assert distinct >= 20 and blue > 600 and orange > 300


# ----------------------------------------------------------------------------------- a real browser


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=800,600"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120)


def page_status(dom: str) -> str:
    match = re.search(r'<div id="viewer-status"[^>]*>([^<]*)<', dom)
    assert match, "no status line in the DOM"
    return match.group(1)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs /usr/bin/chromium (apt-get install chromium)")
def test_viewer_in_headless_chromium(tmp_path):
    page = write_viewer(synthetic_rollout(30), tmp_path / "viewer.html", "smoke / walk / diffmimic / seed 0")
    url = page.resolve().as_uri()

    dom = chromium("--dump-dom", url, profile=tmp_path / "profile").stdout
    assert page_status(dom) == "ready", page_status(dom)

    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", url + "#frame=20&side", profile=tmp_path / "profile")
    with Image.open(shot) as image:
        assert image.size == (800, 600)
        distinct, blue, orange = colour_counts(image)
    assert distinct >= 30, distinct  # grid, two characters, text: not a blank page
    assert blue > 1000 and orange > 500, (blue, orange)  # the policy's character and the reference ghost

    # The check can fail: a page whose script throws reports it in the status line.
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace('"sim_pos":', '"sim_positions":', 1))
    status = page_status(chromium("--dump-dom", broken.resolve().as_uri(), profile=tmp_path / "profile").stdout)
    assert status.startswith("error:"), status
