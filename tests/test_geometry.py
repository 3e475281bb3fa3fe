"""The character's own shapes for the viewer and the report's animations (report/geometry.py): read from the MJCF,
placed on the recorded body transforms. Hand-computed placements; no JAX."""

from __future__ import annotations

import math

import numpy as np
import pytest

from report.geometry import (
    BOX_FACES,
    DEFAULT_MJCF,
    GeometryError,
    box_corners,
    character_geoms,
    geoms_json,
    load_geoms,
    place,
)
from report.render import render_strip
from report.viewer import rollout_json
from tests.test_viewer import BODY_NAMES, synthetic_rollout

HALF = math.sqrt(0.5)
ABOUT_X_90 = (HALF, HALF, 0.0, 0.0)  # w x y z: +90 degrees about x
ABOUT_Z_90 = (HALF, 0.0, 0.0, HALF)


def by_name(name):
    return next(geom for geom in load_geoms() if geom.name == name)


def test_the_projects_mjcf_shapes():
    geoms = load_geoms(DEFAULT_MJCF)
    shapes = [geom.shape for geom in geoms]
    assert (len(geoms), shapes.count("sphere"), shapes.count("capsule"), shapes.count("box")) == (15, 5, 8, 2)
    assert "floor" not in {geom.name for geom in geoms}  # the plane is not part of the character
    wrist = by_name("right_wrist")  # DeepMimic's fixed wrist: a sphere of the forearm body
    assert (wrist.body, wrist.shape, wrist.radius, wrist.centre) == ("right_elbow", "sphere", 0.04, (0.0, 0.0, -0.258947))


def test_capsule_placed_on_its_body():
    shoulder = by_name("right_shoulder")  # fromto="0 0 -0.23 0 0 -0.05", radius 0.045
    placed = place(shoulder, np.array([1.0, 2.0, 3.0]), np.array(ABOUT_X_90))
    # +90 degrees about x takes (0, 0, z) to (0, -z, 0).
    np.testing.assert_allclose(placed["start"], [1.0, 2.23, 3.0], atol=1e-12)
    np.testing.assert_allclose(placed["end"], [1.0, 2.05, 3.0], atol=1e-12)
    assert shoulder.radius == 0.045


def test_box_placed_on_its_body():
    foot = by_name("right_ankle")  # size="0.0885 0.045 0.0275" pos="0.045 0 -0.0225"
    still = place(foot, np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]))
    corners = box_corners(still["centre"], still["axes"], foot.half_sizes)
    np.testing.assert_allclose(corners.min(axis=0), [-0.0435, -0.045, -0.05], atol=1e-12)
    np.testing.assert_allclose(corners.max(axis=0), [0.1335, 0.045, 0.005], atol=1e-12)
    turned = place(foot, np.zeros(3), np.array(ABOUT_Z_90))  # the foot now points along +y
    corners = box_corners(turned["centre"], turned["axes"], foot.half_sizes)
    np.testing.assert_allclose(corners.min(axis=0), [-0.045, -0.0435, -0.05], atol=1e-12)
    np.testing.assert_allclose(corners.max(axis=0), [0.045, 0.1335, 0.005], atol=1e-12)


def test_box_faces_are_the_six_sides():
    corners = box_corners(np.zeros(3), np.eye(3), (1.0, 2.0, 3.0))
    for face, axis, sign in BOX_FACES:
        assert len(set(face)) == 4
        np.testing.assert_allclose(corners[list(face), axis], sign * (1.0, 2.0, 3.0)[axis])
    assert sorted((axis, sign) for _, axis, sign in BOX_FACES) == [(a, s) for a in range(3) for s in (-1, 1)]


def test_capsule_with_size_half_length_and_bad_files(tmp_path):
    mjcf = tmp_path / "character.xml"
    mjcf.write_text('<mujoco><worldbody><body name="root"><geom name="bone" type="capsule" size="0.05 0.2" '
                    'pos="0 0 1" quat="0.7071068 0.7071068 0 0"/></body></worldbody></mujoco>')
    (geom,) = load_geoms(mjcf)  # along the geom's z axis, which the quaternion turns to -y
    np.testing.assert_allclose(geom.start, [0.0, 0.2, 1.0], atol=1e-6)
    np.testing.assert_allclose(geom.end, [0.0, -0.2, 1.0], atol=1e-6)
    mjcf.write_text('<mujoco><worldbody><body name="root"><geom name="foot" type="box" size="0.1"/></body>'
                    '</worldbody></mujoco>')
    with pytest.raises(GeometryError, match=r"character.xml: box 'foot' needs three half-sizes"):
        load_geoms(mjcf)
    mjcf.write_text("<mujoco><worldbody>")
    with pytest.raises(GeometryError, match="character.xml: cannot read the character's MJCF"):
        load_geoms(mjcf)


def test_rollout_bodies_get_their_shapes():
    geoms = character_geoms(BODY_NAMES)
    assert len(geoms) == 15 and all(BODY_NAMES[body] == geom.body for body, geom in geoms)
    assert character_geoms(["pelvis", "torso"]) == []  # another character: drawn with bones
    page = rollout_json(synthetic_rollout(4), "t")
    assert page["geoms"] == geoms_json(BODY_NAMES) and len(page["geoms"]) == 15
    foot = next(item for item in page["geoms"] if item["name"] == "left_ankle")
    assert foot["body"] == BODY_NAMES.index("left_ankle") and foot["half_sizes"] == [0.0885, 0.045, 0.0275]


def test_renderer_draws_shapes_and_falls_back_to_bones(tmp_path):
    rollout = synthetic_rollout(6)
    render_strip(rollout, tmp_path / "shapes.png", n=2)
    other = dict(rollout, body_names=np.array([f"link{i}" for i in range(len(BODY_NAMES))]))
    render_strip(other, tmp_path / "bones.png", n=2)
    assert (tmp_path / "shapes.png").stat().st_size > 0 and (tmp_path / "bones.png").stat().st_size > 0
    assert (tmp_path / "shapes.png").read_bytes() != (tmp_path / "bones.png").read_bytes()


def test_rollouts_of_other_characters_are_drawn_with_their_own_shapes():
    import json

    from report.geometry import character_mjcf

    for name in ("humanoid3d", "smpl", "swordshield"):
        body_names = json.loads((DEFAULT_MJCF.parent / f"{name}.meta.json").read_text())["body_names"]
        assert character_mjcf(body_names) == DEFAULT_MJCF.parent / f"{name}.xml"
    assert character_mjcf(["pelvis", "torso"]) == DEFAULT_MJCF  # no character records just these: the default
    sword_bodies = json.loads((DEFAULT_MJCF.parent / "swordshield.meta.json").read_text())["body_names"]
    drawn = {sword_bodies[body] for body, _ in character_geoms(sword_bodies)}
    assert drawn == set(sword_bodies)  # every body has a shape (the sword rides on the right hand)
    hand = [geom for body, geom in character_geoms(sword_bodies) if sword_bodies[body] == "right_hand"]
    assert len(hand) >= 2  # the hand and the sword's blade and hilt
