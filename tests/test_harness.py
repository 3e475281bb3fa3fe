"""The harness and CLI end to end, with a tiny forward-only method so that each compile takes seconds."""

import dataclasses
import json
import math
import os
import shutil
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization, struct

import methods
from benchmarks import harness, policy_eval
from benchmarks import results_store as store
from benchmarks.rollout_file import load_rollout
from benchmarks.suites import clip_spec
from benchmarks.tiers import Tier
from report.build import build_report
from run_benchmark import main as cli


@dataclasses.dataclass(frozen=True)
class ConstantConfig:
    """A forward-only test method: a constant action that shrinks each update."""

    num_envs: int = 2
    """Environments per update."""
    rollout_length: int = 4
    """Steps per environment per update."""
    diverge_at: int = 0
    """Report a non-finite gradient from this update on (0 = never)."""


@struct.dataclass
class ConstantState:
    action: jax.Array
    iteration: jax.Array
    diverge_at: jax.Array
    """The config's ``diverge_at``, carried as data: the test doubles then share one compiled update program."""


def constant_state(action, iteration=0, diverge_at=0) -> ConstantState:
    return ConstantState(action=jnp.asarray(action, jnp.float32), iteration=jnp.asarray(iteration, jnp.int32),
                         diverge_at=jnp.asarray(diverge_at, jnp.int32))


def _update(state, key, *, env, config):
    starts = jax.vmap(env.reset)(jax.random.split(key, config.num_envs))
    step = lambda s, _: (jax.vmap(env.step, in_axes=(0, None))(s, state.action), None)  # noqa: E731
    final, _ = jax.lax.scan(step, starts, None, config.rollout_length)
    iteration = state.iteration + 1
    finite = jnp.where((state.diverge_at > 0) & (iteration >= state.diverge_at), 0.0, 1.0)
    return state.replace(action=state.action * 0.9, iteration=iteration), {
        "samples": jnp.asarray(config.num_envs * config.rollout_length),
        "loss": jnp.mean(final.metrics["loss"]),
        "grad_norm": jnp.zeros(()),
        "grad_finite": finite,
    }


CONSTANT = methods.register(
    methods.Method(
        name="test_constant",
        config_cls=ConstantConfig,
        env_config=lambda config, base: dataclasses.replace(base, episode_length=config.rollout_length),
        init=lambda key, env, config: constant_state(jnp.full(env.action_size, 0.1), diverge_at=config.diverge_at),
        update=_update,
        policy=lambda state: (lambda obs, key=None: jnp.broadcast_to(state.action, obs.shape[:-1] + state.action.shape)),
        sample_policy=lambda state: (lambda obs, key: state.action + 0.05 * jax.random.normal(key, state.action.shape)),
        description="test double: a constant action that shrinks each update",
    ),
    replace=True,
)
DIVERGING = methods.register(CONSTANT.variant("test_diverging", "test double that diverges", diverge_at=2), replace=True)

TIER = Tier(
    name="test",
    description="tiny",
    max_samples=2 * 4 * 3,
    max_train_seconds=None,
    eval_every_samples=2 * 4,
    eval_frames=6,
    overrides={"*": {}},
    long_eval_frames=32,  # the smoke tier's: test_cli_stop_after_minutes_leaves_runs_for_the_next_call then shares
    # these runs' compiled programs
)


def spec(method="test_constant", seed=0):
    return harness.RunSpec("smoke", clip_spec("synthetic"), method, seed, TIER)


def interrupt_after(updates: int, calls: list):
    """A progress callback that counts the updates it sees and stops the run (like Ctrl-C) after ``updates``."""

    def report(progress):
        calls.append(progress.samples)
        if len(calls) == updates:
            raise KeyboardInterrupt

    return report


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Results dir with one uninterrupted run (shared: each harness.run compiles three small programs)."""
    out = tmp_path_factory.mktemp("finished")
    return out, harness.run(spec(), out)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """Results dir with a run stopped after its second update (and evaluation); copy it before changing it."""
    out = tmp_path_factory.mktemp("interrupted")
    with pytest.raises(KeyboardInterrupt):
        harness.run(spec(), out, report=interrupt_after(2, []))
    return out


def copy_of(results, tmp_path):
    shutil.copytree(results, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_run_records_curve_and_summary(finished, tmp_path):
    results, summary = finished
    assert summary["status"] == "complete"
    assert summary["total_samples"] == 24 and summary["n_evals"] == 4  # at 0 samples, then every 8
    run = store.load_run(spec().key.dir(results))
    assert list(run.curve["samples"]) == [0, 8, 16, 24]
    assert run.summary["compile_seconds"] > 0 and run.summary["train_seconds"] > 0
    assert run.manifest["config"]["method"] == {"num_envs": 2, "rollout_length": 4, "diverge_at": 0}
    evaluation = run.manifest["config"]["evaluation"]
    assert (evaluation["cycle_frames"], evaluation["long_frames"]) == (6, 32)
    assert evaluation["env"]["replay"] == "none" and evaluation["env"]["random_start"] is False
    assert evaluation["env"]["early_termination"] is False and evaluation["env"]["episode_length"] == 32
    for column in ("pose_error_cycle", "pose_error_20s", "fall_rate_cycle", "fall_rate_20s", "height_fall_20s"):
        assert run.curve[column].notna().all(), column  # the synthetic clip loops: both horizons measured
    assert not (run.dir / harness.CHECKPOINT_FILE).exists()
    assert (run.dir / harness.FINAL_STATE_FILE).exists()  # the final policy, for benchmarks.policy_eval
    assert (run.dir / "rollout.npz").exists()
    paths = build_report(results, tmp_path / "report")
    assert "synthetic" in paths.markdown.read_text()


def test_rollouts_at_chosen_evaluations(tmp_path):
    recorded = dataclasses.replace(spec(), record_every=2)
    harness.run(recorded, tmp_path)
    saved = sorted(p.name for p in (recorded.key.dir(tmp_path) / harness.INTERMEDIATE_ROLLOUTS).iterdir())
    assert saved == ["samples_24.npz", "samples_8.npz"]  # the 2nd and 4th of evaluations at 0, 8, 16, 24
    rollout = load_rollout(recorded.key.dir(tmp_path) / harness.INTERMEDIATE_ROLLOUTS / "samples_8.npz")
    assert rollout["sim_pos"].shape == (TIER.long_eval_frames + 1, 15, 3)
    # One episode, two horizons: the cycle is its first eval_frames steps, the long horizon all of them.
    row = store.load_run(recorded.key.dir(tmp_path)).curve.set_index("samples").loc[8]
    assert row["pose_error_cycle"] == pytest.approx(rollout["pose_error"][1:TIER.eval_frames + 1].mean(), rel=1e-2)
    assert row["pose_error_20s"] == pytest.approx(rollout["pose_error"][1:].mean(), rel=1e-2)


def test_interrupted_run_resumes_and_finished_runs_are_untouched(tmp_path, interrupted, finished):
    uninterrupted = store.load_run(spec().key.dir(finished[0])).curve
    tmp_path = copy_of(interrupted, tmp_path)
    run_dir = spec().key.dir(tmp_path)
    assert store.load_run(run_dir).status == "incomplete"
    assert (run_dir / harness.CHECKPOINT_FILE).exists()
    before = (run_dir / store.CURVE_FILE).read_bytes()
    assert before.count(b"\n") == 1 + 3  # header, evaluations at 0, 8 and 16 samples

    resumed = []
    summary = harness.run(spec(), tmp_path, report=lambda progress: resumed.append(progress.samples))
    assert resumed == [24]  # only the one remaining update ran, starting from 16 samples
    assert summary["status"] == "complete" and summary["total_samples"] == 24 and summary["iterations"] == 3
    assert harness.CHECKPOINT_PROBLEM not in summary
    assert (run_dir / store.CURVE_FILE).read_bytes().startswith(before)  # the rows before the interruption, untouched
    curve = store.load_run(run_dir).curve
    assert list(curve["samples"]) == [0, 8, 16, 24] and list(curve["iteration"]) == [0, 1, 2, 3]
    # The restored state is the trained one: each evaluation (deterministic, from frame 0) matches a run that was
    # never interrupted, including the one after the resume.
    assert list(curve["pose_error_cycle"]) == list(uninterrupted["pose_error_cycle"])

    stamp = os.stat(run_dir / store.SUMMARY_FILE).st_mtime_ns
    assert harness.run(spec(), tmp_path) == summary
    assert os.stat(run_dir / store.SUMMARY_FILE).st_mtime_ns == stamp


def test_a_finished_run_is_reported_as_such_without_compiling(tmp_path, finished, capsys):
    from benchmarks.executors import LocalExecutor

    tmp_path = copy_of(finished[0], tmp_path)
    result = LocalExecutor().run([spec()], tmp_path)
    assert result.ok and result.summaries[spec().key]["status"] == "complete"
    out, err = capsys.readouterr()
    assert "already finished: complete" in out and "compiling" not in err


def other_config_checkpoint(path):
    """A checkpoint that parses but was written for another configuration (a 3-element action)."""
    counters = {"samples": 16, "iteration": 2, "train_seconds": 0.0, "compile_seconds": 0.0, "eval_seconds": 0.0}
    harness._write_checkpoint(path.parent, constant_state(jnp.zeros(3)), counters)


DAMAGES = {
    "truncated": (lambda path: path.write_bytes(path.read_bytes()[:-20]), "unreadable checkpoint"),
    "garbage": (lambda path: path.write_bytes(b"not msgpack at all"), "unreadable checkpoint"),
    "other-config": (other_config_checkpoint, "does not fit this run's state at .action (saved float32[3], expected float32[28])"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_checkpoint_names_the_file_and_the_problem(tmp_path, interrupted, damage):
    tmp_path = copy_of(interrupted, tmp_path)
    path = spec().key.dir(tmp_path) / harness.CHECKPOINT_FILE
    damaging, message = DAMAGES[damage]
    damaging(path)
    template = constant_state(jnp.zeros(28))
    with pytest.raises(harness.CheckpointError) as error:
        harness._read_checkpoint(path.parent, template)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_unreadable_checkpoint_is_reported_and_the_run_redone(tmp_path, capsys, interrupted):
    tmp_path = copy_of(interrupted, tmp_path)
    run_dir = spec().key.dir(tmp_path)
    DAMAGES["truncated"][0](run_dir / harness.CHECKPOINT_FILE)
    capsys.readouterr()

    updates = []
    summary = harness.run(spec(), tmp_path, report=lambda progress: updates.append(progress.samples))
    warning = capsys.readouterr().err
    assert f"warning: restarted from scratch: {run_dir / harness.CHECKPOINT_FILE}: unreadable checkpoint" in warning
    assert updates == [8, 16, 24]  # every update again, from 0 samples
    # Recorded with the run, not only printed: the manifest (written at the restart) and the summary say so.
    assert summary["status"] == "complete" and "unreadable checkpoint" in summary[harness.CHECKPOINT_PROBLEM]
    run = store.load_run(run_dir)
    assert run.manifest[harness.CHECKPOINT_PROBLEM] == summary[harness.CHECKPOINT_PROBLEM]
    assert list(run.curve["samples"]) == [0, 8, 16, 24]


def test_changed_settings_redo_an_interrupted_run(tmp_path, capsys, interrupted):
    """A checkpoint of other settings fits the state's shapes, but continuing it would record a curve that is half
    one config and half another under the first one's manifest: the run is redone and says why."""
    tmp_path = copy_of(interrupted, tmp_path)
    changed = dataclasses.replace(spec(), config_overrides=(("diverge_at", 100),))  # never diverges: same curve
    capsys.readouterr()
    updates = []
    summary = harness.run(changed, tmp_path, report=lambda progress: updates.append(progress.samples))
    warning = capsys.readouterr().err
    assert "settings changed since the run started (command_line, method)" in warning
    assert updates == [8, 16, 24]  # every update again, from 0 samples
    assert "settings changed" in summary[harness.CHECKPOINT_PROBLEM]
    assert store.load_run(spec().key.dir(tmp_path)).manifest["config"]["method"]["diverge_at"] == 100


def test_checkpoint_round_trips_the_state(tmp_path):
    state = constant_state(jnp.arange(4.0), iteration=7)
    counters = {"samples": 56, "iteration": 7, "train_seconds": 1.5, "compile_seconds": 2.0, "eval_seconds": 0.25}
    harness._write_checkpoint(tmp_path, state, counters)
    template = constant_state(jnp.zeros(4))
    restored, restored_counters = harness._read_checkpoint(tmp_path, template)
    assert restored_counters == counters
    assert restored.action.tolist() == [0.0, 1.0, 2.0, 3.0] and int(restored.iteration) == 7
    assert harness._read_checkpoint(tmp_path / "nothing", template) is None


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class PlainPytree:
    """A pytree flax's state dict does not know (as mjx's ``Data`` in PPO's carried env states)."""
    qpos: jax.Array


COUNTERS = {"samples": 8, "iteration": 1, "train_seconds": 0.5, "compile_seconds": 1.0, "eval_seconds": 0.0}


def test_checkpoint_saves_any_pytree(tmp_path):
    state = {"env": PlainPytree(qpos=jnp.arange(3.0)), "steps": jnp.asarray(5, jnp.int32)}
    harness._write_checkpoint(tmp_path, state, COUNTERS)
    template = {"env": PlainPytree(qpos=jnp.zeros(3)), "steps": jnp.zeros((), jnp.int32)}
    restored, counters = harness._read_checkpoint(tmp_path, template)
    assert restored["env"].qpos.tolist() == [0.0, 1.0, 2.0] and int(restored["steps"]) == 5 and counters == COUNTERS
    other = {"env": PlainPytree(qpos=jnp.zeros(3)), "steps": jnp.zeros((), jnp.int32), "extra": jnp.zeros(2)}
    with pytest.raises(harness.CheckpointError, match=r"the saved state has 2 arrays, this run's 3; \['extra'\]"):
        harness._read_checkpoint(tmp_path, other)


def test_checkpoint_of_the_older_format_is_still_read(tmp_path):
    """Checkpoints written before the format field hold flax's state dict; an interrupted run still resumes."""
    state = constant_state(jnp.arange(2.0), iteration=3)
    payload = serialization.msgpack_serialize({"state": serialization.to_state_dict(state), "counters": COUNTERS})
    (tmp_path / harness.CHECKPOINT_FILE).write_bytes(payload)
    template = constant_state(jnp.zeros(2))
    restored, counters = harness._read_checkpoint(tmp_path, template)
    assert restored.action.tolist() == [0.0, 1.0] and int(restored.iteration) == 3 and counters == COUNTERS


def test_truncated_results_are_redone_not_reported(tmp_path, finished):
    tmp_path = copy_of(finished[0], tmp_path)
    curve = spec().key.dir(tmp_path) / store.CURVE_FILE
    curve.write_bytes(curve.read_bytes()[:-10])
    runs, problems = store.scan_runs(tmp_path)
    assert runs == [] and "corrupt" in problems[0][1]
    assert harness.run(spec(), tmp_path)["status"] == "complete"
    assert len(store.scan_runs(tmp_path)[0]) == 1


def test_non_finite_updates_are_skipped_and_counted(tmp_path):
    summary = harness.run(spec("test_diverging"), tmp_path)  # updates 2 and 3 report a non-finite gradient
    assert summary["status"] == "complete" and summary["total_samples"] == 24
    curve = store.load_run(spec("test_diverging").key.dir(tmp_path)).curve
    fraction = curve["nonfinite_fraction"].tolist()
    assert math.isnan(fraction[0]) and fraction[1:] == [0.0, 1.0, 1.0]  # the first row precedes every update
    assert math.isnan(curve["loss"][2]) and math.isfinite(curve["loss"][1])  # a mean over finite updates only
    # A skipped update keeps the state from before it: the policy evaluated after updates 2 and 3 is update 1's.
    assert curve["pose_error_cycle"][3] == curve["pose_error_cycle"][2] == curve["pose_error_cycle"][1]


def test_consecutive_non_finite_updates_mark_run_diverged(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "MAX_CONSECUTIVE_NONFINITE", 2)
    longer = dataclasses.replace(spec("test_diverging"), tier=dataclasses.replace(TIER, max_samples=80))
    summary = harness.run(longer, tmp_path)
    assert summary["status"] == "diverged"
    assert summary["reason"] == "non-finite loss or gradient at iteration 3 (2 updates in a row)"
    assert summary["total_samples"] == 24  # stopped at the second non-finite update, not at the budget


def test_deadline_checkpoints_and_the_next_call_continues(tmp_path):
    """A run stopped at its deadline between two evaluations continues from that update: the curve is the one an
    uninterrupted run records."""
    sparse = dataclasses.replace(spec(), tier=dataclasses.replace(TIER, eval_every_samples=16))
    uninterrupted = harness.run(sparse, tmp_path / "uninterrupted")
    out = tmp_path / "chunked"
    with pytest.raises(harness.RunPaused) as paused:
        harness.run(sparse, out, deadline=time.monotonic())  # already past: stops after its first update
    run_dir = sparse.key.dir(out)
    assert paused.value.samples == 8 and str(run_dir) in str(paused.value)
    assert store.load_run(run_dir).status == "incomplete" and (run_dir / harness.CHECKPOINT_FILE).exists()
    progress = []
    summary = harness.run(sparse, out, report=lambda p: progress.append(p.samples), deadline=time.monotonic() + 600)
    assert progress == [16, 24]  # from the checkpoint at 8 samples, not from the last evaluation at 0
    assert summary["status"] == "complete" and summary["iterations"] == uninterrupted["iterations"] == 3
    chunked, whole = store.load_run(run_dir).curve, store.load_run(sparse.key.dir(tmp_path / "uninterrupted")).curve
    assert list(chunked["samples"]) == list(whole["samples"]) == [0, 16, 24]
    assert list(chunked["pose_error_cycle"]) == list(whole["pose_error_cycle"])


def test_cli_stop_after_minutes_leaves_runs_for_the_next_call(tmp_path, capsys):
    # The smoke tier cut to this file's TIER, so that the runs use the programs the other tests compiled.
    argv = ["--methods", "test_constant", "--tier", "smoke", "--out", str(tmp_path), "--no-report", "--num-envs", "2",
            "--max-samples", "24", "--eval-every-samples", "8", "--eval-frames", "6"]
    assert cli([*argv, "--stop-after-minutes", "1e-6"]) == 3  # the deadline passed before the run could start
    assert "1 of 1 runs not finished; run the same command again" in capsys.readouterr().out
    assert cli([*argv, "--stop-after-minutes", "10"]) == 0
    runs, problems = store.scan_runs(tmp_path)
    assert [run.status for run in runs] == ["complete"] and not problems
    assert cli([*argv, "--stop-after-minutes", "0"]) == 2
    assert "--stop-after-minutes must be positive" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--suite", "nosuch"], "unknown suite 'nosuch': valid suites are aist, amass, deepmimic, smoke, swordshield"),
        (["--methods", "diffmimic,nosuch"], "unknown method 'nosuch'"),
        (["--suite", "deepmimic", "--clips", "moonwalk"], "unknown clip 'moonwalk'"),
        (["--clips", "missing_clip.txt"], "missing_clip.txt"),
        (["--tier", "huge"], "unknown tier 'huge'"),
        (["--backend", "bullet"], "unknown backend 'bullet'"),
    ],
)
def test_cli_refuses_bad_input_before_compiling(tmp_path, capsys, argv, message):
    assert cli([*argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_lists_suites_and_methods(capsys):
    assert cli(["list"]) == 0
    listing = capsys.readouterr().out
    for name in ("smoke", "deepmimic", "diffmimic", "diffmimic_noreplay", "ppo", "quick"):
        assert name in listing


def test_settings_saved_before_the_torque_limits_option_mean_the_character_limits():
    saved = {"env": {"backend": "spring"}, "method": {"num_envs": 4}}  # an interrupted run from before the option
    env = {"backend": "spring", "torque_limits": "character", "joint_damping": "brax", "phase": "rounded",
           "reset_above_ground": False, "fall_contact_distance": 0.01}
    same = {"env": env, "method": {"num_envs": 4}}
    assert harness._changed_settings(saved, same) == []  # it resumes under the limits it started with
    assert harness._changed_settings(saved, {**same, "env": {**env, "torque_limits": "none"}}) == ["env"]


def test_settings_saved_before_the_joint_damping_phase_and_reset_options_mean_what_the_run_had():
    env = {"backend": "spring", "torque_limits": "none"}
    saved = {"env": env, "evaluation": {"long_frames": 600, "env": env}}  # a paused run from before the options
    now = {"backend": "spring", "torque_limits": "none", "joint_damping": "brax", "phase": "rounded",
           "reset_above_ground": False, "fall_contact_distance": 0.01}
    same = {"env": now, "evaluation": {"long_frames": 600, "env": now}}
    assert harness._changed_settings(saved, same) == []  # the long suite's paused runs resume under --phase rounded
    exact = {**now, "phase": "exact"}
    assert harness._changed_settings(saved, {"env": exact, "evaluation": {"long_frames": 600, "env": exact}}) == [
        "env", "evaluation"]
    damped = {**now, "joint_damping": "diffmimic"}
    assert harness._changed_settings(saved, {**same, "env": damped}) == ["env"]
    lifted = {**now, "reset_above_ground": True}
    assert harness._changed_settings(saved, {**same, "env": lifted}) == ["env"]
    # Before fall_contact_distance was an option a fall was a fall body within 1 cm: today's 1 mm is a change.
    assert harness._changed_settings(saved, {**same, "env": {**now, "fall_contact_distance": 0.001}}) == ["env"]


# Runs of the committed long tier recorded under settings its command no longer gives (results/long-cpu/NOTES.md):
# the first DiffMimic seeds counted a fall within 1 cm of the floor (an evaluation metric for DiffMimic, which does not
# terminate), and the first PPO runs predate network_init (and were evaluated with the mean action clipped).
LONG_TIER_OLDER_SETTINGS = {
    "backflip/diffmimic/seed_0": ["env.fall_contact_distance 0.01 -> 0.001"],
    "jump/diffmimic/seed_0": ["env.fall_contact_distance 0.01 -> 0.001"],
    "backflip/ppo/seed_0": ["method.network_init (none) -> flax"],
    "backflip/ppo/seed_1": ["method.network_init (none) -> flax"],
}


def test_the_long_suites_recorded_runs_resume_under_todays_code():
    """Every other run of the committed long tier compares equal with what today's code builds for the suite's
    command (it continues with --phase rounded), as the check before a paused run resumes compares them: an env
    option, method field or tier field added without its value-before would stop (or restart) the suite."""
    from benchmarks.plan import recorded_differences
    from benchmarks.suites import resolve_suite
    from benchmarks.tiers import get_tier

    manifests = sorted(Path(__file__).parent.parent.glob("results/long-cpu/deepmimic/*/*/seed_*/manifest.json"))
    assert len(manifests) >= 12
    differences = {}
    for path in manifests:
        seed, method, clip = path.parent.name, path.parent.parent.name, path.parent.parent.parent.name
        spec = harness.RunSpec("deepmimic", resolve_suite("deepmimic", [clip])[0], method, int(seed.split("_")[1]),
                               get_tier("long"), phase="rounded")
        changed = recorded_differences(spec, json.loads(path.read_text())["config"])
        if changed:
            differences[f"{clip}/{method}/{seed}"] = changed
    assert differences == LONG_TIER_OLDER_SETTINGS


def test_policy_eval_reevaluates_a_finished_runs_final_policy(finished, tmp_path, capsys):
    results, _ = finished
    run_dir = spec().key.dir(results)
    out = tmp_path / "evaluation.json"
    assert policy_eval.main([str(run_dir), "--episodes", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "final policy after 24 samples" in printed and "sampled, 3 episodes" in printed
    numbers = json.loads(out.read_text())
    # The final state is the one the curve's last row evaluated: the harness's evaluation gives the same numbers.
    for name in ("pose_error_cycle", "pose_error_20s", "height_fall_20s"):
        assert numbers["deterministic"][name] == pytest.approx(numbers["recorded"][name], rel=1e-5), name
    # Three sampled episodes (the test method's noise), each its own, averaged.
    per_episode = numbers["sampled_per_episode"]["pose_error_cycle"]
    assert len(per_episode) == 3 and len(set(per_episode)) == 3
    assert numbers["sampled"]["pose_error_cycle"] == pytest.approx(sum(per_episode) / 3, rel=1e-6)


def test_ppo_runs_from_before_network_init_are_rebuilt_as_they_ran(tmp_path):
    """A PPO manifest without ``network_init`` (before b2ae392) ran with flax's initialisation and was evaluated with
    its mean action clipped to [-1, 1]; a newer one records the field and was evaluated unclipped."""
    from benchmarks import recorded_run, saved_policy
    from methods.ppo import PPO_DEEPMIMIC

    recorded = dataclasses.asdict(PPO_DEEPMIMIC.config_cls())
    old = {key: value for key, value in recorded.items() if key != "network_init"}
    assert recorded_run.method_config(PPO_DEEPMIMIC, old, tmp_path).network_init == "flax"  # not today's default
    assert recorded_run.method_config(PPO_DEEPMIMIC, recorded, tmp_path).network_init == "deepmimic"
    with pytest.raises(store.CorruptRunError, match=r"recorded only: \['made_up'\]"):
        recorded_run.method_config(PPO_DEEPMIMIC, {**old, "made_up": 1}, tmp_path)

    assert recorded_run.evaluated_with_clipped_mean(PPO_DEEPMIMIC, old)
    assert not recorded_run.evaluated_with_clipped_mean(PPO_DEEPMIMIC, recorded)
    assert not recorded_run.evaluated_with_clipped_mean(methods.get_method("diffmimic"), {})
    method = dataclasses.replace(PPO_DEEPMIMIC, policy=lambda state: (lambda obs, key=None: state * jnp.ones(2)))
    np.testing.assert_allclose(saved_policy._evaluated_policy(method, old)(1.5)(None), [1.0, 1.0])
    np.testing.assert_allclose(saved_policy._evaluated_policy(method, recorded)(1.5)(None), [1.5, 1.5])


def test_policy_eval_names_what_is_missing(finished, interrupted, tmp_path, capsys):
    assert policy_eval.main([str(spec().key.dir(interrupted))]) == 2
    assert "the run is not finished" in capsys.readouterr().err
    copied = copy_of(finished[0], tmp_path)
    (spec().key.dir(copied) / harness.FINAL_STATE_FILE).unlink()
    assert policy_eval.main([str(spec().key.dir(copied))]) == 2
    assert f"{harness.FINAL_STATE_FILE}: missing" in capsys.readouterr().err
    assert policy_eval.main([str(tmp_path / "nowhere")]) == 2
    assert str(tmp_path / "nowhere") in capsys.readouterr().err
    # A state file that is not the one the curve ends with (here the interrupted run's, saved at 16 samples) is refused.
    stale = spec().key.dir(copy_of(finished[0], tmp_path / "stale"))
    shutil.copyfile(spec().key.dir(interrupted) / harness.CHECKPOINT_FILE, stale / harness.FINAL_STATE_FILE)
    assert policy_eval.main([str(stale)]) == 2
    assert "saved after 16 samples (iteration 2), but the curve ends at 24 (iteration 3)" in capsys.readouterr().err
