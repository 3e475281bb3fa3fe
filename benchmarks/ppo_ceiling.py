"""How fast Adam PPO's update can get on this machine: its two parts, the SGD's arithmetic, and the matmul rate.

    python -m benchmarks.ppo_ceiling        # quick-tier ppo, synthetic clip -> results/perf/ppo_ceiling/<machine>-ppo.json

Times, at the tier's settings, the whole update and its collection alone (the batch's rollout and the GAE
advantages), each on one device and on all of them, compiled as the harness compiles them; the rest of the update is
the minibatch SGD (with its shuffles and gathers, the observation statistics and the metrics, a small share). Counts the SGD's floating-point operations from the networks' layer shapes (XLA's cost analysis
counts a loop's body once, so it cannot count a scan of minibatches), and measures the rate at which this machine
multiplies fp32 matrices of the SGD's own layer shapes under XLA (the forward orientation; the backward pass's
transposed products may run a little faster or slower). From these: the SGD's achieved rate as a fraction of the
matmul rate, and the fastest update these parts allow (collection as fast as measured on any device count, SGD at the
full matmul rate), as a multiple of the old code's samples/s in the side-by-side record.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path

import tyro

from benchmarks.host_devices import request_host_devices
from benchmarks.perf import best_seconds


@dataclasses.dataclass
class CeilingArgs:
    tier: str = "quick"
    """Budget tier whose ppo settings are measured."""
    clip: str = "synthetic"
    """Clip of the environment (the embedded one needs no data)."""
    method: str = "ppo"
    """A PPO variant (ppo or ppo_deepmimic)."""
    repeats: int = 5
    """Timed calls after the untimed first one; the best is reported."""
    side_by_side: Path | None = None
    """Side-by-side record whose old ppo samples/s is the baseline (default: results/perf/side_by_side/<machine>.json)."""
    data_dir: str | None = None
    out: Path = Path("results/perf/ppo_ceiling")


def dense_layer_shapes(params) -> list[tuple[int, int]]:
    """(inputs, outputs) of each dense layer of a flax MLP's params, in order."""
    layers = params["params"] if "params" in params else params
    return [tuple(layers[name]["kernel"].shape) for name in sorted(layers, key=lambda n: int(n.split("_")[-1]))]


def mlp_training_flops(shapes: list[tuple[int, int]], batch: int) -> int:
    """Multiply-add operations (2 per multiply-add) of one forward and backward pass of an MLP over ``batch`` rows.

    Forward: 2 x batch x inputs x outputs per layer. Backward: the same again for the weight gradient of every layer,
    and for the input gradient of every layer but the first (nothing needs the gradient of the observations).
    Elementwise work (activations, biases, the optimiser) is left out: it is a few per cent at these widths.
    """
    return 2 * dense_flops(shapes, batch) + dense_flops(shapes[1:], batch)


def dense_flops(shapes: list[tuple[int, int]], batch: int) -> int:
    """Operations of multiplying ``batch`` rows through each layer once: 2 x batch x inputs x outputs per layer."""
    return sum(2 * batch * n_in * n_out for n_in, n_out in shapes)


def matmul_rate(shapes: list[tuple[int, int]], batch: int, repeats: int, chain: int = 20) -> float:
    """FLOP/s of XLA multiplying a (batch, inputs) matrix by each layer's (inputs, outputs) kernel, ``chain`` times."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.PRNGKey(0), len(shapes) + 1)
    kernels = [jax.random.normal(key, shape) / shape[0] ** 0.5 for key, shape in zip(keys[1:], shapes)]
    inputs = [jax.random.normal(keys[0], (batch, shape[0])) for shape in shapes]

    @jax.jit
    def products(inputs, kernels):
        def body(_, xs):
            # Each product shifts the next iteration's inputs, so XLA cannot hoist a product out of the loop.
            return [x + 1e-3 * jnp.mean(x @ w) for x, w in zip(xs, kernels)]

        return jax.lax.fori_loop(0, chain, body, inputs)

    return chain * dense_flops(shapes, batch) / best_seconds(products, inputs, kernels, repeats=repeats)


def measure(method, config, env, devices: int, repeats: int) -> dict:
    """Seconds of the update and of its collection alone, split over ``devices``."""
    import jax

    from benchmarks import harness
    from methods import parallel, ppo

    with parallel.data_parallel(devices):
        state, shardings = parallel.place(method.init(jax.random.PRNGKey(0), env, config))
        key = jax.random.PRNGKey(1)
        update = harness.compile_update(method, env, config, state, key, shardings)

        def collect(state, key):
            carry, batch = ppo._collect(state, key, env, config)
            return ppo._advantages(state, carry, batch, config)

        collection = jax.jit(collect, in_shardings=(shardings, parallel.replicated())).lower(state, key).compile()
        update_seconds = best_seconds(lambda s, k: update(s, k)[1], state, key, repeats=repeats)
        collect_seconds = best_seconds(collection, state, key, repeats=repeats)
    return {"devices": devices, "update_s": update_seconds, "collect_s": collect_seconds,
            "sgd_s": update_seconds - collect_seconds}


def run(args: CeilingArgs) -> dict:
    import jax

    from benchmarks import harness
    from benchmarks.perf import machine_name, record_provenance
    from benchmarks.suites import clip_spec
    from benchmarks.tiers import get_tier
    from methods import parallel

    spec = harness.RunSpec("perf", clip_spec(args.clip), args.method, 0, get_tier(args.tier), data_dir=args.data_dir)
    method, config, env = harness.build(spec)
    params = method.init(jax.random.PRNGKey(0), env, config).params
    actor, critic = dense_layer_shapes(params["actor"]), dense_layer_shapes(params["critic"])
    samples = config.num_envs * config.unroll_length
    sgd_steps = config.num_epochs * (samples // config.minibatch_size)
    sgd_flops = sgd_steps * (mlp_training_flops(actor, config.minibatch_size)
                             + mlp_training_flops(critic, config.minibatch_size))
    rate = matmul_rate(actor + critic, config.minibatch_size, args.repeats)
    print(f"matmul rate {rate / 1e9:.1f} GFLOP/s; SGD {sgd_flops / 1e9:.2f} GFLOP per update", flush=True)

    counts = sorted({1, jax.local_device_count()})
    parts = []
    for count in counts:
        devices = parallel.usable_devices(count, (config.num_envs,))
        parts.append(measure(method, config, env, devices, args.repeats))
        print(json.dumps(parts[-1]), flush=True)

    name = machine_name()
    record = {"machine": name, "settings": {"tier": args.tier, "clip": args.clip, "method": args.method,
                                            "samples_per_update": samples, "sgd_steps": sgd_steps,
                                            "minibatch": config.minibatch_size, "actor_layers": actor,
                                            "critic_layers": critic, "repeats": args.repeats},
              **record_provenance(),
              "sgd_flops": sgd_flops, "matmul_flops_per_s": rate, "parts": parts}
    best_sgd = min(part["sgd_s"] for part in parts)
    record["sgd_fraction_of_matmul_rate"] = sgd_flops / best_sgd / rate
    record["fastest_update_s"] = min(part["collect_s"] for part in parts) + sgd_flops / rate
    record["fastest_samples_per_s"] = samples / record["fastest_update_s"]
    baseline = args.side_by_side or Path("results/perf/side_by_side") / f"{name}.json"
    if baseline.exists():
        runs = [run for run in json.loads(baseline.read_text())["runs"]
                if run["commit"] == "old" and run["method"] == args.method]
        if runs:
            old = statistics.mean(run["samples_per_s"] for run in runs)
            record["old_samples_per_s"] = old
            record["best_measured_over_old"] = samples / min(part["update_s"] for part in parts) / old
            record["fastest_over_old"] = record["fastest_samples_per_s"] / old
    return record


def main(argv=None) -> None:
    args = tyro.cli(CeilingArgs, args=argv, description=__doc__.split("\n")[0])
    request_host_devices()
    record = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{record['machine']}-{args.method}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({key: value for key, value in record.items() if key not in ("parts", "settings")}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
