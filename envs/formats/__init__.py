"""Readers for clip formats other than DeepMimic's (``envs.motion``), one public function per format.

- :func:`load_poselib_motion`: ASE/poselib ``SkeletonMotion`` files (ASE's AMP and Reallusion clips), read through a
  restricted unpickler; ``np.load(allow_pickle=True)`` is never called on a user's file.
- :func:`load_diffmimic_states`: DiffMimic's converted reference states (``data/demo_*/*.npy`` upstream).
- :func:`load_amass_npz`: AMASS pose files (SMPL, SMPL-H or SMPL-X axis-angle poses and translation).

Each reader returns the file's content as plain arrays in the file's own conventions (documented per field) and
knows nothing of a simulated character: mapping a clip onto a character is a later step. Every problem is one
:class:`~envs.motion.MotionError` naming the file.
"""

from envs.formats.amass import SMPL_BODY_JOINTS, AmassMotion, load_amass_npz
from envs.formats.diffmimic import DIFFMIMIC_FPS, DiffMimicStates, load_diffmimic_states
from envs.formats.poselib import PoselibMotion, load_poselib_motion

__all__ = [
    "DIFFMIMIC_FPS",
    "SMPL_BODY_JOINTS",
    "AmassMotion",
    "DiffMimicStates",
    "PoselibMotion",
    "load_amass_npz",
    "load_diffmimic_states",
    "load_poselib_motion",
]
