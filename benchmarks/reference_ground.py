"""How deep each reference frame puts the character into the floor: the states a random start resets to.

    python -m benchmarks.reference_ground backflip jump cartwheel walk

DeepMimic lifts the character 1 mm above the ground at every reset (``SceneSimChar::ResolveCharGroundIntersect``);
this environment, like DiffMimic's, starts from the reference frame as it is, so a frame with a foot below the floor
starts with a contact push (FIDELITY.md, *Reset above the ground*). Each frame is posed on the character with
MuJoCo's kinematics and its floor contacts are collided; a frame whose geoms all clear the floor has depth 0.
"""

from __future__ import annotations

import argparse
import sys

import mujoco
import numpy as np

import envs
from benchmarks.input_errors import input_errors
from envs.clip_settings import clip_settings
from envs.model import CharacterModel, load_character_model
from envs.reference import check_clip

def floor_penetration(model: CharacterModel, q: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Per frame of generalized coordinates ``q`` ``[T, q_size]``: how far (m, >= 0) the deepest geom is below the
    floor, and the body it belongs to (None where no geom touches it)."""
    mj = model.sys.mj_model
    data = mujoco.MjData(mj)
    floor_geoms = {g for g in range(mj.ngeom) if mj.geom_bodyid[g] == 0}
    depths, bodies = np.zeros(len(q)), []
    for t, frame in enumerate(np.asarray(q, np.float64)):
        data.qpos[:] = frame
        mujoco.mj_kinematics(mj, data)
        mujoco.mj_collision(mj, data)
        deepest = None
        for contact in data.contact[: data.ncon]:
            if (contact.geom1 in floor_geoms) == (contact.geom2 in floor_geoms):
                continue  # not a body-floor pair
            other = contact.geom2 if contact.geom1 in floor_geoms else contact.geom1
            if -contact.dist > depths[t]:
                depths[t] = -contact.dist
                deepest = mujoco.mj_id2name(mj, mujoco.mjtObj.mjOBJ_BODY, mj.geom_bodyid[other])
        bodies.append(deepest)
    return depths, bodies


def start_frames(clip: str, cycle_frames: int) -> int:
    """How many frames a training episode of ``clip`` may start at: its random-start range (DiffMimic's 0..540 on
    DeepMimic's clips), else one cycle."""
    settings = clip_settings(clip)
    return cycle_frames if settings.random_start_range is None else settings.random_start_range + 1


def summary_row(clip: str, depths: np.ndarray, bodies: list[str | None]) -> str:
    """Over the frames ``depths`` covers: the share below the floor, deeper than 1 cm, and the deepest."""
    deepest = int(np.argmax(depths))
    return (f"{clip:12s} {len(depths):6d} {100 * np.mean(depths > 0):6.1f}% {100 * np.mean(depths > 0.01):6.1f}% "
            f"{1000 * depths[deepest]:8.1f} mm  {bodies[deepest] or '-'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="+", help="shipped clip names or DeepMimic motion files")
    parser.add_argument("--data-dir", default=None, help="DeepMimic data folder (default: $MIMICBENCH_DATA or the cache)")
    args = parser.parse_args(argv)
    print(f"{'clip':12s} {'starts':>6s} {'below':>7s} {'>1 cm':>7s} {'deepest':>11s}  body   (over the frames an "
          "episode may start at)")
    for clip in args.clips:
        try:
            model = load_character_model(check_clip(clip, data_dir=args.data_dir))
            start_range = clip_settings(clip).random_start_range  # None: one cycle, the default reference's length
            reference = envs.load_reference(clip, num_frames=None if start_range is None else start_range + 1,
                                            data_dir=args.data_dir)
        except (*input_errors(), FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        starts = start_frames(clip, reference.cycle_frames)
        depths, bodies = floor_penetration(model, np.asarray(reference.q)[:starts])
        print(summary_row(clip, depths, bodies), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
