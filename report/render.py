"""Headless pictures of a rollout for the report: an animated GIF and a still strip, policy against reference.

Both use one fixed three-quarter side view (orthographic, the same default direction as the HTML viewer) that
follows the midpoint of the two roots (smoothed over a second): the simulated character solid, the reference as a
translucent ghost, each drawn with the character's own shapes (the capsules, boxes and spheres of its MJCF, see
``report/geometry.py``; bones only for a character without one), a floor grid that scrolls with the motion, and
the pose error of the frame in the corner. Only numpy, matplotlib (Agg) and pillow: the report never imports JAX.

MuJoCo's own renderer (headless through EGL or OSMesa) was considered and not built: it needs an OpenGL context
that CI containers and CPU machines often lack, so this drawing would remain as the fallback anyway, and it
already shows the MJCF's own shapes.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.results_store import write_bytes_atomic  # noqa: E402
from report.geometry import BOX_FACES, box_corners, character_geoms, place  # noqa: E402
from report.tables import QUALITY_BAR  # noqa: E402
from report.viewer import HEAD_BODY, HEAD_OFFSET, HEAD_RADIUS, camera_track  # noqa: E402

VIEW_YAW, VIEW_PITCH = math.radians(-60), math.radians(12)  # camera direction from the target, as in the viewer
SIM_COLOURS = {"right": "#1e3a8a", "left": "#3b82f6", "centre": "#1d4ed8", "joint": "#0f172a"}
REF_COLOURS = {"right": "#c2410c", "left": "#fb923c", "centre": "#f97316", "joint": "#7c2d12"}
GHOST_ALPHA = 0.45
BACKGROUND = "#eef2f6"
LIGHT = np.array([0.45, -0.35, 0.82]) / np.linalg.norm([0.45, -0.35, 0.82])


def _camera_basis(yaw: float = VIEW_YAW, pitch: float = VIEW_PITCH) -> np.ndarray:
    """Rows: screen right, screen up, depth (away from the camera), in world coordinates (z up)."""
    forward = -np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(right, forward), forward])


def _rotate(quaternion: np.ndarray, vector: np.ndarray) -> np.ndarray:
    w, u = float(quaternion[0]), np.asarray(quaternion[1:], dtype=np.float64)
    t = 2.0 * np.cross(u, vector)
    return vector + w * t + np.cross(u, t)


def _side(name: str) -> str:
    return "left" if name.startswith("left") else "right" if name.startswith("right") else "centre"


def _circle(centre: np.ndarray, radius: float, points: int = 18) -> np.ndarray:
    angles = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    return centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _stadium(a: np.ndarray, b: np.ndarray, radius: float, points: int = 9) -> np.ndarray:
    """Outline of a capsule seen from the side (orthographic): two half circles joined by straight sides."""
    direction = b - a
    if np.hypot(*direction) < 1e-9:
        return _circle(a, radius, 2 * points)
    angle = math.atan2(direction[1], direction[0])
    around_b = angle + np.linspace(-np.pi / 2, np.pi / 2, points)
    around_a = angle + np.linspace(np.pi / 2, 3 * np.pi / 2, points)
    arc = lambda centre, angles: centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # noqa: E731
    return np.concatenate([arc(b, around_b), arc(a, around_a)])


def _shaded(colour: str, factor: float, alpha: float) -> tuple[float, float, float, float]:
    rgb = np.clip(np.asarray(matplotlib.colors.to_rgb(colour)) * factor, 0.0, 1.0)
    return (*rgb, alpha)


class _Character:
    """The artists of one character on an axes: its MJCF's shapes as depth-sorted polygons (or, for a character
    without one, bones, joints and a head)."""

    def __init__(self, axes, rollout: Mapping[str, np.ndarray], kind: str, colours: dict, alpha: float, zorder: int):
        self.pos = np.asarray(rollout[f"{kind}_pos"], dtype=np.float64)
        self.rot = np.asarray(rollout[f"{kind}_rot"], dtype=np.float64)
        names = [str(name) for name in rollout["body_names"]]
        self.colours, self.alpha = colours, alpha
        self.side = [_side(name) for name in names]
        self.geoms = character_geoms(names)
        self.parent = np.asarray(rollout["body_parent"], dtype=int)
        self.children = np.flatnonzero(self.parent >= 0)
        self.bone_colours = np.array([matplotlib.colors.to_rgba(colours[self.side[i]]) for i in self.children])
        self.head = names.index(HEAD_BODY) if HEAD_BODY in names else -1
        self.shapes = PolyCollection([], linewidths=0.6, alpha=None, zorder=zorder)
        self.bones = LineCollection([], linewidths=4.0, capstyle="round", alpha=alpha, zorder=zorder)
        self.joints = axes.scatter([], [], s=9, color=colours["joint"], alpha=alpha, zorder=zorder + 0.1, linewidths=0)
        self.head_patch = Circle((0, 0), HEAD_RADIUS, facecolor=colours["centre"], edgecolor=colours["joint"],
                                 linewidth=1.0, alpha=alpha, zorder=zorder + 0.2,
                                 visible=self.head >= 0 and not self.geoms)
        axes.add_collection(self.shapes)
        axes.add_collection(self.bones)
        axes.add_patch(self.head_patch)

    def _polygons(self, t: int, basis: np.ndarray, target: np.ndarray):
        """(outline [n, 2], depth, face colour) of every visible surface at frame ``t``."""
        project = lambda world: (np.asarray(world) - target) @ basis.T  # noqa: E731  (right, up, depth)
        out = []
        for body, geom in self.geoms:
            colour = self.colours[self.side[body]]
            placed = place(geom, self.pos[t, body], self.rot[t, body])
            if geom.shape == "sphere":
                centre = project(placed["centre"])
                out.append((_circle(centre[:2], geom.radius), centre[2], _shaded(colour, 1.15, self.alpha)))
            elif geom.shape == "capsule":
                a, b = project(placed["start"]), project(placed["end"])
                out.append((_stadium(a[:2], b[:2], geom.radius), 0.5 * (a[2] + b[2]), _shaded(colour, 1.0, self.alpha)))
            else:
                corners = box_corners(placed["centre"], placed["axes"], geom.half_sizes)
                seen = project(corners)
                for face, axis, sign in BOX_FACES:
                    normal = sign * placed["axes"][axis]
                    if normal @ basis[2] >= 0:  # facing away from the camera (depth grows away from it)
                        continue
                    brightness = 0.7 + 0.45 * max(0.0, float(normal @ LIGHT))
                    out.append((seen[list(face), :2], float(seen[list(face), 2].mean()),
                                _shaded(colour, brightness, self.alpha)))
        return out

    def update(self, t: int, basis: np.ndarray, target: np.ndarray) -> None:
        view = (self.pos[t] - target) @ basis.T  # [B, (right, up, depth)]
        if self.geoms:
            polygons = sorted(self._polygons(t, basis, target), key=lambda item: -item[1])  # far first
            self.shapes.set_verts([outline for outline, _, _ in polygons])
            self.shapes.set_facecolor([colour for _, _, colour in polygons])
            self.shapes.set_edgecolor(_shaded(self.colours["joint"], 1.0, self.alpha))
            return
        segments = np.stack([view[self.parent[self.children], :2], view[self.children, :2]], axis=1)
        depth = 0.5 * (view[self.parent[self.children], 2] + view[self.children, 2])
        order = np.argsort(-depth)  # far bones first, so near limbs cover them
        self.bones.set_segments(segments[order])
        self.bones.set_color(self.bone_colours[order])
        self.joints.set_offsets(view[:, :2])
        if self.head >= 0:
            centre = self.pos[t, self.head] + _rotate(self.rot[t, self.head], np.asarray(HEAD_OFFSET))
            self.head_patch.center = tuple(((centre - target) @ basis.T)[:2])


class _Scene:
    """One axes showing a rollout frame: floor grid, ghost, character and (optionally) a caption."""

    def __init__(self, axes, rollout: Mapping[str, np.ndarray], width_m: float, height_m: float, caption: bool = True):
        self.axes, self.rollout = axes, rollout
        self.basis = _camera_basis()
        track = camera_track(rollout)
        # The floor stays at a fixed height on screen; only the horizontal view follows the characters.
        self.targets = np.concatenate([track, np.zeros((len(track), 1))], axis=1)
        # Frame the floor's near edge at the bottom; grow the view (keeping its aspect) if a jump would leave it.
        up = np.concatenate([np.asarray(rollout[f"{kind}_pos"], dtype=np.float64) - self.targets[:, None]
                             for kind in ("sim", "ref")], axis=1) @ self.basis[1]
        bottom = float((self._grid_segments(np.zeros(3))[..., 1]).min()) - 0.05
        zoom = max(1.0, (float(up.max()) + HEAD_RADIUS + 0.15 - bottom) / height_m)
        self.limits = ((-zoom * width_m / 2, zoom * width_m / 2), (bottom, bottom + zoom * height_m))
        axes.set_facecolor(BACKGROUND)
        axes.set_xlim(*self.limits[0])
        axes.set_ylim(*self.limits[1])
        axes.set_aspect("equal")
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_visible(False)
        self.grid = LineCollection([], colors="#94a3b8", linewidths=0.6, alpha=0.6, zorder=1)
        axes.add_collection(self.grid)
        self.ghost = _Character(axes, rollout, "ref", REF_COLOURS, GHOST_ALPHA, zorder=2)
        self.sim = _Character(axes, rollout, "sim", SIM_COLOURS, 1.0, zorder=3)
        self.caption = axes.text(0.03, 0.97, "", transform=axes.transAxes, va="top", ha="left", fontsize=8,
                                 family="monospace", zorder=5) if caption else None

    def _grid_segments(self, target: np.ndarray, extent: int = 2) -> np.ndarray:
        centre = np.round(target[:2])
        ticks = np.arange(-extent, extent + 1, dtype=np.float64)
        lines = []
        for k in ticks:
            lines.append([[centre[0] + k, centre[1] - extent, 0], [centre[0] + k, centre[1] + extent, 0]])
            lines.append([[centre[0] - extent, centre[1] + k, 0], [centre[0] + extent, centre[1] + k, 0]])
        lines = np.asarray(lines)
        return ((lines - target) @ self.basis.T)[..., :2]

    def update(self, t: int) -> None:
        target = self.targets[t]
        self.grid.set_segments(self._grid_segments(target))
        self.ghost.update(t, self.basis, target)
        self.sim.update(t, self.basis, target)
        if self.caption is not None:
            error = float(self.rollout["pose_error"][t])
            fell = " fall" if bool(self.rollout["fall"][t]) else ""
            self.caption.set_text(f"t={t * float(self.rollout['dt']):.2f}s\npose err {error:.3f} m{fell}")
            self.caption.set_color("#15803d" if error <= QUALITY_BAR else "#b91c1c")


def _frame_indices(num_frames: int, every: int) -> np.ndarray:
    return np.arange(0, num_frames, max(1, int(every)))


def render_gif(rollout: Mapping[str, np.ndarray], out_path: str | Path, every: int = 2,
               size: tuple[int, int] = (320, 240), colours: int = 64) -> Path:
    """An animated GIF of every ``every``-th frame (30 Hz clips -> 15 fps at 2), ``size`` pixels, looping."""
    out_path = Path(out_path)
    dpi = 80
    figure = plt.figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, facecolor=BACKGROUND)
    axes = figure.add_axes((0, 0, 1, 1))
    scene = _Scene(axes, rollout, width_m=3.2, height_m=3.2 * size[1] / size[0])
    axes.text(0.97, 0.03, "policy", color=SIM_COLOURS["centre"], transform=axes.transAxes, ha="right", va="bottom",
              fontsize=7, zorder=5)
    axes.text(0.97, 0.10, "reference", color=REF_COLOURS["centre"], alpha=0.8, transform=axes.transAxes, ha="right",
              va="bottom", fontsize=7, zorder=5)
    images = []
    try:
        for t in _frame_indices(len(rollout["pose_error"]), every):
            scene.update(int(t))
            figure.canvas.draw()
            images.append(Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()))
    finally:
        plt.close(figure)
    # One palette for every frame (taken from all of them at once) keeps colours steady and the file small.
    sheet = Image.new("RGB", (size[0], size[1] * len(images)))
    for i, image in enumerate(images):
        sheet.paste(image, (0, i * size[1]))
    palette = sheet.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    frames = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    buffer = io.BytesIO()
    duration_ms = int(round(1000 * float(rollout["dt"]) * max(1, int(every))))
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0,
                   optimize=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_path, buffer.getvalue())
    return out_path


def render_strip(rollout: Mapping[str, np.ndarray], out_path: str | Path, n: int = 6,
                 panel_size: tuple[int, int] = (200, 260)) -> Path:
    """A still PNG of ``n`` frames spread evenly over the episode (first and last included), left to right."""
    out_path = Path(out_path)
    num_frames = len(rollout["pose_error"])
    indices = np.unique(np.round(np.linspace(0, num_frames - 1, max(1, n))).astype(int))
    dpi = 80
    figure, axes_row = plt.subplots(1, len(indices), figsize=(panel_size[0] * len(indices) / dpi, panel_size[1] / dpi),
                                    dpi=dpi, facecolor="white", squeeze=False)
    figure.subplots_adjust(left=0.005, right=0.995, top=0.995, bottom=0.005, wspace=0.03)
    try:
        for axes, t in zip(axes_row[0], indices):
            scene = _Scene(axes, rollout, width_m=2.4, height_m=2.4 * panel_size[1] / panel_size[0])
            scene.update(int(t))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    finally:
        plt.close(figure)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_path, buffer.getvalue())
    return out_path


__all__ = ["render_gif", "render_strip"]
