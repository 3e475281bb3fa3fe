"""The character's own shapes for drawing: the capsules, boxes and spheres of its MJCF, attached to the bodies a
rollout records.

A rollout (``benchmarks/rollout_file.py``) holds each tracked body's world position and orientation per frame. Its
body names are the MJCF's body names, so each geom is placed by its body's transform: ``world = pos + R(rot) @ local``.
The rollout file carries no geometry; the viewer and the GIF renderer read it from the character's MJCF: by default
the committed character (``envs/assets/*.xml``) whose sidecar lists exactly the rollout's bodies
(:func:`character_mjcf`: ``humanoid3d``, ``smpl`` or ``swordshield``), else ``humanoid3d.xml``. Geoms of bodies the rollout does not record are skipped, and a body with no geom (DeepMimic's wrists, which the converter folds into the forearms as
geoms of the forearm body) is drawn by its parent's geoms. Collision-only geoms with zero alpha and the floor plane
are not drawn.

Only numpy and the standard library (no MuJoCo, no JAX): the report reads results files and this XML only.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

# report/ and envs/ are installed side by side (both packages of this project); importing envs would import JAX.
DEFAULT_MJCF = Path(__file__).resolve().parent.parent / "envs" / "assets" / "humanoid3d.xml"
SHAPES = ("sphere", "capsule", "box")


class GeometryError(ValueError):
    """An MJCF whose shapes cannot be drawn; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class Geom:
    """One shape in its body's frame (metres). ``sphere``: ``centre`` and ``radius``; ``capsule``: the segment
    ``start``-``end`` and ``radius``; ``box``: ``centre``, ``half_sizes`` along the box's axes ``axes`` (rows)."""

    name: str
    body: str
    shape: str
    centre: tuple[float, float, float]
    radius: float = 0.0
    start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    end: tuple[float, float, float] = (0.0, 0.0, 0.0)
    half_sizes: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axes: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def quaternion_matrix(quaternion: Sequence[float]) -> np.ndarray:
    """3x3 rotation matrix of a quaternion w x y z (normalised first)."""
    w, x, y, z = np.asarray(quaternion, dtype=np.float64) / np.linalg.norm(quaternion)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _floats(element, attribute: str, count: int | None, path: Path, default: str | None = None) -> np.ndarray:
    text = element.get(attribute, default)
    if text is None:
        raise GeometryError(f"{path}: geom '{element.get('name', '?')}' has no {attribute}")
    try:
        values = np.array([float(item) for item in text.split()])
    except ValueError:
        raise GeometryError(f"{path}: geom '{element.get('name', '?')}' {attribute}='{text}' is not numbers") from None
    if count is not None and values.size < count:
        raise GeometryError(f"{path}: geom '{element.get('name', '?')}' {attribute}='{text}' needs {count} numbers")
    return values


def _geom(element, body: str, path: Path) -> Geom | None:
    shape = element.get("type", "sphere")  # MJCF's default geom type
    rgba = element.get("rgba")
    if shape not in SHAPES or (rgba is not None and float(rgba.split()[-1]) == 0.0):
        return None
    name = element.get("name", f"{body}_{shape}")
    size = _floats(element, "size", 1, path)
    rotation = quaternion_matrix(_floats(element, "quat", 4, path, "1 0 0 0"))
    centre = _floats(element, "pos", 3, path, "0 0 0")[:3]
    if shape == "sphere":
        return Geom(name, body, shape, tuple(centre), radius=float(size[0]))
    if shape == "capsule":
        if element.get("fromto") is not None:
            ends = _floats(element, "fromto", 6, path)
            start, end = ends[:3], ends[3:6]
        else:  # size = radius, half-length along the geom's z axis
            if size.size < 2:
                raise GeometryError(f"{path}: capsule '{name}' needs fromto or a size with a half-length")
            start, end = centre - rotation[:, 2] * size[1], centre + rotation[:, 2] * size[1]
        return Geom(name, body, shape, tuple(0.5 * (start + end)), radius=float(size[0]), start=tuple(start),
                    end=tuple(end))
    if size.size < 3:
        raise GeometryError(f"{path}: box '{name}' needs three half-sizes, got size='{element.get('size')}'")
    return Geom(name, body, shape, tuple(centre), half_sizes=tuple(size[:3]),
                axes=tuple(tuple(row) for row in rotation.T))  # rows: the box's own x, y, z axes in the body frame


def load_geoms(mjcf: str | Path = DEFAULT_MJCF) -> list[Geom]:
    """Every drawable geom of the MJCF's bodies, in file order."""
    path = Path(mjcf)
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise GeometryError(f"{path}: cannot read the character's MJCF ({error})") from None
    geoms = []
    for body in root.iter("body"):
        for element in body.findall("geom"):
            geom = _geom(element, body.get("name", ""), path)
            if geom is not None:
                geoms.append(geom)
    return geoms


def character_mjcf(body_names: Sequence[str]) -> Path:
    """The committed character whose sidecar (``<name>.meta.json``) lists exactly these bodies, in this order (the
    rollout records the character's ``body_names``); ``humanoid3d.xml`` when none does."""
    names = [str(name) for name in body_names]
    for meta in sorted(DEFAULT_MJCF.parent.glob("*.meta.json")):
        try:
            recorded = json.loads(meta.read_text()).get("body_names")
        except (OSError, ValueError, AttributeError):
            continue  # not a character's sidecar: skipped, the drawing still has the default
        if recorded == names:
            return meta.with_name(meta.name.removesuffix(".meta.json") + ".xml")
    return DEFAULT_MJCF


def character_geoms(body_names: Sequence[str], mjcf: str | Path | None = None) -> list[tuple[int, Geom]]:
    """(rollout body index, geom) for every geom of a recorded body, from ``mjcf`` (default: :func:`character_mjcf`);
    empty when the MJCF is missing or shares no body with the rollout (the drawing falls back to bones)."""
    try:
        geoms = load_geoms(character_mjcf(body_names) if mjcf is None else mjcf)
    except GeometryError:
        if mjcf is not None:
            raise
        return []
    index = {str(name): i for i, name in enumerate(body_names)}
    return [(index[geom.body], geom) for geom in geoms if geom.body in index]


def geoms_json(body_names: Sequence[str], mjcf: str | Path | None = None) -> list[dict]:
    """The viewer's description of the shapes: body index and body-frame numbers, to 0.1 mm."""
    out = []
    for body, geom in character_geoms(body_names, mjcf):
        item = {"body": body, "shape": geom.shape, "name": geom.name}
        if geom.shape == "sphere":
            item.update(centre=np.round(geom.centre, 4).tolist(), radius=round(geom.radius, 4))
        elif geom.shape == "capsule":
            item.update(start=np.round(geom.start, 4).tolist(), end=np.round(geom.end, 4).tolist(),
                        radius=round(geom.radius, 4))
        else:
            item.update(centre=np.round(geom.centre, 4).tolist(), half_sizes=np.round(geom.half_sizes, 4).tolist(),
                        axes=np.round(geom.axes, 5).tolist())
        out.append(item)
    return out


def place(geom: Geom, position: np.ndarray, quaternion: np.ndarray) -> dict[str, np.ndarray]:
    """The geom in the world at one frame, given its body's position and orientation (w x y z)."""
    rotation = quaternion_matrix(quaternion)
    world = lambda local: np.asarray(position, np.float64) + rotation @ np.asarray(local, np.float64)  # noqa: E731
    if geom.shape == "sphere":
        return {"centre": world(geom.centre)}
    if geom.shape == "capsule":
        return {"start": world(geom.start), "end": world(geom.end)}
    axes = rotation @ np.asarray(geom.axes, np.float64).T  # columns: the box's axes in the world
    return {"centre": world(geom.centre), "axes": axes.T}


def box_corners(centre: np.ndarray, axes: np.ndarray, half_sizes: Sequence[float]) -> np.ndarray:
    """[8, 3] corners, index bits (x, y, z) = (i & 1, i & 2, i & 4) choose the + side of each axis."""
    signs = np.array([[1 if i & 1 else -1, 1 if i & 2 else -1, 1 if i & 4 else -1] for i in range(8)], np.float64)
    return np.asarray(centre) + (signs * np.asarray(half_sizes)) @ np.asarray(axes)


# The six faces of box_corners' cube, each counter-clockwise seen from outside, with its outward axis and sign.
BOX_FACES: tuple[tuple[tuple[int, int, int, int], int, int], ...] = (
    ((0, 4, 6, 2), 0, -1), ((1, 3, 7, 5), 0, 1),
    ((0, 1, 5, 4), 1, -1), ((2, 6, 7, 3), 1, 1),
    ((0, 2, 3, 1), 2, -1), ((4, 5, 7, 6), 2, 1),
)


def geoms_at(rollout: Mapping[str, np.ndarray], kind: str, t: int, geoms: Sequence[tuple[int, Geom]]) -> list[tuple[Geom, dict]]:
    """Every geom of ``kind`` (``sim`` or ``ref``) placed at frame ``t``."""
    pos, rot = np.asarray(rollout[f"{kind}_pos"][t], np.float64), np.asarray(rollout[f"{kind}_rot"][t], np.float64)
    return [(geom, place(geom, pos[body], rot[body])) for body, geom in geoms]


__all__ = ["BOX_FACES", "DEFAULT_MJCF", "Geom", "GeometryError", "box_corners", "character_geoms", "character_mjcf",
           "geoms_at", "geoms_json", "load_geoms", "place", "quaternion_matrix"]
