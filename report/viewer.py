"""An interactive motion viewer: one self-contained HTML page per rollout, policy against reference.

``write_viewer(rollout, path, title)`` embeds the rollout as JSON in a page whose own ~350 lines of canvas-2D code
draw it: the simulated character solid, drawn with its own shapes (the capsules, boxes and spheres of its MJCF,
read by ``report/geometry.py`` and placed on the recorded body transforms; bones between bodies only for a
character without an MJCF), the reference as a translucent ghost (overlaid or side by side), a ground grid, a perspective camera
that follows the two roots and orbits by dragging, play/pause, a scrubbing slider, the frame and time, and the
pose error per frame as text and as a sparkline with the 0.15 m bar. No network access, no third-party script.

``python -m report.viewer RUN_DIR`` (and ``python run_benchmark.py view RUN_DIR``) writes ``RUN_DIR/viewer.html``.
Only numpy here: viewing a run never imports JAX.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import webbrowser
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from benchmarks.results_store import RunKey, write_bytes_atomic
from benchmarks.rollout_file import RolloutError, load_rollout, mean_pose_error, rollout_path
from report.geometry import geoms_json
from report.tables import QUALITY_BAR

VIEWER_FILE = "viewer.html"
# humanoid3d's head: a sphere on the neck link (envs/assets/humanoid3d.xml, geom "neck"); metres, neck frame.
HEAD_BODY, HEAD_OFFSET, HEAD_RADIUS = "neck", (0.0, 0.0, 0.175), 0.1025


def camera_track(rollout: Mapping[str, np.ndarray], window_s: float = 1.0) -> np.ndarray:
    """[T, 2] horizontal point the camera looks at: the midpoint of the two roots, averaged over ``window_s``
    so that the floor glides with locomotion instead of shaking with every sway of the hips."""
    midpoint = 0.5 * (np.asarray(rollout["sim_pos"], np.float64)[:, 0, :2] + np.asarray(rollout["ref_pos"], np.float64)[:, 0, :2])
    half = max(0, int(round(window_s / float(rollout["dt"]) / 2)))
    padded = np.pad(midpoint, ((half, half), (0, 0)), mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.stack([np.convolve(padded[:, axis], kernel, mode="valid") for axis in range(2)], axis=1)


def rollout_json(rollout: Mapping[str, np.ndarray], title: str) -> dict:
    """The page's data: positions to 1 mm, quaternions to 1e-3 (plenty for drawing), pose errors to 0.1 mm."""

    def rounded(name: str, decimals: int) -> list:
        return np.round(np.asarray(rollout[name], dtype=np.float64), decimals).tolist()

    names = [str(name) for name in rollout["body_names"]]
    return {
        "title": title,
        "dt": float(rollout["dt"]),
        "body_names": names,
        "body_parent": [int(p) for p in rollout["body_parent"]],
        "sim_pos": rounded("sim_pos", 3),
        "sim_rot": rounded("sim_rot", 3),
        "ref_pos": rounded("ref_pos", 3),
        "ref_rot": rounded("ref_rot", 3),
        "pose_error": rounded("pose_error", 4),
        "fall": [int(flag) for flag in np.asarray(rollout["fall"]).astype(bool)],
        "camera_track": np.round(camera_track(rollout), 3).tolist(),
        "mean_pose_error": round(mean_pose_error(rollout), 5),
        "quality_bar": QUALITY_BAR,
        "head": {"body": names.index(HEAD_BODY) if HEAD_BODY in names else -1,
                 "offset": list(HEAD_OFFSET), "radius": HEAD_RADIUS},
        "geoms": geoms_json(names),
    }


def viewer_html(rollout: Mapping[str, np.ndarray], title: str) -> str:
    # "</" inside the JSON would end the <script> element early; "<\/" is the same string to JSON.parse.
    data = json.dumps(rollout_json(rollout, title), separators=(",", ":")).replace("</", "<\\/")
    return (PAGE.replace("__TITLE__", html.escape(title))
            .replace("__SCRIPT__", SCRIPT)
            .replace("__DATA__", data))


def write_viewer(rollout: Mapping[str, np.ndarray], out_path: str | Path, title: str) -> Path:
    """Writes the viewer page for ``rollout`` to ``out_path`` (atomically) and returns the path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_path, viewer_html(rollout, title).encode())
    return out_path


def run_title(run_dir: Path) -> str:
    """``suite / clip / method / seed k`` for a run directory, else the folder's name."""
    try:
        key = RunKey.from_dir(run_dir)
    except ValueError:
        return run_dir.resolve().name or "rollout"
    return f"{key.suite} / {key.clip} / {key.method} / seed {key.seed}"


def main(argv: Sequence[str] | None = None) -> int:
    """``view RUN_DIR_OR_ROLLOUT [--out FILE] [--open]``; returns a process exit code."""
    parser = argparse.ArgumentParser(
        prog="python run_benchmark.py view",
        description="Write (and optionally open) an HTML page that plays a run's recorded evaluation episode: "
                    "the policy's character against the reference motion, with the pose error per frame.",
    )
    parser.add_argument("rollout", type=Path, metavar="RUN_DIR_OR_ROLLOUT",
                        help="a run directory (<out>/<suite>/<clip>/<method>/seed_<k>) or a rollout .npz file")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"HTML file to write (default: {VIEWER_FILE} next to the rollout)")
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")
    args = parser.parse_args(argv)

    source = rollout_path(args.rollout)
    try:
        rollout = load_rollout(source)
    except RolloutError as error:
        hint = ""
        if not source.exists():
            hint = (f"\n  {args.rollout} has no {source.name}: rollouts are recorded when a run finishes "
                    "(runs from before the recorder existed have none; rerun with --no-resume to record one)")
        print(f"error: {error}{hint}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else source.parent / VIEWER_FILE
    path = write_viewer(rollout, out, run_title(source.parent))
    print(path)
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return 0


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; padding: 8px 12px; color: #222;
       background: #fafafa; }
h1 { font-size: 1.05em; margin: 0 0 6px 0; font-weight: 600; }
#stage { position: relative; }
#view { display: block; width: 100%; background: #eef2f6; border: 1px solid #ccd; border-radius: 4px;
        cursor: grab; touch-action: none; }
#hud { position: absolute; left: 10px; top: 8px; font: 13px/1.35 ui-monospace, Menlo, Consolas, monospace;
       background: rgba(255,255,255,.8); padding: 4px 8px; border-radius: 4px; pointer-events: none; }
#legend { position: absolute; right: 10px; top: 8px; font-size: 12px; background: rgba(255,255,255,.8);
          padding: 4px 8px; border-radius: 4px; pointer-events: none; }
.swatch { display: inline-block; width: 18px; height: 5px; border-radius: 2px; vertical-align: middle;
          margin-right: 4px; }
#controls { display: flex; align-items: center; gap: 8px; margin: 6px 0; flex-wrap: wrap; }
#controls button, #controls select { font: inherit; font-size: 13px; padding: 2px 8px; }
#scrub { flex: 1; min-width: 160px; }
#spark { display: block; width: 100%; height: 64px; background: #fff; border: 1px solid #ccd; border-radius: 4px;
         cursor: pointer; }
.good { color: #15803d; } .bad { color: #b91c1c; } .fall { color: #fff; background: #b91c1c; padding: 0 4px;
         border-radius: 3px; }
#viewer-status { font-size: 11px; color: #888; margin-top: 4px; } #viewer-status.error { color: #b91c1c; }
</style>
<script>
// First, so that an exception anywhere below is shown on the page (and seen by a headless check).
window.onerror = function (message, source, line) {
  var status = document.getElementById("viewer-status");
  if (status) { status.textContent = "error: " + message + " (line " + line + ")"; status.className = "error"; }
};
</script>
</head><body>
<h1>__TITLE__</h1>
<div id="stage">
  <canvas id="view" width="960" height="540"></canvas>
  <div id="hud"></div>
  <div id="legend"><span class="swatch" style="background:#1d4ed8"></span>policy &nbsp;
    <span class="swatch" style="background:#f97316;opacity:.55"></span>reference</div>
</div>
<div id="controls">
  <button id="play" title="space">pause</button>
  <input id="scrub" type="range" min="0" max="0" step="1" value="0" aria-label="frame">
  <label>speed <select id="speed"><option>0.25</option><option>0.5</option><option selected>1</option>
    <option>2</option></select></label>
  <button id="layout">side by side</button>
  <button id="reset-camera">reset view</button>
</div>
<canvas id="spark" width="960" height="64"></canvas>
<div id="viewer-status">loading</div>
<script type="application/json" id="rollout-data">__DATA__</script>
<script>
__SCRIPT__
</script>
</body></html>
"""

SCRIPT = r"""
"use strict";
const R = JSON.parse(document.getElementById("rollout-data").textContent);
const T = R.sim_pos.length, B = R.body_names.length;
const view = document.getElementById("view"), ctx = view.getContext("2d");
const spark = document.getElementById("spark"), sctx = spark.getContext("2d");
const ghostCanvas = document.createElement("canvas"), gctx = ghostCanvas.getContext("2d");
const shadowCanvas = document.createElement("canvas"), sctxShadow = shadowCanvas.getContext("2d");
const hud = document.getElementById("hud"), scrub = document.getElementById("scrub");
const playButton = document.getElementById("play"), layoutButton = document.getElementById("layout");
const speedSelect = document.getElementById("speed"), statusLine = document.getElementById("viewer-status");

const SIM = {right: "#1e3a8a", left: "#3b82f6", centre: "#1d4ed8", joint: "#0f172a"};
const REF = {right: "#c2410c", left: "#fb923c", centre: "#f97316", joint: "#7c2d12"};
const GHOST_ALPHA = 0.45, BONE_RADIUS = 0.032, JOINT_RADIUS = 0.04, SIDE_GAP = 1.2;  // metres
const FOV = 50 * Math.PI / 180, NEAR = 0.05;
const DEFAULT_CAMERA = {yaw: -60 * Math.PI / 180, pitch: 12 * Math.PI / 180, distance: 4.2};
// The camera height stays fixed (the clip's mean reference root height) so that the floor does not bob.
let rootHeight = 0;
for (let t = 0; t < T; t++) rootHeight += R.ref_pos[t][0][2] / T;

let camera = Object.assign({}, DEFAULT_CAMERA);
let sparkSize = {width: spark.width, height: spark.height};
let frame = 0, playing = true, sideBySide = false, speed = 1, clock = 0, lastTime = null;

// ---------------------------------------------------------------------------------------------- maths
const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const add = (a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const normalize = (a) => scale(a, 1 / Math.hypot(a[0], a[1], a[2]));

function rotate(q, v) {  // quaternion w x y z applied to v
  const w = q[0], u = [q[1], q[2], q[3]];
  const t = scale(cross(u, v), 2);
  return add(add(v, scale(t, w)), cross(u, t));
}

function cameraBasis(target) {
  const cp = Math.cos(camera.pitch);
  const eye = add(target, scale([cp * Math.cos(camera.yaw), cp * Math.sin(camera.yaw), Math.sin(camera.pitch)],
                                camera.distance));
  const forward = normalize(sub(target, eye));
  const right = normalize(cross(forward, [0, 0, 1]));
  const up = cross(right, forward);
  const focal = view.height / (2 * Math.tan(FOV / 2));
  return {eye, forward, right, up, focal};
}

function toCamera(cam, p) {
  const d = sub(p, cam.eye);
  return [dot(d, cam.right), dot(d, cam.up), dot(d, cam.forward)];
}

function toScreen(cam, c) {
  return [view.width / 2 + cam.focal * c[0] / c[2], view.height / 2 - cam.focal * c[1] / c[2]];
}

function clipSegment(a, b) {  // camera-space segment against the near plane; null when wholly behind
  if (a[2] < NEAR && b[2] < NEAR) return null;
  if (a[2] >= NEAR && b[2] >= NEAR) return [a, b];
  const s = (NEAR - a[2]) / (b[2] - a[2]);
  const m = add(a, scale(sub(b, a), s));
  return a[2] < NEAR ? [m, b] : [a, m];
}

// ------------------------------------------------------------------------------------------- drawing
function side(name) {
  return name.startsWith("left") ? "left" : name.startsWith("right") ? "right" : "centre";
}

function bodies(kind, t, offset) {  // world positions of one character at frame t, shifted by offset
  return R[kind + "_pos"][t].map((p) => add(p, offset));
}

function characterItems(cam, pos, rot, palette) {
  const items = R.geoms.length ? geomItems(cam, pos, rot, palette) : boneItems(cam, pos, rot, palette);
  items.sort((a, b) => b.depth - a.depth);  // far to near
  return items;
}

// ----------------------------------------------------------------- the character's own shapes (its MJCF)
const LIGHT = normalize([0.45, -0.35, 0.82]);
const BOX_FACES = [[[0, 4, 6, 2], 0, -1], [[1, 3, 7, 5], 0, 1], [[0, 1, 5, 4], 1, -1], [[2, 6, 7, 3], 1, 1],
                   [[0, 2, 3, 1], 2, -1], [[4, 5, 7, 6], 2, 1]];  // corner indices, outward axis, sign

function shade(hex, k) {  // "#rrggbb" scaled by k (lighter above 1), as an rgb() colour
  const channel = (i) => Math.max(0, Math.min(255, Math.round(parseInt(hex.slice(i, i + 2), 16) * k)));
  return "rgb(" + channel(1) + "," + channel(3) + "," + channel(5) + ")";
}

function placeGeom(geom, pos, rot) {  // body frame -> world, with the body's recorded position and orientation
  const p = pos[geom.body], q = rot[geom.body];
  const world = (v) => add(p, rotate(q, v));
  if (geom.shape === "capsule") return {start: world(geom.start), end: world(geom.end)};
  if (geom.shape === "sphere") return {centre: world(geom.centre)};
  return {centre: world(geom.centre), axes: geom.axes.map((axis) => rotate(q, axis))};
}

function boxCorners(box, halfSizes) {  // index bits (x, y, z) choose the + side of each axis
  const corners = [];
  for (let i = 0; i < 8; i++) {
    let c = box.centre;
    for (let k = 0; k < 3; k++) c = add(c, scale(box.axes[k], (i >> k & 1 ? 1 : -1) * halfSizes[k]));
    corners.push(c);
  }
  return corners;
}

function geomItems(cam, pos, rot, palette) {
  const items = [];
  for (const geom of R.geoms) {
    const colour = palette[side(R.body_names[geom.body])], placed = placeGeom(geom, pos, rot);
    if (geom.shape === "sphere") {
      const c = toCamera(cam, placed.centre);
      if (c[2] <= NEAR) continue;
      items.push({depth: c[2], draw: (g) => {
        const s = toScreen(cam, c), r = geom.radius * cam.focal / c[2];
        const light = g.createRadialGradient(s[0] - 0.35 * r, s[1] - 0.35 * r, 0.1 * r, s[0], s[1], r);
        light.addColorStop(0, shade(colour, 1.45)); light.addColorStop(1, shade(colour, 0.85));
        g.fillStyle = light; g.strokeStyle = palette.joint; g.lineWidth = 1;
        g.beginPath(); g.arc(s[0], s[1], r, 0, 2 * Math.PI); g.fill(); g.stroke();
      }});
    } else if (geom.shape === "capsule") {
      const seg = clipSegment(toCamera(cam, placed.start), toCamera(cam, placed.end));
      if (!seg) continue;
      const depth = (seg[0][2] + seg[1][2]) / 2;
      items.push({depth, draw: (g) => {  // a capsule seen from any side: a thick segment with round ends
        const a = toScreen(cam, seg[0]), b = toScreen(cam, seg[1]), width = 2 * geom.radius * cam.focal / depth;
        g.lineCap = "round";
        for (const [style, w] of [[palette.joint, width + 2], [colour, width], [shade(colour, 1.35), 0.35 * width]]) {
          g.strokeStyle = style; g.lineWidth = Math.max(1, w);
          g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke();
        }
      }});
    } else {
      const corners = boxCorners(placed, geom.half_sizes);
      const seen = corners.map((c) => toCamera(cam, c));
      if (seen.some((c) => c[2] <= NEAR)) continue;
      for (const [face, axis, sign] of BOX_FACES) {
        const normal = scale(placed.axes[axis], sign);
        const centre = scale(face.reduce((sum, i) => add(sum, corners[i]), [0, 0, 0]), 0.25);
        if (dot(normal, sub(cam.eye, centre)) <= 0) continue;  // facing away
        const depth = face.reduce((sum, i) => sum + seen[i][2], 0) / 4;
        const brightness = 0.7 + 0.45 * Math.max(0, dot(normal, LIGHT));
        items.push({depth, draw: (g) => {
          g.fillStyle = shade(colour, brightness); g.strokeStyle = palette.joint; g.lineWidth = 1;
          g.beginPath();
          face.forEach((i, k) => { const s = toScreen(cam, seen[i]); k ? g.lineTo(s[0], s[1]) : g.moveTo(s[0], s[1]); });
          g.closePath(); g.fill(); g.stroke();
        }});
      }
    }
  }
  return items;
}

function hull(points) {  // convex hull of 2D points (monotone chain), counter-clockwise
  const p = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const turn = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [], upper = [];
  for (const q of p) { while (lower.length > 1 && turn(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop(); lower.push(q); }
  for (const q of p.reverse()) { while (upper.length > 1 && turn(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop(); upper.push(q); }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

// ------------------------------------------------------- bones: a character without an MJCF (fallback)
function boneItems(cam, pos, rot, palette) {
  const items = [];
  for (let i = 0; i < B; i++) {
    const parent = R.body_parent[i];
    const colour = palette[side(R.body_names[i])];
    if (parent >= 0) {
      const seg = clipSegment(toCamera(cam, pos[parent]), toCamera(cam, pos[i]));
      if (seg) items.push({depth: (seg[0][2] + seg[1][2]) / 2, draw: (g) => {
        const a = toScreen(cam, seg[0]), b = toScreen(cam, seg[1]);
        g.strokeStyle = colour; g.lineCap = "round";
        g.lineWidth = Math.max(1.5, 2 * BONE_RADIUS * cam.focal / ((seg[0][2] + seg[1][2]) / 2));
        g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke();
      }});
    }
    const c = toCamera(cam, pos[i]);
    if (c[2] > NEAR) items.push({depth: c[2] - 0.01, draw: (g) => {
      const s = toScreen(cam, c);
      g.fillStyle = palette.joint;
      g.beginPath(); g.arc(s[0], s[1], Math.max(1.5, JOINT_RADIUS * cam.focal / c[2]), 0, 2 * Math.PI); g.fill();
    }});
  }
  const head = R.head.body;
  if (head >= 0) {
    const centre = toCamera(cam, add(pos[head], rotate(rot[head], R.head.offset)));
    if (centre[2] > NEAR) items.push({depth: centre[2], draw: (g) => {
      const s = toScreen(cam, centre), radius = R.head.radius * cam.focal / centre[2];
      g.fillStyle = palette.centre; g.strokeStyle = palette.joint; g.lineWidth = 1.5;
      g.beginPath(); g.arc(s[0], s[1], radius, 0, 2 * Math.PI); g.fill(); g.stroke();
    }});
  }
  return items;
}

function drawShadow(g, cam, pos, rot) {  // each shape dropped straight onto the floor, drawn opaque then laid on
  const floor = (p) => toCamera(cam, [p[0], p[1], 0]);
  shadowCanvas.width = view.width; shadowCanvas.height = view.height;
  const s = sctxShadow;
  s.fillStyle = s.strokeStyle = "#0f172a"; s.lineCap = "round";
  const segment = (a, b, radius) => {
    const seg = clipSegment(floor(a), floor(b));
    if (!seg) return;
    const p = toScreen(cam, seg[0]), q = toScreen(cam, seg[1]);
    s.lineWidth = Math.max(1, 2 * radius * cam.focal / ((seg[0][2] + seg[1][2]) / 2));
    s.beginPath(); s.moveTo(p[0], p[1]); s.lineTo(q[0], q[1]); s.stroke();
  };
  if (!R.geoms.length) {
    for (let i = 0; i < B; i++) if (R.body_parent[i] >= 0) segment(pos[R.body_parent[i]], pos[i], 1.25 * BONE_RADIUS);
  }
  for (const geom of R.geoms) {
    const placed = placeGeom(geom, pos, rot);
    if (geom.shape === "capsule") segment(placed.start, placed.end, geom.radius);
    else if (geom.shape === "sphere") segment(placed.centre, placed.centre, geom.radius);
    else {
      const outline = hull(boxCorners(placed, geom.half_sizes).map((c) => [c[0], c[1]]));
      const seen = outline.map((c) => floor([c[0], c[1], 0]));
      if (seen.some((c) => c[2] <= NEAR)) continue;
      s.beginPath();
      seen.forEach((c, k) => { const p = toScreen(cam, c); k ? s.lineTo(p[0], p[1]) : s.moveTo(p[0], p[1]); });
      s.closePath(); s.fill();
    }
  }
  g.globalAlpha = 0.12; g.drawImage(shadowCanvas, 0, 0); g.globalAlpha = 1;
}

function drawGrid(g, cam, target) {
  const extent = 8, cx = Math.round(target[0]), cy = Math.round(target[1]);
  for (let k = -extent; k <= extent; k++) {
    for (const axis of [0, 1]) {
      const fixed = (axis === 0 ? cx : cy) + k, other = axis === 0 ? cy : cx;
      const a = axis === 0 ? [fixed, other - extent, 0] : [other - extent, fixed, 0];
      const b = axis === 0 ? [fixed, other + extent, 0] : [other + extent, fixed, 0];
      const seg = clipSegment(toCamera(cam, a), toCamera(cam, b));
      if (!seg) continue;
      const p = toScreen(cam, seg[0]), q = toScreen(cam, seg[1]);
      g.strokeStyle = fixed === 0 ? "rgba(71, 85, 105, 0.55)" : "rgba(100, 116, 139, 0.25)";
      g.lineWidth = 1;
      g.beginPath(); g.moveTo(p[0], p[1]); g.lineTo(q[0], q[1]); g.stroke();
    }
  }
}

function draw() {
  const t = frame;
  const gap = sideBySide ? scale(cameraBasis([0, 0, 0]).right, SIDE_GAP) : [0, 0, 0];
  const simPos = bodies("sim", t, [0, 0, 0]), refPos = bodies("ref", t, gap);
  const track = R.camera_track[t];
  const target = [track[0] + gap[0] / 2, track[1] + gap[1] / 2, rootHeight];
  const cam = cameraBasis(target);

  ctx.fillStyle = "#eef2f6"; ctx.fillRect(0, 0, view.width, view.height);
  drawGrid(ctx, cam, target);
  drawShadow(ctx, cam, refPos, R.ref_rot[t]);
  drawShadow(ctx, cam, simPos, R.sim_rot[t]);
  // The ghost is drawn opaque off screen and laid on with one alpha, so its own overlaps do not darken.
  gctx.clearRect(0, 0, ghostCanvas.width, ghostCanvas.height);
  for (const item of characterItems(cam, refPos, R.ref_rot[t], REF)) item.draw(gctx);
  ctx.globalAlpha = GHOST_ALPHA; ctx.drawImage(ghostCanvas, 0, 0); ctx.globalAlpha = 1;
  for (const item of characterItems(cam, simPos, R.sim_rot[t], SIM)) item.draw(ctx);

  const error = R.pose_error[t], bar = R.quality_bar;
  hud.innerHTML = "frame " + t + " / " + (T - 1) + " &middot; " + (t * R.dt).toFixed(2) + " s<br>" +
    "pose error <span class='" + (error <= bar ? "good" : "bad") + "'>" + error.toFixed(3) + " m</span>" +
    " (episode mean " + R.mean_pose_error.toFixed(3) + " m, bar " + bar.toFixed(2) + " m)" +
    (R.fall[t] ? " <span class='fall'>fall</span>" : "");
  scrub.value = t;
  drawSpark();
}

function drawSpark() {
  const w = sparkSize.width, h = sparkSize.height, pad = 6;
  const top = Math.max(2 * R.quality_bar, 1.1 * Math.max.apply(null, R.pose_error));
  const x = (t) => pad + (w - 2 * pad) * (T > 1 ? t / (T - 1) : 0.5);
  const y = (e) => h - pad - (h - 2 * pad) * Math.min(e, top) / top;
  sctx.clearRect(0, 0, w, h);
  sctx.fillStyle = "rgba(185, 28, 28, 0.12)";
  for (let t = 0; t < T; t++) if (R.fall[t]) sctx.fillRect(x(t) - (w - 2 * pad) / (2 * Math.max(T - 1, 1)), 0,
                                                          (w - 2 * pad) / Math.max(T - 1, 1), h);
  sctx.setLineDash([5, 4]); sctx.strokeStyle = "#475569"; sctx.lineWidth = 1;
  sctx.beginPath(); sctx.moveTo(pad, y(R.quality_bar)); sctx.lineTo(w - pad, y(R.quality_bar)); sctx.stroke();
  sctx.setLineDash([]);
  sctx.fillStyle = "#475569"; sctx.font = "11px sans-serif";
  sctx.fillText(R.quality_bar.toFixed(2) + " m", pad + 2, y(R.quality_bar) - 3);
  sctx.strokeStyle = "#1d4ed8"; sctx.lineWidth = 1.5;
  sctx.beginPath();
  for (let t = 0; t < T; t++) (t ? sctx.lineTo : sctx.moveTo).call(sctx, x(t), y(R.pose_error[t]));
  sctx.stroke();
  sctx.strokeStyle = "#111"; sctx.lineWidth = 1;
  sctx.beginPath(); sctx.moveTo(x(frame), 0); sctx.lineTo(x(frame), h); sctx.stroke();
  sctx.fillStyle = "#111";
  sctx.beginPath(); sctx.arc(x(frame), y(R.pose_error[frame]), 3, 0, 2 * Math.PI); sctx.fill();
}

// ------------------------------------------------------------------------------------------ controls
function resize() {
  const ratio = window.devicePixelRatio || 1;
  view.style.height = Math.round(Math.min(view.clientWidth * 0.56, window.innerHeight * 0.72)) + "px";
  view.width = ghostCanvas.width = Math.round(view.clientWidth * ratio);
  view.height = ghostCanvas.height = Math.round(view.clientHeight * ratio);
  // The sparkline draws in CSS pixels: size the bitmap for the screen, then scale (a resize resets the transform).
  sparkSize = {width: spark.clientWidth, height: spark.clientHeight};
  spark.width = Math.round(sparkSize.width * ratio); spark.height = Math.round(sparkSize.height * ratio);
  sctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  draw();
}

function setPlaying(value) {
  playing = value; playButton.textContent = playing ? "pause" : "play"; lastTime = null;
}

function seek(t) {
  frame = Math.max(0, Math.min(T - 1, Math.round(t))); clock = frame * R.dt; draw();
}

function tick(now) {
  if (playing && lastTime !== null) {
    clock += speed * (now - lastTime) / 1000;
    const duration = T * R.dt;
    if (clock >= duration) clock %= duration;
    const next = Math.min(T - 1, Math.floor(clock / R.dt));
    if (next !== frame) { frame = next; draw(); }
  }
  lastTime = playing ? now : null;
  requestAnimationFrame(tick);
}

playButton.addEventListener("click", () => setPlaying(!playing));
layoutButton.addEventListener("click", () => {
  sideBySide = !sideBySide; layoutButton.textContent = sideBySide ? "overlay" : "side by side"; draw();
});
document.getElementById("reset-camera").addEventListener("click", () => {
  camera = Object.assign({}, DEFAULT_CAMERA); draw();
});
speedSelect.addEventListener("change", () => { speed = parseFloat(speedSelect.value); });
scrub.addEventListener("input", () => { setPlaying(false); seek(parseInt(scrub.value, 10)); });

let drag = null;
view.addEventListener("pointerdown", (e) => {
  drag = {x: e.clientX, y: e.clientY}; view.setPointerCapture(e.pointerId); view.style.cursor = "grabbing";
});
view.addEventListener("pointermove", (e) => {
  if (!drag) return;
  camera.yaw -= (e.clientX - drag.x) * 0.01;
  camera.pitch = Math.max(-0.1, Math.min(1.45, camera.pitch + (e.clientY - drag.y) * 0.01));
  drag = {x: e.clientX, y: e.clientY};
  draw();
});
const endDrag = () => { drag = null; view.style.cursor = "grab"; };
view.addEventListener("pointerup", endDrag);
view.addEventListener("pointercancel", endDrag);
view.addEventListener("wheel", (e) => {
  e.preventDefault();
  camera.distance = Math.max(1.2, Math.min(15, camera.distance * Math.exp(e.deltaY * 0.001)));
  draw();
}, {passive: false});

let sparkDrag = false;
const sparkSeek = (e) => {
  const box = spark.getBoundingClientRect(), pad = 6;
  setPlaying(false); seek((T - 1) * (e.clientX - box.left - pad) / (box.width - 2 * pad));
};
spark.addEventListener("pointerdown", (e) => { sparkDrag = true; spark.setPointerCapture(e.pointerId); sparkSeek(e); });
spark.addEventListener("pointermove", (e) => { if (sparkDrag) sparkSeek(e); });
spark.addEventListener("pointerup", () => { sparkDrag = false; });
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
  if (e.target.tagName === "BUTTON" && e.key === " ") return;  // the focused button's own click handles it
  if (e.key === " ") { e.preventDefault(); setPlaying(!playing); }
  else if (e.key === "ArrowRight") { setPlaying(false); seek(frame + 1); }
  else if (e.key === "ArrowLeft") { setPlaying(false); seek(frame - 1); }
});
window.addEventListener("resize", resize);

// "#frame=40" opens the page paused at that frame; "#side" starts side by side (links and headless checks).
const hash = new URLSearchParams(location.hash.slice(1));
scrub.max = T - 1;
if (hash.has("side")) { sideBySide = true; layoutButton.textContent = "overlay"; }
if (hash.has("frame")) { setPlaying(false); frame = Math.max(0, Math.min(T - 1, parseInt(hash.get("frame"), 10) || 0)); }
clock = frame * R.dt;
resize();
statusLine.textContent = "ready"; statusLine.className = "ready";
requestAnimationFrame(tick);
"""


if __name__ == "__main__":
    raise SystemExit(main())
