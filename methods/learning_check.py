"""Does a method learn? Train briefly on a clip and compare the deterministic policy before and after.

    python -m methods.learning_check --method diffmimic            # 150 updates of 16 envs x 32 steps
    python -m methods.learning_check --method ppo                  # 240 s of training, 32 envs x 32 steps
    python -m methods.learning_check --method diffmimic --override num_envs=32 --override rollout_length=60

A correctness probe, not the benchmark (that is the harness's job): a small CPU budget on the embedded synthetic
clip, which is trackable by construction. Evaluation follows DESIGN.md's pose error: frame 0, deterministic policy,
no replay, no early termination, ``eval_steps`` control steps; evaluation steps are not samples.
"""

from __future__ import annotations

import ast
import dataclasses
import time
from typing import Annotated

import jax
import jax.numpy as jnp
import tyro

import envs
from methods.registry import check_compatible, get_method

# Small enough for two CPU cores (a few minutes each); configs can be overridden with --override.
_DIFFMIMIC = {"num_envs": 16, "rollout_length": 32, "num_iterations": 150}
SMALL_CONFIG = {
    "diffmimic": _DIFFMIMIC,
    "diffmimic_noreplay": _DIFFMIMIC,
    "diffmimic_random": _DIFFMIMIC,
    "ppo": {"num_envs": 32, "unroll_length": 32, "minibatch_size": 256},
    # ppo_deepmimic keeps DeepMimic's batch of 4096 (64 envs x 64 steps).
}
# (updates, train seconds) when not given: DiffMimic by updates, PPO by a time budget.
SMALL_BUDGET = {"diffmimic": (150, 0.0), "ppo": (100_000, 240.0)}


@dataclasses.dataclass
class Args:
    method: str = "diffmimic"
    """Registered method name."""
    clip: str = "synthetic"
    """Clip name (``synthetic`` needs no data) or motion file."""
    data_dir: str | None = None
    """DeepMimic data folder for the shipped clips."""
    backend: str = "spring"
    """Brax physics pipeline."""
    iterations: int | None = None
    """Updates at most (default: 150 for diffmimic, unbounded for ppo)."""
    seconds: float | None = None
    """Stop once training (excluding compile) has taken this long; 0: no limit (default: 240 for ppo)."""
    eval_steps: int = 60
    """Control steps of the evaluation episode from frame 0."""
    seed: int = 0
    override: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Config override ``field=value`` (a Python literal) on top of the small-budget preset; repeat for more."""
    env_override: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Environment override ``field=value`` of ``envs.MimicConfig`` (e.g. ``torque_limits=character``,
    ``random_start_range=24``) for both envs; not ``backend`` or ``episode_length`` (options of their own), and the
    fields the method sets itself (replay, random start, early termination, its action mapping) keep the method's."""
    log_every: int = 10
    """Print training metrics every this many updates."""
    eval_every: int = 0
    """Also evaluate every this many updates (0: only before and after); evaluation time is not training time."""


def _parse_overrides(items: tuple[str, ...]) -> dict:
    overrides = {}
    for item in items:
        name, _, text = item.partition("=")
        try:
            overrides[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[name] = text
    return overrides


def _overrides(args: Args) -> dict:
    return {**SMALL_CONFIG.get(args.method, {}), **_parse_overrides(args.override)}


def make_evaluator(method, env, steps: int):
    """Jitted ``state -> (pose error, summed reward, fell)`` of one deterministic episode from frame 0."""

    def evaluate(train_state):
        act = method.policy(train_state)
        env_state = env.reset(jax.random.PRNGKey(0))

        def step(env_state, _):
            env_state = env.step(env_state, act(env_state.obs, None))
            return env_state, (env_state.metrics["pose_error"], env_state.reward, env_state.metrics["fall"])

        _, (pose_error, reward, fall) = jax.lax.scan(step, env_state, None, length=steps)
        return jnp.mean(pose_error), jnp.sum(reward), jnp.max(fall)

    return jax.jit(evaluate)


def build_envs(args: Args, method, config) -> tuple[envs.MimicEnv, envs.MimicEnv]:
    """The training env (the method's settings) and the evaluation env: the same settings, evaluated as the harness
    evaluates (from frame 0, no replay, no early termination), on one shared reference."""
    base = envs.MimicConfig(backend=args.backend, episode_length=args.eval_steps, **_parse_overrides(args.env_override))
    train_config = method.env_config(config, base)
    # From train_config, not base: the method's own settings, its action mapping above all (PPO's is DeepMimic's).
    eval_config = dataclasses.replace(
        train_config, random_start=False, replay="none", early_termination=False, episode_length=args.eval_steps
    )
    # One reference long enough for both the training episodes and the evaluation.
    longest = dataclasses.replace(base, episode_length=max(train_config.episode_length, args.eval_steps))
    reference = envs.make_env(args.clip, longest, data_dir=args.data_dir)
    env = envs.MimicEnv(reference.model, reference.reference, train_config)
    eval_env = envs.MimicEnv(reference.model, reference.reference, eval_config)
    return env, eval_env


def main(args: Args) -> dict:
    method = get_method(args.method)
    iterations, seconds = SMALL_BUDGET.get(args.method.split("_")[0], (150, 0.0))
    iterations = args.iterations if args.iterations is not None else iterations
    seconds = args.seconds if args.seconds is not None else seconds
    config = method.config_cls(**_overrides(args))
    env, eval_env = build_envs(args, method, config)
    check_compatible(method, env, config)
    print(f"{method.name}: {config}")

    key = jax.random.PRNGKey(args.seed)
    init_key, key = jax.random.split(key)
    state = method.init(init_key, env, config)
    evaluate = make_evaluator(method, eval_env, args.eval_steps)
    before = [float(x) for x in evaluate(state)]
    update = method.jit_update(env, config)

    samples, train_seconds, compile_seconds = 0, 0.0, 0.0
    for iteration in range(iterations):
        key, update_key = jax.random.split(key)
        start = time.perf_counter()
        state, metrics = update(state, update_key)
        metrics = jax.device_get(metrics)
        elapsed = time.perf_counter() - start
        if iteration == 0:
            compile_seconds = elapsed  # compile + the first update, reported apart as DESIGN.md asks
        else:
            train_seconds += elapsed
        samples += int(metrics["samples"])
        if metrics["grad_finite"] < 1:
            print(f"iteration {iteration}: non-finite gradient, update skipped")
        if iteration % args.log_every == 0 or iteration == iterations - 1:
            shown = {name: float(f"{float(value):.4g}") for name, value in sorted(metrics.items()) if name != "samples"}
            print(f"it {iteration:4d} samples {samples:8d} train_s {train_seconds:7.1f} {shown}", flush=True)
        if args.eval_every and (iteration + 1) % args.eval_every == 0:
            pose_error, total_reward, fell = (float(x) for x in evaluate(state))
            print(f"eval after {iteration + 1} updates, {samples} samples: pose error {pose_error:.4f} "
                  f"return {total_reward:.2f} fell {fell:.0f}", flush=True)
        if seconds and train_seconds >= seconds:
            break
    after = [float(x) for x in evaluate(state)]
    result = {
        "method": method.name,
        "iterations": iteration + 1,
        "samples": samples,
        "compile_plus_first_update_s": round(compile_seconds, 1),
        "train_s": round(train_seconds, 1),
        "pose_error_before": round(before[0], 4),
        "pose_error_after": round(after[0], 4),
        "return_before": round(before[1], 3),
        "return_after": round(after[1], 3),
        "fell_before": before[2],
        "fell_after": after[2],
    }
    print(result)
    return result


if __name__ == "__main__":
    main(tyro.cli(Args))
