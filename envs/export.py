"""``python -m envs.export CLIP --out FILE.npz``: a clip's reference states, for inspection or reuse elsewhere.

Every clip format the project reads (``envs.reference``): DeepMimic motion files on humanoid3d, DiffMimic state
files on the character their body count names, ASE/poselib motions on the character whose skeleton they animate.

Keys: ``body_names`` [B], ``pos`` [T, B, 3] body frame origins (metres, z-up world), ``rot`` [T, B, 4]
(w, x, y, z), ``vel`` [T, B, 3], ``ang`` [T, B, 3] (world frame), ``dt`` (seconds per frame), and the
simulator's generalized coordinates ``q`` [T, Q] and velocities ``qd`` [T, Q - 1].
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import tyro

from envs.data import DataError
from envs.character import CharacterError
from envs.motion import CONTROL_DT, MotionError
from envs.reference import load_reference


@dataclasses.dataclass
class ExportArgs:
    clip: tyro.conf.Positional[str]
    """A shipped clip name (walk, backflip, 75_09_stageii, RL_Avatar_Atk_Kick_Motion, ...), `synthetic`, a DeepMimic
    motion file, a DiffMimic state file or a poselib motion (.npy)."""
    out: Path
    """The .npz file to write."""
    data_dir: str | None = None
    """DeepMimic data folder (default: $MIMICBENCH_DATA, else the fetch cache)."""
    frames: int | None = None
    """Frames to export (default: one cycle plus one frame; a DiffMimic file's rows); cyclic clips extend with the
    root's displacement, others hold their last frame."""
    rate: float = 1.0 / CONTROL_DT
    """Frames per second (DeepMimic files only: DiffMimic and poselib clips become one frame per 30 Hz control step)."""
    character: str | None = None
    """The clip's character (default: inferred: humanoid3d for DeepMimic files, from a DiffMimic file's body count, from
    a poselib motion's skeleton); another character than the clip's is an error."""


def export(args: ExportArgs) -> Path:
    reference = load_reference(
        args.clip, character=args.character, data_dir=args.data_dir, num_frames=args.frames, dt=1.0 / args.rate
    )
    arrays = {
        "body_names": np.asarray(reference.body_names),
        "pos": np.asarray(reference.bodies.pos),
        "rot": np.asarray(reference.bodies.rot),
        "vel": np.asarray(reference.bodies.vel),
        "ang": np.asarray(reference.bodies.ang),
        "dt": np.float64(reference.dt),
        "q": np.asarray(reference.q),
        "qd": np.asarray(reference.qd),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted export never leaves a half-written file.
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, **arrays)
    os.replace(tmp.name, out)
    return out


def main(argv=None) -> int:
    args = tyro.cli(ExportArgs, args=argv, description=__doc__.split("\n")[0])
    try:
        out = export(args)
    except (DataError, CharacterError, MotionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
