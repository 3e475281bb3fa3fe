"""Why did it fall? Each recorded frame's nearest fall body to the floor, from a run's ``rollout.npz``.

    python -m benchmarks.fall_contacts results/long-cpu/deepmimic/jump/diffmimic/seed_0
    python -m benchmarks.fall_contacts RUN_DIR --distance 0.01     # what a looser contact rule would have called

The rollout stores body positions and orientations, not the physics state; the link transforms are rebuilt from
them (every body rides on one link, at a fixed offset) and the env's own fall query (``brax.contact.get`` on the
fall-body / floor pairs) is run on them. Orientations are stored in half precision, so distances are good to a
fraction of a millimetre: enough to tell a graze from a touch, not to re-derive the recorded flags bit for bit.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from brax import base
from brax import contact as brax_contact
from brax import math

import envs
from benchmarks import recorded_run
from benchmarks import results_store as store
from benchmarks.input_errors import input_errors
from benchmarks.rollout_file import ROLLOUT_FILE, load_rollout
from envs.model import CharacterModel


def link_transforms(model: CharacterModel, body_pos: np.ndarray, body_rot: np.ndarray) -> base.Transform:
    """Brax link transforms ``[T, L]`` from recorded body positions and orientations ``[T, B, ...]``: the inverse of
    :func:`envs.model.body_states` (a body shares its link's orientation and sits at a fixed offset from it)."""
    rot = jnp.asarray(body_rot, jnp.float32)
    rot = rot / jnp.linalg.norm(rot, axis=-1, keepdims=True)
    offset = jax.vmap(jax.vmap(math.rotate))(jnp.broadcast_to(jnp.asarray(model.body_offset), rot.shape[:-1] + (3,)), rot)
    n_links = model.sys.num_links()
    if set(model.body_link.tolist()) != set(range(n_links)):
        raise ValueError(f"'{model.name}': links {sorted(set(range(n_links)) - set(model.body_link.tolist()))} carry no body")
    first_body = np.array([np.flatnonzero(model.body_link == link)[0] for link in range(n_links)])
    return base.Transform(pos=(jnp.asarray(body_pos) - offset)[:, first_body], rot=rot[:, first_body])


def nearest_fall_body(env: envs.MimicEnv, x: base.Transform) -> tuple[np.ndarray, list[str]]:
    """Per frame of ``x`` ``[T, L]``: the signed distance (metres) of the fall body nearest the floor and its name
    (distance inf and '' where the env has no fall bodies)."""
    frames = x.pos.shape[0]
    if not env._fall_geom.any():
        return np.full(frames, np.inf), [""] * frames

    floor = jnp.asarray(np.asarray(env._fall_sys.geom_bodyid) == 0)

    @jax.jit
    @jax.vmap
    def nearest(x):
        contact = brax_contact.get(env._fall_sys, x)
        k = jnp.argmin(contact.dist)
        geom1, geom2 = contact.geom[k, 0], contact.geom[k, 1]
        return contact.dist[k], jnp.where(floor[geom1], geom2, geom1)  # the body's geom, not the floor's

    dist, geom = jax.device_get(nearest(x))
    # By geom, not by link: a fixed point (humanoid3d's wrists) has its own geom on its parent's link.
    geom_body = dict(zip(env.model.body_geom.tolist(), env.model.body_names))
    return np.asarray(dist), [geom_body.get(int(g), "?") for g in geom]


def _env_for_run(run_dir: Path, data_dir: str | None = None) -> envs.MimicEnv:
    """The run's training env (its character, fall bodies and contact rule), one step long."""
    where = run_dir / store.MANIFEST_FILE
    manifest = store.read_json_object(where)
    config = recorded_run.env_config(recorded_run.manifest_section(manifest, "config", "env", where=where), where)
    config = dataclasses.replace(config, episode_length=1)  # only the geometry and the fall bodies are used
    return envs.make_env(recorded_run.clip_file(manifest, where), config, data_dir=data_dir)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help=f"a run directory with {ROLLOUT_FILE} and manifest.json")
    parser.add_argument("--distance", type=float, default=None,
                        help="contact distance (m) to count falls at (default: the run's own)")
    parser.add_argument("--max-lines", type=int, default=40, help="fallen frames to list")
    parser.add_argument("--data-dir", default=None, help="DeepMimic data directory (default: $MIMICBENCH_DATA)")
    args = parser.parse_args(argv)
    try:
        rollout = load_rollout(args.run / ROLLOUT_FILE)
        env = _env_for_run(args.run, args.data_dir)
    except (*input_errors(), FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    threshold = env.config.fall_contact_distance if args.distance is None else args.distance
    dist, body = nearest_fall_body(env, link_transforms(env.model, rollout["sim_pos"], rollout["sim_rot"]))
    dt = float(rollout["dt"])
    fallen = 1 + np.flatnonzero(dist[1:] <= threshold)  # frame 0 is the reset state, never scored as a fall
    print(f"{args.run}: {len(dist)} frames, fall bodies {', '.join(env.fall_contact_bodies) or '(none)'}")
    print(f"recorded as falls: {int(rollout['fall'].sum())} frames; a fall body within {threshold * 1000:g} mm of the "
          f"floor: {len(fallen)} frames"
          + (f", the first at {fallen[0] * dt:.2f} s" if len(fallen) else ""))
    for t in fallen[: args.max_lines]:
        print(f"  {t * dt:6.2f} s  {body[t]:<16} {dist[t] * 1000:+7.2f} mm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
