"""Evaluate a finished run's final policy again: deterministically, as the harness does, and as DiffMimic's release
does (actions sampled from the method's stochastic policy, several episodes from frame 0, averaged).

    python -m benchmarks.policy_eval results/long-cpu/deepmimic/backflip/diffmimic/seed_1 --episodes 32

The harness keeps a finished run's last state as ``final_state.msgpack`` (git-ignored: the file stays on the
machine that trained it). The run's environment, evaluation env and method config are rebuilt from its
``manifest.json``, so the evaluation measures the run as it was trained. The deterministic line re-evaluates the
curve's last row (the same number, up to float rounding across device counts); the sampled line is DiffMimic's
``eval/episode_pose_error`` for this policy (``num_eval_envs`` 32, ``deterministic_eval`` False), with the spread
over episodes. ``--json FILE`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

import envs
from benchmarks import results_store as store
from benchmarks.evaluator import (EVALUATION_METRICS, Horizons, evaluation_env, make_evaluate,
                                  make_sampled_evaluate)
from benchmarks.harness import FINAL_STATE_FILE, CheckpointError, read_saved_state
from envs.losses import LossWeights
from envs.rewards import RewardWeights
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


def _as_tuples(value):
    """JSON lists back to the tuples the config dataclasses hold."""
    if isinstance(value, list):
        return tuple(_as_tuples(item) for item in value)
    return value


def _env_config(recorded: dict, where: str) -> envs.MimicConfig:
    fields = {field.name for field in dataclasses.fields(envs.MimicConfig)}
    unknown = sorted(set(recorded) - fields)
    if unknown:
        raise PolicyEvalError(f"{where}: env settings this code does not have: {', '.join(unknown)}")
    values = {name: _as_tuples(value) for name, value in recorded.items()}
    # Records from before an option existed ran with what is now its recorded default.
    values["torque_limits"] = store.recorded_torque_limits(recorded)
    values["fall_contact_distance"] = store.recorded_fall_contact_distance(recorded)
    values["loss_weights"] = LossWeights(**recorded.get("loss_weights", {}))
    values["reward_weights"] = RewardWeights(**recorded.get("reward_weights", {}))
    return envs.MimicConfig(**values)


def load_saved_run(run_dir: str | Path, data_dir: str | None = None) -> SavedRun:
    """The run in ``run_dir`` with its final state restored; PolicyEvalError naming the file if it cannot be."""
    run_dir = Path(run_dir)
    try:
        run = store.load_run(run_dir)
    except store.CorruptRunError as error:
        raise PolicyEvalError(str(error)) from None
    if run.summary is None:
        raise PolicyEvalError(f"{run_dir}: the run is not finished (no summary.json); finish it first")
    state_path = run_dir / FINAL_STATE_FILE
    if not state_path.exists():
        raise PolicyEvalError(f"{state_path}: missing (the run finished before final states were kept, or its "
                              "directory was copied without it: git does not track it)")
    config = run.manifest.get("config", {})
    where = str(run_dir / store.MANIFEST_FILE)
    try:
        method = get_method(run.manifest["method"])
        method_config = method.config_cls(**{name: _as_tuples(value) for name, value in config["method"].items()})
        env = envs.make_env(config["clip_file"], _env_config(config["env"], where), data_dir=data_dir)
        evaluation = config["evaluation"]
        horizons = Horizons(cycle_frames=evaluation["cycle_frames"], long_frames=evaluation["long_frames"])
    except (KeyError, TypeError) as error:
        raise PolicyEvalError(f"{where}: cannot rebuild the run ({type(error).__name__}: {error})") from None
    eval_env = evaluation_env(config["clip_file"], env, horizons, data_dir=data_dir)
    rebuilt = json.loads(json.dumps(dataclasses.asdict(eval_env.config)))
    recorded = dict(evaluation["env"], torque_limits=store.recorded_torque_limits(evaluation["env"]),
                    fall_contact_distance=store.recorded_fall_contact_distance(evaluation["env"]))
    changed = sorted(name for name in set(rebuilt) | set(recorded) if rebuilt.get(name) != recorded.get(name))
    if changed:
        raise PolicyEvalError(f"{where}: this code builds another evaluation env than the run's ({', '.join(changed)})")
    template = method.init(jax.random.PRNGKey(0), env, method_config)
    try:
        state, counters = read_saved_state(state_path, template)
    except CheckpointError as error:
        raise PolicyEvalError(str(error)) from None
    last = run.curve.iloc[-1]
    return SavedRun(run_dir, run.manifest, {name: float(last[name]) for name in EVALUATION_METRICS}, method,
                    method_config, eval_env, horizons, state, int(counters["samples"]))


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
    """The evaluations side by side: pose errors (m), contact falls (fraction of episodes), first fall (s)."""
    header = ("evaluation", "pose error cycle", "pose error 20 s", "fell (cycle)", "fell (20 s)", "first fall")
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
    except (PolicyEvalError, envs.EnvConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    labels = {"recorded": "recorded (the curve's last row)", "deterministic": "deterministic, 1 episode",
              "sampled": f"sampled, {args.episodes} episodes"}
    print(format_table(saved, [(labels[name], metrics) for name, metrics in results.items()], spread))
    if args.json is not None:
        store.write_json_atomic(args.json, {"run": str(args.run), "samples": saved.samples, "episodes": args.episodes,
                                            "seed": args.seed, **results, "sampled_per_episode": spread})
    return 0

if __name__ == "__main__":
    sys.exit(main())
