"""Throughput of this machine, in one run: the environment and each method's training, on 1 device and on all.

    python -m benchmarks.perf                       # quick-tier settings, synthetic clip -> results/perf/<machine>.json
    python -m benchmarks.perf --tier paper --clip walk --name gpu-h200   # DiffMimic 300 x 59 steps, PPO batch 4096

Measures, for each device count (1, and every local device: one XLA host device per CPU core, or every GPU):

- ``raw``: steps/s of the bare Brax ``pipeline_step`` (the character, backend and substeps of the env; constant PD
  targets) over DiffMimic's batch and rollout length at the tier's settings;
- ``env``: steps/s of ``MimicEnv.step`` (PD mapping, body states, loss, reward, replay, observation on top), and
  ``env_over_raw`` (the issue's target: <= 1.1);
- ``grad``: seconds of ``value_and_grad`` of the mean DiffMimic loss over that rollout, and ``grad_over_forward``
  (target: <= 3), with the env's default of recomputing each physics substep in the backward pass
  (``MimicEnv.remat_substeps``); ``grad_remat`` the same with each control step rematerialised too
  (``jax.checkpoint``, DiffMimic's ``remat_steps``), and ``remat_grad_over_forward``; ``grad_stored_substeps`` with
  the substeps' intermediates stored instead, and ``stored_grad_over_forward``;
- ``training``: each method's samples/s and seconds per update at the tier's settings, the update compiled as the
  harness compiles it (batch split with ``methods.parallel``), with its compile seconds.

Every figure is the best of ``--repeats`` timed calls after one untimed call. The README's throughput table is
generated from the files this writes (``python -m benchmarks.perf_table``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import platform
import time
from pathlib import Path

import tyro

from benchmarks.host_devices import cpu_cores, request_host_devices


@dataclasses.dataclass
class PerfArgs:
    tier: str = "quick"
    """Budget tier whose method settings are measured (`quick`: the CPU tier; `paper`: the GPU one)."""
    clip: str = "synthetic"
    """Clip of the environment (the embedded one needs no data; any suite clip or motion file works)."""
    methods: str = "diffmimic,ppo,ppo_deepmimic"
    """Comma-separated methods whose training is timed."""
    devices: str | None = None
    """Comma-separated device counts to measure (default: 1 and all local devices)."""
    repeats: int = 3
    """Timed calls after the untimed first one; the best is reported."""
    data_dir: str | None = None
    name: str | None = None
    """File name of the record (default: cpu<cores>-<processor> or gpu-<kind>)."""
    out: Path = Path("results/perf")


def best_seconds(fn, *args, repeats: int) -> float:
    """Best of ``repeats`` timed calls of ``fn(*args)`` after one untimed call."""
    import jax

    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


def _compiled(fn, *args):
    """``fn`` jitted and compiled for ``args``, and the compile seconds."""
    import jax

    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def record_provenance() -> dict:
    """What a perf record says of the code and machine setup it measured: JAX's version, the git commit (and whether
    the tree was dirty), package versions, XLA flags and the start time."""
    import jax

    from benchmarks import results_store as store

    return {"jax": jax.__version__,
            **{key: value for key, value in store.collect_provenance().items()
               if key in ("git_commit", "git_dirty", "package_versions", "xla_flags", "start_time")}}


def measure_env(env, batch: int, steps: int, repeats: int) -> dict:
    """Raw pipeline, env and gradient over ``batch`` environments x ``steps`` control steps, on the active devices."""
    import jax
    import jax.numpy as jnp

    from methods.parallel import shard_batch

    keys = shard_batch(jax.random.split(jax.random.PRNGKey(0), batch))
    target = jnp.asarray(env.model.action_center)

    def raw_rollout(keys):
        states = shard_batch(jax.vmap(env.reset)(keys).pipeline_state)

        def step(states, _):
            return shard_batch(jax.vmap(lambda p: env.pipeline_step(p, target))(states)), None

        return jax.lax.scan(step, states, None, steps)[0].q

    # The same env with each substep's intermediates stored for the backward pass (the env recomputes them).
    stored_env = copy.copy(env)
    stored_env.remat_substeps = False

    def make_env_rollout(remat: bool, env=env):
        def env_rollout(action_bias, keys):
            states = shard_batch(jax.vmap(env.reset)(keys))

            def step(states, _):
                states = shard_batch(jax.vmap(env.step, in_axes=(0, None))(states, jnp.tanh(action_bias)))
                return states, states.metrics["loss"]

            return jnp.mean(jax.lax.scan(jax.checkpoint(step) if remat else step, states, None, steps)[1])

        return env_rollout

    env_rollout = make_env_rollout(remat=False)

    bias = jnp.zeros(env.action_size)
    record, samples = {}, batch * steps
    for name, fn, args in (
        ("raw", raw_rollout, (keys,)),
        ("env", env_rollout, (bias, keys)),
        ("grad", jax.value_and_grad(env_rollout), (bias, keys)),
        ("grad_remat", jax.value_and_grad(make_env_rollout(remat=True)), (bias, keys)),
        ("grad_stored_substeps", jax.value_and_grad(make_env_rollout(remat=False, env=stored_env)), (bias, keys)),
    ):
        compiled, compile_seconds = _compiled(fn, *args)
        seconds = best_seconds(compiled, *args, repeats=repeats)
        record[name] = {"seconds": seconds, "steps_per_s": samples / seconds, "compile_s": compile_seconds}
    record["env_over_raw"] = record["raw"]["steps_per_s"] / record["env"]["steps_per_s"]
    record["grad_over_forward"] = record["grad"]["seconds"] / record["env"]["seconds"]
    record["remat_grad_over_forward"] = record["grad_remat"]["seconds"] / record["env"]["seconds"]
    record["stored_grad_over_forward"] = record["grad_stored_substeps"]["seconds"] / record["env"]["seconds"]
    return record


def measure_training(spec, devices: int, repeats: int) -> dict:
    """Samples/s of ``spec``'s method update, compiled as the harness compiles it, split over ``devices``."""
    import jax

    from benchmarks import harness
    from methods import parallel

    method, config, env = harness.build(spec)
    with parallel.data_parallel(devices):
        state, shardings = parallel.place(method.init(jax.random.PRNGKey(0), env, config))
        key = jax.random.PRNGKey(1)
        start = time.perf_counter()
        update = harness.compile_update(method, env, config, state, key, shardings)
        compile_seconds = time.perf_counter() - start
        state, metrics = update(state, key)  # untimed: the first call
        jax.block_until_ready(metrics)
        best = float("inf")
        for index in range(repeats):
            start = time.perf_counter()
            state, metrics = update(state, jax.random.fold_in(key, index))
            jax.block_until_ready(metrics)
            best = min(best, time.perf_counter() - start)
    samples = int(metrics["samples"])
    return {"samples_per_update": samples, "seconds_per_update": best, "samples_per_s": samples / best,
            "compile_s": compile_seconds}


def machine_name() -> str:
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"cpu{cpu_cores()}-{(platform.processor() or platform.machine()).replace(' ', '_')}"
    return f"{device.platform}-{device.device_kind.replace(' ', '_').lower()}"


def run(args: PerfArgs) -> dict:
    import jax

    import envs
    from benchmarks import harness
    from benchmarks.suites import clip_spec
    from benchmarks.tiers import get_tier
    from methods import parallel

    tier = get_tier(args.tier)
    clip = clip_spec(args.clip)
    counts = sorted({1, jax.local_device_count()}) if args.devices is None else [
        int(count) for count in args.devices.split(",")]
    spec = lambda method: harness.RunSpec("perf", clip, method, 0, tier, data_dir=args.data_dir)  # noqa: E731
    _, diffmimic_config, _ = harness.method_config(spec("diffmimic"))
    batch, steps = diffmimic_config.num_envs, diffmimic_config.rollout_length
    env = envs.make_env(clip.clip, envs.MimicConfig(episode_length=steps), data_dir=args.data_dir)
    record = {
        "machine": {"name": args.name or machine_name(), "platform": jax.devices()[0].platform,
                    "device_kind": jax.devices()[0].device_kind, "cpus": cpu_cores(),
                    "processor": platform.processor() or platform.machine(),
                    "local_devices": jax.local_device_count()},
        "settings": {"tier": tier.name, "clip": args.clip, "env_batch": batch, "env_steps": steps,
                     "repeats": args.repeats},
        **record_provenance(),
        "env": {},
        "training": {},
    }
    for count in counts:
        with parallel.data_parallel(parallel.usable_devices(count, (batch,))):
            record["env"][str(count)] = measure_env(env, batch, steps, args.repeats)
        print(f"devices={count} env: {json.dumps(record['env'][str(count)])}", flush=True)
    for method in [name.strip() for name in args.methods.split(",") if name.strip()]:
        record["training"][method] = {}
        _, config, _ = harness.method_config(spec(method))
        for count in counts:
            devices = parallel.usable_devices(count, (getattr(config, "num_envs", count),))
            record["training"][method][str(count)] = {"devices": devices, **measure_training(spec(method), devices,
                                                                                             args.repeats)}
            print(f"devices={count} {method}: {json.dumps(record['training'][method][str(count)])}", flush=True)
    return record


def main(argv=None) -> None:
    args = tyro.cli(PerfArgs, args=argv, description=__doc__.split("\n")[0])
    request_host_devices()  # one host device per core, before JAX is imported
    from benchmarks.console import quiet_libraries

    quiet_libraries()
    record = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{record['machine']['name']}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
