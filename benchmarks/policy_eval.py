"""Evaluate a finished run's final policy again: deterministically, as the harness does, and as DiffMimic's release
does (actions sampled from the method's stochastic policy, several episodes from frame 0, averaged).

    python -m benchmarks.policy_eval results/long-cpu/deepmimic/backflip/diffmimic/seed_1 --episodes 32

The harness keeps a finished run's last state as ``final_state.msgpack`` (git-ignored: the file stays on the
machine that trained it). The run's environment, evaluation env and method config are rebuilt from its
``manifest.json``, so the evaluation measures the run as it was trained. The deterministic line re-evaluates the
curve's last row: the same number up to float rounding (another device count compiles another program), which a
fall can amplify (after a fall the simulation is chaotic: the backflip's 20 s error of one final state measured
0.549 m in its run and 0.512 m here, its cycle error 0.094 m in both). The sampled line is DiffMimic's
``eval/episode_pose_error`` for this policy (``num_eval_envs`` 32, ``deterministic_eval`` False), with the spread
over episodes. ``--json FILE`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

import envs
from benchmarks import recorded_run
from benchmarks import results_store as store
from benchmarks.evaluator import (EVALUATION_METRICS, Horizons, evaluation_env, make_evaluate,
                                  make_sampled_evaluate)
from benchmarks.harness import FINAL_STATE_FILE, read_saved_state
from benchmarks.input_errors import input_errors
from methods import get_method

DEFAULT_EPISODES = 32  # DiffMimic's num_eval_envs


class PolicyEvalError(ValueError):
    """A run that cannot be re-evaluated; the message names the file and the problem."""


@dataclasses.dataclass
class SavedRun:
    """A finished run rebuilt from its files: what its final policy is evaluated with."""

    dir: Path
    manifest: dict
    curve_last: dict
    method: Any
    config: Any
    eval_env: envs.MimicEnv
    horizons: Horizons
    state: Any
    samples: int


def load_saved_run(run_dir: str | Path, data_dir: str | None = None) -> SavedRun:
    """The run in ``run_dir`` with its final state restored. Raises PolicyEvalError (or the store's CorruptRunError,
    the harness's CheckpointError, a data or motion error) naming the file and the problem."""
    run_dir = Path(run_dir)
    run = store.load_run(run_dir)
    if run.summary is None:
        raise PolicyEvalError(f"{run_dir}: the run is not finished (no {store.SUMMARY_FILE}); finish it first")
    state_path = run_dir / FINAL_STATE_FILE
    if not state_path.exists():
        raise PolicyEvalError(f"{state_path}: missing (the run finished before final states were kept, or its "
                              "directory was copied without it: git does not track it)")
    where = run_dir / store.MANIFEST_FILE
    method = get_method(run.manifest["method"])
    config = recorded_run.method_config(method, recorded_run.manifest_section(run.manifest, "config", "method",
                                                                              where=where), where)
    clip = recorded_run.clip_file(run.manifest, where)
    env = envs.make_env(clip, recorded_run.env_config(
        recorded_run.manifest_section(run.manifest, "config", "env", where=where), where), data_dir=data_dir)
    evaluation = recorded_run.manifest_section(run.manifest, "config", "evaluation", where=where)
    horizons = Horizons(*(recorded_run.manifest_section(evaluation, name, where=where)
                          for name in ("cycle_frames", "long_frames")))
    eval_env = evaluation_env(clip, env, horizons, data_dir=data_dir)
    # The evaluation env is derived, not recorded: check that this code derives the one the run was evaluated in.
    rebuilt = recorded_run.as_json(dataclasses.asdict(eval_env.config))
    recorded = recorded_run.as_json(dataclasses.asdict(recorded_run.env_config(
        recorded_run.manifest_section(evaluation, "env", where=where), where)))
    changed = sorted(name for name in set(rebuilt) | set(recorded) if rebuilt.get(name) != recorded.get(name))
    if changed:
        raise PolicyEvalError(f"{where}: this code builds another evaluation env than the run's ({', '.join(changed)})")

    state, counters = read_saved_state(state_path, method.init(jax.random.PRNGKey(0), env, config))
    last = run.curve.iloc[-1]
    if (int(counters["samples"]), int(counters["iteration"])) != (int(last["samples"]), int(last["iteration"])):
        raise PolicyEvalError(f"{state_path}: saved after {int(counters['samples']):,} samples (iteration "
                              f"{int(counters['iteration'])}), but the curve ends at {int(last['samples']):,} "
                              f"(iteration {int(last['iteration'])}): not this run's final state")
    return SavedRun(run_dir, run.manifest, {name: float(last[name]) for name in EVALUATION_METRICS}, method,
                    config, eval_env, horizons, state, int(counters["samples"]))


def deterministic_evaluation(saved: SavedRun) -> dict[str, float]:
    """The harness's evaluation of the final policy: one episode, the mean action, key 0."""
    evaluate = jax.jit(make_evaluate(saved.eval_env, saved.method.policy, saved.horizons))
    return {name: float(value) for name, value in jax.device_get(evaluate(saved.state, jax.random.PRNGKey(0))).items()}


def sampled_evaluation(saved: SavedRun, episodes: int, seed: int = 0) -> tuple[dict[str, float], dict[str, list]]:
    """DiffMimic's evaluation of the final policy: the means over ``episodes`` sampled episodes, and each episode's
    metrics."""
    if saved.method.sample_policy is None:
        raise PolicyEvalError(f"{saved.dir}: method '{saved.method.name}' has no stochastic policy (sample_policy)")
    evaluate = jax.jit(make_sampled_evaluate(saved.eval_env, saved.method.sample_policy, saved.horizons, episodes))
    means, per_episode = jax.device_get(evaluate(saved.state, jax.random.PRNGKey(seed)))
    return ({name: float(value) for name, value in means.items()},
            {name: np.asarray(value, float).tolist() for name, value in per_episode.items()})


def _format(value: float, unit: str = "") -> str:
    return "-" if not np.isfinite(value) else f"{value:.3f}{unit}"


def format_table(saved: SavedRun, rows: list[tuple[str, dict[str, float]]], spread: dict[str, list] | None) -> str:
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
             f"final policy after {saved.samples:,} samples")
    return "\n".join([title, *body])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help=f"a finished run's directory (with {FINAL_STATE_FILE})")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES,
                        help="sampled episodes (DiffMimic's num_eval_envs: 32; 0: deterministic only)")
    parser.add_argument("--seed", type=int, default=0, help="key of the sampled episodes")
    parser.add_argument("--data-dir", default=None, help="DeepMimic data directory (default: $MIMICBENCH_DATA)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.episodes < 0:
        parser.error(f"--episodes must be >= 0, got {args.episodes}")
    try:
        saved = load_saved_run(args.run, args.data_dir)
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
                                                "episodes": args.episodes, "seed": args.seed, **results,
                                                "sampled_per_episode": spread})
        except OSError as error:
            print(f"error: {args.json}: cannot write ({error})", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
