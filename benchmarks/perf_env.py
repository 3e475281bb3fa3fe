"""Environment speed: the mimic env against the raw Brax pipeline, and a 32-step gradient against its forward pass.

    python -m benchmarks.perf_env --backend spring --batch 64 --steps 32 [--devices 2] [--out results/perf]

Measures, in one process on one machine:
- ``raw``: steps/s of the bare ``pipeline_step`` (same character, backend, substeps and batch, constant PD targets);
- ``env``: steps/s of ``MimicEnv.step`` (PD mapping, body states, loss, reward, replay, observation on top);
- ``grad``: seconds of ``value_and_grad`` of the mean DiffMimic loss over a ``steps``-step rollout, and the ratio to
  the forward rollout of the same program.
With ``--devices 2`` the batch is split over two host devices with ``pmap`` (XLA's CPU backend otherwise runs one
vmapped batch on about one core). The flag must be set before JAX starts, so the script sets it itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import tyro


@dataclasses.dataclass
class PerfArgs:
    backend: str = "spring"
    batch: int = 64
    """Environments stepped together (split evenly over --devices)."""
    steps: int = 32
    """Control steps per rollout (the gradient horizon)."""
    devices: int = 1
    """Host devices to split the batch over with pmap (2 uses both cores of a 2-core machine)."""
    repeats: int = 3
    """Timed repetitions after the compile run; the best is reported."""
    clip: str = "synthetic"
    data_dir: str | None = None
    gradient: bool = True
    """Also time the gradient (compiling it takes 30-140 s depending on the backend)."""
    out: Path | None = None
    """Folder for a JSON record of the measurement (printed either way)."""


def _timed(fn, *args, repeats: int):
    import jax

    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return first, best


def measure(args: PerfArgs) -> dict:
    import jax
    import jax.numpy as jnp

    import envs

    if args.batch % args.devices:
        raise SystemExit(f"--batch {args.batch} must be divisible by --devices {args.devices}")
    env = envs.make_env(
        args.clip, envs.MimicConfig(backend=args.backend, episode_length=args.steps), data_dir=args.data_dir
    )
    per_device = args.batch // args.devices
    keys = jax.random.split(jax.random.PRNGKey(0), args.batch).reshape(args.devices, per_device, -1)
    target = jnp.asarray(env.model.action_center)

    def raw_rollout(keys):
        states = jax.vmap(env.reset)(keys).pipeline_state
        step = lambda s, _: (jax.vmap(lambda p: env.pipeline_step(p, target))(s), None)  # noqa: E731
        return jax.lax.scan(step, states, None, args.steps)[0].q

    def env_rollout(action_bias, keys):
        states = jax.vmap(env.reset)(keys)

        def step(states, _):
            states = jax.vmap(env.step, in_axes=(0, None))(states, jnp.tanh(action_bias))
            return states, states.metrics["loss"]

        return jax.lax.scan(step, states, None, args.steps)[1].mean()

    parallel = (lambda f: jax.pmap(f)) if args.devices > 1 else (lambda f: jax.jit(lambda *a: f(*[x[0] for x in a])))
    bias = jnp.zeros((args.devices, env.action_size))
    results = {}
    samples = args.batch * args.steps
    first, best = _timed(parallel(raw_rollout), keys, repeats=args.repeats)
    results["raw"] = {"compile_and_run_s": first, "run_s": best, "steps_per_s": samples / best}
    first, best = _timed(parallel(env_rollout), bias, keys, repeats=args.repeats)
    results["env"] = {"compile_and_run_s": first, "run_s": best, "steps_per_s": samples / best}
    results["env_overhead"] = results["raw"]["steps_per_s"] / results["env"]["steps_per_s"]
    if args.gradient:
        gradient = jax.value_and_grad(env_rollout)
        first, best = _timed(parallel(gradient), bias, keys, repeats=args.repeats)
        results["grad"] = {"compile_and_run_s": first, "run_s": best, "steps_per_s": samples / best}
        results["grad_over_forward"] = best / results["env"]["run_s"]
    return {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(args).items()},
        "device": str(jax.devices()[0]),
        "device_count": jax.device_count(),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "jax": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "results": results,
    }


def main(argv=None) -> None:
    args = tyro.cli(PerfArgs, args=argv, description=__doc__.split("\n")[0])
    if args.devices > 1:
        flag = f"--xla_force_host_platform_device_count={args.devices}"
        if "jax" in sys.modules:
            raise SystemExit("set --devices before JAX is imported (run this module as a script)")
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
    record = measure(args)
    r = record["results"]
    print(f"backend={args.backend} batch={args.batch} steps={args.steps} devices={args.devices} ({record['device']})")
    print(f"  raw pipeline : {r['raw']['steps_per_s']:10.0f} steps/s")
    print(f"  mimic env    : {r['env']['steps_per_s']:10.0f} steps/s   overhead {r['env_overhead']:.2f}x (goal <= 1.1x)")
    if "grad" in r:
        print(f"  32-step grad : {r['grad']['run_s']:10.3f} s/iter    {r['grad_over_forward']:.2f}x the forward rollout")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"perf_env_{args.backend}_b{args.batch}_d{args.devices}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
