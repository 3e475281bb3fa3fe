"""Evaluate a finished run's final policy again: deterministically, as the harness does, and as DiffMimic's release
does (actions sampled from the method's stochastic policy, several episodes from frame 0, averaged).

    python -m benchmarks.policy_eval results/long-cpu/deepmimic/backflip/diffmimic/seed_1 --episodes 32

The harness keeps a finished run's last state as ``final_state.msgpack`` (git-ignored: the file stays on the
machine that trained it). The run's environment, evaluation env and method config are rebuilt from its
``manifest.json``, and the process takes as many host devices as the run's had, so the deterministic line
re-evaluates the curve's last row with the program the harness ran (``--devices`` to choose: another device count
compiles another program, whose float rounding a fall can grow into another episode). The sampled line is
DiffMimic's ``eval/episode_pose_error`` for this policy (``num_eval_envs`` 32, ``deterministic_eval`` False), with
the spread over episodes. ``--json FILE`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks import results_store as store
from benchmarks.console import quiet_libraries
from benchmarks.host_devices import request_host_devices
from benchmarks.input_errors import input_errors

DEFAULT_EPISODES = 32  # DiffMimic's num_eval_envs


def _run_devices(run_dir: Path) -> tuple[int | None, int | None]:
    """(host devices of the run's process, devices its batch was split over) from its manifest; None if unknown."""
    try:
        manifest = store.read_json_object(run_dir / store.MANIFEST_FILE)
    except store.CorruptRunError:
        return None, None  # reported with its file when the run is loaded
    return manifest.get("local_device_count"), manifest.get("device_count")


def _format(value: float, unit: str = "") -> str:
    return "-" if not np.isfinite(value) else f"{value:.3f}{unit}"


def format_table(saved, rows: list[tuple[str, dict[str, float]]], spread: dict[str, list] | None) -> str:
    """The evaluations side by side: pose errors (m), contact falls (fraction of episodes that fell), the first
    fall (s; the mean over the episodes that fell)."""
    header = ("evaluation", "pose error cycle", "pose error 20 s", "fell (cycle)", "fell (20 s)",
              "first fall (of those that fell)")
    lines = [header]
    for label, metrics in rows:
        lines.append((label, _format(metrics["pose_error_cycle"]), _format(metrics["pose_error_20s"]),
                      _format(metrics["fall_rate_cycle"]), _format(metrics["fall_rate_20s"]),
                      _format(metrics["first_fall_seconds"], " s")))
    if spread is not None:
        lines.append(("  sampled, per episode min-max",
                      *(f"{min(spread[name]):.3f}-{max(spread[name]):.3f}" if np.isfinite(spread[name]).all() else "-"
                        for name in ("pose_error_cycle", "pose_error_20s")), "", "", ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    body = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    title = (f"{saved.dir}: {saved.method.name} on {saved.manifest.get('clip')}, seed {saved.manifest.get('seed')}, "
             f"final policy after {saved.samples:,} samples, on {saved.devices} device(s)")
    return "\n".join([title, *body])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help=f"a finished run's directory (with {store.FINAL_STATE_FILE})")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES,
                        help="sampled episodes (DiffMimic's num_eval_envs: 32; 0: deterministic only)")
    parser.add_argument("--seed", type=int, default=0, help="key of the sampled episodes")
    parser.add_argument("--data-dir", default=None, help="DeepMimic data directory (default: $MIMICBENCH_DATA)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--devices", type=int, default=None,
                        help="devices to evaluate on (default: the run's; host devices are set before JAX loads)")
    args = parser.parse_args(argv)
    if args.episodes < 0:
        parser.error(f"--episodes must be >= 0, got {args.episodes}")
    if args.devices is not None and args.devices < 1:
        parser.error(f"--devices must be at least 1, got {args.devices}")
    host_devices, run_devices = _run_devices(args.run)
    request_host_devices(max(args.devices or 0, host_devices or 0) or None)  # before JAX is imported
    quiet_libraries(verbose=False)
    from benchmarks.saved_policy import deterministic_evaluation, load_saved_run, sampled_evaluation

    try:
        saved = load_saved_run(args.run, args.data_dir, devices=args.devices or run_devices)
        print(f"{args.run}: compiling the evaluations...", file=sys.stderr)
        results = {"recorded": saved.curve_last, "deterministic": deterministic_evaluation(saved)}
        spread = None
        if args.episodes and saved.method.sample_policy is not None:
            results["sampled"], spread = sampled_evaluation(saved, args.episodes, args.seed)
        elif args.episodes:
            print(f"note: method '{saved.method.name}' has no stochastic policy: deterministic only", file=sys.stderr)
    except input_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    labels = {"recorded": "recorded (the curve's last row)", "deterministic": "deterministic, 1 episode",
              "sampled": f"sampled, {args.episodes} episodes"}
    print(format_table(saved, [(labels[name], metrics) for name, metrics in results.items()], spread))
    if args.json is not None:
        try:
            store.write_json_atomic(args.json, {"run": str(args.run), "samples": saved.samples,
                                                "devices": saved.devices, "episodes": args.episodes,
                                                "seed": args.seed, **results,
                                                "sampled_per_episode": spread})
        except OSError as error:
            print(f"error: {args.json}: cannot write ({error})", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
