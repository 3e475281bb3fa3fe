"""DiffMimic's SMPL and SWORDSHIELD characters: the facts of its system configs, for ``envs.character_sources``.

Source: ``jiawei-ren/diffmimic`` at d0db48a, ``diffmimic/mimic_envs/system_configs/SMPL.py`` and ``SWORDSHIELD.py``
(Brax v1 text protobufs): body masses and colliders, joint parents, offsets, frames, angle limits and actuator
strengths. Densities (only used to split a body's mass over its shapes) come from ASE's
``amp_humanoid_sword_shield.xml`` (nv-tlabs/ASE 28952a3), the character DiffMimic's configs were made from.
Bodies are listed in the configs' order, which is the order of DiffMimic's state files (floor excluded).
``tests/test_character_sources.py`` checks every number here against the configs (read as text) when
``MIMICBENCH_DIFFMIMIC_REPO`` names a DiffMimic checkout.
Not carried over: per-joint ``angular_damping`` and the thigh-thigh and shin-shin self-collisions (FIDELITY.md).

``smpl`` is the AMP humanoid's dimensions in SMPL's joint topology (two spine joints, collars, actuated wrists),
standing in a T-pose (arms along -y and +y); ``swordshield`` is the AMP humanoid with arms down, a sword on the right
hand (hilt and blade) and a shield and the left hand folded into the left forearm.
"""

from __future__ import annotations

from envs.character_sources import Collider, SourceBody, SourceCharacter, SourceJoint

FREE = ((-180.0, 180.0),) * 3  # every 3-DoF joint of both configs: angle_limit -180..180 on x, y, z
HINGE = ((-180.0, 180.0),)

# Shapes both characters share (AMP's humanoid): legs, feet and head.
_THIGH = Collider("capsule", (0.055, 0.41), pos=(0.0, 0.0, -0.21))
_SHIN = Collider("capsule", (0.05, 0.41), pos=(0.0, 0.0, -0.2))
_FOOT = Collider("box", (0.0885, 0.045, 0.0275), pos=(0.045, 0.0, -0.0225))
_HEAD = Collider("sphere", (0.095,), pos=(0.0, 0.0, 0.175))
_HAND = Collider("sphere", (0.04,))
# The clavicle capsules hang from the torso (SWORDSHIELD) or from collar bodies (SMPL) at the same angles.
_CLAVICLE_ROTATION = {"right": (83.8885, -7.4404535, -6.6881237), "left": (-83.8885, -7.4404535, 6.6881237)}
_CLAVICLE_SIZE = (0.045, 0.17357418)
_CLAVICLE_Y = 0.08697725
_COLLAR = (-0.01142375, 0.0, 0.23320685)  # the collar joints in the torso frame (y = 0 in SMPL.py)
_TO_Y = (0.0, 0.0, 90.0)  # a 1-DoF joint frame turned about z: its hinge axis x becomes +y


SMPL_BODIES = (
    "pelvis", "upper_waist", "torso", "right_clavicle", "left_clavicle", "head",
    "right_upper_arm", "right_lower_arm", "right_hand", "left_upper_arm", "left_lower_arm", "left_hand",
    "right_thigh", "right_shin", "right_foot", "left_thigh", "left_shin", "left_foot",
)  # SMPL.py's body order = the state files' (18 bodies, then the floor)
SWORDSHIELD_BODIES = (
    "pelvis", "torso", "head", "right_upper_arm", "right_lower_arm", "right_hand", "left_upper_arm", "left_lower_arm",
    "right_thigh", "right_shin", "right_foot", "left_thigh", "left_shin", "left_foot",
)  # SWORDSHIELD.py's body order = the state files' (14 bodies, then the floor)


def _legs(knee_limits) -> tuple[list[SourceBody], list[SourceJoint]]:
    bodies, joints = [], []
    for side, sign in (("right", -1.0), ("left", 1.0)):
        bodies += [
            SourceBody(f"{side}_thigh", 4.5022917, (_THIGH,)),
            SourceBody(f"{side}_shin", 2.9997497, (_SHIN,)),
            SourceBody(f"{side}_foot", 0.99968714, (_FOOT,)),
        ]
        thigh, shin, foot = f"{side}_thigh", f"{side}_shin", f"{side}_foot"
        joints += [
            SourceJoint(f"{side}_hip", "pelvis", thigh, (0.0, sign * 0.084887, 0.0), FREE, 200.0),
            # The knee's frame turns x onto +y: a hinge about the lateral axis, positive bending the shin back.
            SourceJoint(f"{side}_knee", thigh, shin, (0.0, 0.0, -0.421546), knee_limits, 150.0, rotation=_TO_Y),
            SourceJoint(f"{side}_ankle", shin, foot, (0.0, 0.0, -0.40987), FREE, 90.0),
        ]
    return bodies, joints


def _in_order(order: tuple[str, ...], bodies: list[SourceBody]) -> tuple[SourceBody, ...]:
    by_name = {body.name: body for body in bodies}
    return tuple(by_name[name] for name in order)


def _smpl() -> SourceCharacter:
    bodies = [
        SourceBody("pelvis", 6.797376, (Collider("sphere", (0.09,), pos=(0.0, 0.0, 0.07)),)),
        SourceBody("upper_waist", 3.1982167, (Collider("sphere", (0.07,), pos=(0.0, 0.0, 0.135)),)),
        SourceBody("torso", 10.002052, (Collider("sphere", (0.11,), pos=(0.0, 0.0, 0.12)),)),
        SourceBody("head", 3.8822644, (_HEAD,)),
    ]
    joints = [
        SourceJoint("spine1", "pelvis", "upper_waist", (0.0, 0.0, 0.07), FREE, 200.0),
        SourceJoint("spine3", "upper_waist", "torso", (0.0, 0.0, 0.166151), FREE, 200.0),
        SourceJoint("neck", "torso", "head", (0.0, 0.0, 0.223894), FREE, 50.0),
    ]
    for side, sign in (("right", -1.0), ("left", 1.0)):
        # T-pose: each arm lies along its side's y. Brax v1 capsules lie along their z, turned onto y by x -+90
        # degrees; the elbow's frame turns x onto -z (right) or +z (left): a vertical hinge.
        along_arm = (-sign * 90.0, 0.0, 0.0)
        clavicle = Collider("capsule", _CLAVICLE_SIZE, (0.0, sign * _CLAVICLE_Y, 0.0), _CLAVICLE_ROTATION[side])
        upper_arm = Collider("capsule", (0.045, 0.27), pos=(0.0, sign * 0.14, 0.0), rotation=along_arm)
        lower_arm = Collider("capsule", (0.04, 0.215), pos=(0.0, sign * 0.12, 0.0), rotation=along_arm)
        parts = ("clavicle", "upper_arm", "lower_arm", "hand")
        clavicle_body, upper, lower, hand = (f"{side}_{part}" for part in parts)
        bodies += [
            SourceBody(clavicle_body, 1.0047175, (clavicle,)),
            SourceBody(upper, 1.4993314, (upper_arm,)),
            SourceBody(lower, 0.9996799, (lower_arm,)),
            SourceBody(hand, 0.499974, (_HAND,)),
        ]
        joints += [
            SourceJoint(f"{side}_collar", "torso", clavicle_body, _COLLAR, FREE, 100.0),
            SourceJoint(f"{side}_shoulder", clavicle_body, upper, (0.0, sign * 0.18311, 0.0), FREE, 100.0),
            SourceJoint(f"{side}_elbow", upper, lower, (0.0, sign * 0.274788, 0.0), HINGE, 70.0,
                        rotation=(0.0, -sign * 90.0, 0.0)),
            SourceJoint(f"{side}_wrist", lower, hand, (0.0, sign * 0.258947, 0.0), FREE, 50.0),
        ]
    legs, leg_joints = _legs(HINGE)
    return SourceCharacter(
        name="smpl",
        source="DiffMimic d0db48a diffmimic/mimic_envs/system_configs/SMPL.py",
        bodies=_in_order(SMPL_BODIES, bodies + legs),
        joints=tuple(joints + leg_joints),
        end_effectors=("right_hand", "left_hand", "right_foot", "left_foot"),
        fall_contact=tuple(name for name in SMPL_BODIES if not name.endswith("_foot")),
    )


def _swordshield() -> SourceCharacter:
    pelvis = (
        Collider("sphere", (0.09,), pos=(0.0, 0.0, 0.07), density=2226.0),
        Collider("sphere", (0.07,), pos=(0.0, 0.0, 0.205), name="upper_waist", density=2226.0),
    )
    torso = [Collider("sphere", (0.11,), pos=(0.0, 0.0, 0.12), density=1794.0)]
    for side, sign in (("right", -1.0), ("left", 1.0)):
        position = (_COLLAR[0], sign * _CLAVICLE_Y, _COLLAR[2])
        clavicle = Collider("capsule", _CLAVICLE_SIZE, position, _CLAVICLE_ROTATION[side], f"{side}_clavicle", 1100.0)
        torso.append(clavicle)
    right_hand = (
        Collider("sphere", (0.04,), density=1865.0),
        # DiffMimic puts the hilt's centre at x = -0.155; ASE's MJCF at -0.015 (FIDELITY.md).
        Collider("capsule", (0.023, 0.276), (-0.155, 0.0, 0.0), (0.0, 90.0, 0.0), "sword_hilt", 300.0),
        Collider("box", (0.34, 0.01, 0.035), pos=(0.4, 0.0, 0.0), name="sword_blade", density=600.0),
    )
    left_forearm = (
        Collider("capsule", (0.04, 0.215), pos=(0.0, 0.0, -0.12), density=1056.0),
        # A square of the round shield's area, turned to face sideways (ASE: a cylinder of radius 0.3, 0.03 thick).
        Collider("box", (0.266, 0.266, 0.015), (0.0, 0.085, -0.12), (-90.0, 0.0, 0.0), "shield", 250.0),
        Collider("sphere", (0.04,), pos=(0.0, 0.0, -0.258947), name="left_hand", density=1865.0),
    )
    upper_arm = (Collider("capsule", (0.045, 0.27), pos=(0.0, 0.0, -0.14)),)
    bodies = [
        SourceBody("pelvis", 10.0, pelvis),
        SourceBody("torso", 12.002052, tuple(torso)),
        SourceBody("head", 3.8822644, (_HEAD,)),
        SourceBody("right_upper_arm", 1.4993314, upper_arm),
        SourceBody("right_lower_arm", 0.9996799, (Collider("capsule", (0.04, 0.215), pos=(0.0, 0.0, -0.12)),)),
        SourceBody("right_hand", 1.2, right_hand),
        SourceBody("left_upper_arm", 1.4993314, upper_arm),
        SourceBody("left_lower_arm", 3.12, left_forearm),
    ]
    # Arms hang down; the elbow's frame turns x onto +y like the knee's, bending the forearm forward at negative angles.
    elbow, down, turn = ((-160.0, 0.0),), (0.0, 0.0, -0.274788), _TO_Y
    joints = [
        SourceJoint("spine1", "pelvis", "torso", (0.0, 0.0, 0.236151), FREE, 200.0),
        SourceJoint("neck", "torso", "head", (0.0, 0.0, 0.223894), FREE, 50.0),
        SourceJoint("right_shoulder", "torso", "right_upper_arm", (-0.02405, -0.18311, 0.2435), FREE, 100.0),
        SourceJoint("right_elbow", "right_upper_arm", "right_lower_arm", down, elbow, 70.0, rotation=turn),
        SourceJoint("right_wrist", "right_lower_arm", "right_hand", (0.0, 0.0, -0.258947), FREE, 50.0),
        SourceJoint("left_shoulder", "torso", "left_upper_arm", (-0.02405, 0.18311, 0.2435), FREE, 100.0),
        SourceJoint("left_elbow", "left_upper_arm", "left_lower_arm", down, elbow, 70.0, rotation=turn),
    ]
    legs, leg_joints = _legs(((0.0, 160.0),))
    return SourceCharacter(
        name="swordshield",
        source="DiffMimic d0db48a diffmimic/mimic_envs/system_configs/SWORDSHIELD.py",
        bodies=_in_order(SWORDSHIELD_BODIES, bodies + legs),
        joints=tuple(joints + leg_joints),
        # The left hand is part of the forearm body (with the shield), so it has no position of its own.
        end_effectors=("right_hand", "right_foot", "left_foot"),
        fall_contact=tuple(name for name in SWORDSHIELD_BODIES if not name.endswith("_foot")),
    )


CHARACTERS: dict[str, SourceCharacter] = {character.name: character for character in (_smpl(), _swordshield())}
