"""The Ray executor: the same runs as in process, a killed worker retried, a two-node cluster on loopback.

The runs use test_harness's forward-only method (seconds to compile) and a copy of it that sleeps in every update
(so that a worker can be killed mid-run), on a sample-budgeted tier, so that every run is deterministic.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from jax.experimental import io_callback

import methods
from benchmarks import results_store as store
from benchmarks.executors import LocalExecutor, RayExecutor
from benchmarks.harness import RunSpec
from benchmarks.suites import clip_spec
from run_benchmark import main as cli
from tests.test_harness import CONSTANT, TIER

REPO = Path(__file__).resolve().parents[1]
SLEEP_SECONDS = 1.0
# Two CPUs per task: each worker then splits its batch over two host devices, as this process does, so it runs the
# very programs test_harness compiled (read from the persistent cache) instead of compiling one-device ones.
CPUS_PER_RUN = 2


def _sleepy_update(state, key, *, env, config):
    io_callback(lambda: time.sleep(SLEEP_SECONDS), None)  # stands in for a long update; uses no CPU
    return CONSTANT.update(state, key, env=env, config=config)


def _failing_init(key, env, config):
    raise RuntimeError("test_ray_failing always fails")


SLEEPY = methods.register(
    dataclasses.replace(CONSTANT, name="test_ray_sleepy", update=_sleepy_update, description="test double: sleeps"),
    replace=True,
)
FAILING = methods.register(
    dataclasses.replace(CONSTANT, name="test_ray_failing", init=_failing_init, description="test double: fails"),
    replace=True,
)


def spec(method: str, seed: int) -> RunSpec:
    return RunSpec("smoke", clip_spec("synthetic"), method, seed, TIER)


PLAN = [spec(method, seed) for method in ("test_constant", "test_diverging") for seed in (0, 1)]
KEYS = [run.key for run in PLAN]
TIMING = ["train_seconds", "compile_seconds", "eval_seconds"]
NOT_COMPARED_IN_SUMMARY = {*TIMING, "curve_sha256", "finish_time"}  # the hash covers the timing columns


def assert_same_results(expected_out: Path, actual_out: Path, keys, *, resumed=(), devices: int = CPUS_PER_RUN) -> None:
    """Equal curves (but for time) and summaries; a run ``resumed`` mid-way after a kill drew other training keys
    from the checkpoint on (the harness folds the iteration into the key), so its loss column may differ."""
    for key in keys:
        expected, actual = store.load_run(key.dir(expected_out)), store.load_run(key.dir(actual_out))
        assert actual.status == expected.status != store.INCOMPLETE, key
        ignored = TIMING + (["loss"] if key in resumed else [])
        pd.testing.assert_frame_equal(actual.curve.drop(columns=ignored), expected.curve.drop(columns=ignored))
        strip = lambda summary: {k: v for k, v in summary.items() if k not in NOT_COMPARED_IN_SUMMARY}  # noqa: E731
        # The in-process runs and the two-CPU Ray tasks split their batch over two host devices alike; a task with
        # another CPU count would give the same numbers up to float reassociation (float32 evaluation sums).
        actual_summary, expected_summary = strip(actual.summary), strip(expected.summary)
        assert actual_summary.keys() == expected_summary.keys()
        for name, value in expected_summary.items():
            close = isinstance(value, float) and actual_summary[name] == pytest.approx(value, rel=1e-5)
            assert close or actual_summary[name] == value, (key, name)
        assert actual.manifest["config"] == expected.manifest["config"]
        assert actual.manifest["device_count"] == devices  # a worker's host devices follow its CPUs


@pytest.fixture(scope="module")
def ray():
    return pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[ray]"')


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("in_process")
    assert LocalExecutor().run(PLAN, out).ok
    return out


@pytest.fixture(scope="module")
def local_cluster(ray):
    """A local Ray instance in this process with 4 logical CPUs (on 2 cores): two worker processes run two-CPU
    tasks at a time."""
    saved = dict(os.environ)  # ray.init sets RAY_AUTH_MODE for its own child processes
    try:
        ray.init(num_cpus=2 * CPUS_PER_RUN, include_dashboard=False, object_store_memory=100 * 2**20)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"Ray cannot start a local instance here: {error}")
    yield
    ray.shutdown()
    os.environ.clear()
    os.environ.update(saved)


def test_ray_runs_the_suite_like_the_in_process_executor(local_cluster, in_process, tmp_path, capsys):
    events = []
    result = RayExecutor(cpus_per_run=CPUS_PER_RUN, on_event=events.append).run(PLAN, tmp_path)
    assert result.ok and set(result.summaries) == set(KEYS)
    assert_same_results(in_process, tmp_path, KEYS)
    workers = {event.pid for event in events if event.kind == "started"}
    assert len(workers) == 2  # the two two-CPU worker processes of the 4-CPU instance
    assert "[4/4 done, 0 running, 0 failed]" in capsys.readouterr().out

    # Rerunning the same suite redoes nothing: every run is already finished, no task is submitted.
    sealed = {run.key: os.stat(run.key.dir(tmp_path) / store.SUMMARY_FILE).st_mtime_ns for run in PLAN}
    events.clear()
    again = RayExecutor(cpus_per_run=CPUS_PER_RUN, on_event=events.append).run(PLAN, tmp_path)
    assert again.summaries == result.summaries and events == []
    assert sealed == {run.key: os.stat(run.key.dir(tmp_path) / store.SUMMARY_FILE).st_mtime_ns for run in PLAN}


def test_a_failed_run_is_reported_and_does_not_stop_the_others(local_cluster, tmp_path, capsys):
    plan = [spec("test_ray_failing", 0), spec("test_constant", 0)]
    result = RayExecutor(cpus_per_run=CPUS_PER_RUN).run(plan, tmp_path)
    assert [(failure.run, failure.reason) for failure in result.failures] == [
        (plan[0], "RuntimeError: test_ray_failing always fails")
    ]
    assert set(result.summaries) == {plan[1].key} and store.is_finished(tmp_path, plan[1].key)
    output = capsys.readouterr().out
    assert "synthetic/test_ray_failing/seed 0: FAILED: RuntimeError: test_ray_failing always fails" in output
    assert "1 of 2 runs failed" in output


def test_in_process_executor_goes_on_after_a_failed_run_and_the_cli_exits_non_zero(tmp_path, capsys):
    plan = [spec("test_ray_failing", 0), spec("test_constant", 0)]
    result = LocalExecutor().run(plan, tmp_path)
    assert [(failure.run, failure.reason) for failure in result.failures] == [
        (plan[0], "RuntimeError: test_ray_failing always fails")
    ]
    assert set(result.summaries) == {plan[1].key} and store.is_finished(tmp_path, plan[1].key)
    assert "[1/2] synthetic/test_ray_failing/seed 0: FAILED: RuntimeError" in capsys.readouterr().out

    assert cli(["--methods", "test_ray_failing", "--out", str(tmp_path / "cli"), "--no-report"]) == 1


def test_ray_is_imported_only_for_the_ray_executor():
    code = (
        "import sys, run_benchmark\n"
        "from benchmarks.executors import make_executor\n"
        "make_executor('local'); make_executor('ray', ray_address='127.0.0.1:1')\n"
        "assert run_benchmark.main(['--executor', 'local', '--ray-address', 'x:1']) == 2\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--ray-address, --ray-cpus-per-run and --ray-gpus-per-run need --executor ray" in done.stderr


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_its_run_resumes(local_cluster, in_process, tmp_path):
    # The victim sleeps 1 s per update (its program has a host callback, so JAX's cache never holds it: slow).
    victim = spec("test_ray_sleepy", 0)
    assert LocalExecutor().run([victim], in_process).ok
    plan = [victim, *PLAN]
    events, killed = [], []

    def kill_mid_run(event):
        events.append(event)
        # Its first report comes right after the evaluation (and checkpoint) at 8 samples; 16 samples to go.
        if event.run == 0 and event.kind == "progress" and not killed and event.samples < TIER.max_samples:
            os.kill(event.pid, signal.SIGKILL)
            killed.append(event)

    result = RayExecutor(cpus_per_run=CPUS_PER_RUN, on_event=kill_mid_run).run(plan, tmp_path)
    assert killed, "the victim run never reported progress"
    assert result.ok and set(result.summaries) == {run.key for run in plan}
    starts = [event for event in events if event.run == 0 and event.kind == "started"]
    assert len(starts) == 2 and starts[1].pid != killed[0].pid
    retried = [event.samples for event in events[events.index(starts[1]) :] if event.run == 0 and event.kind == "progress"]
    assert retried and retried[0] > killed[0].samples  # continued from its checkpoint, not from scratch
    assert_same_results(in_process, tmp_path, [run.key for run in plan], resumed=[victim.key])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


def _stop(process: subprocess.Popen) -> None:
    """Stops a `ray start --block` this test started (it stops its node's processes), then its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever of this node is left in the group it was started in
    except ProcessLookupError:
        pass
    process.wait(10)


DRIVER = """
import sys, time
import ray
address = sys.argv[1]
ray.init(address=address)  # wait until both nodes have joined
deadline = time.monotonic() + 90
while sum(node["Alive"] for node in ray.nodes()) < 2:
    if time.monotonic() > deadline:
        sys.exit("the second node did not join")
    time.sleep(0.5)
ray.shutdown()
import tests.test_harness  # registers the test methods on the driver
from run_benchmark import main
sys.exit(main(sys.argv[2:] + ["--executor", "ray", "--ray-address", address]))
"""


@pytest.mark.slow
def test_two_node_cluster_on_loopback_runs_the_suite(ray, tmp_path):
    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        pytest.skip(f"no `ray` command beside {sys.executable}")
    args = ["--methods", "test_constant,test_diverging", "--num-seeds", "2", "--tier", "smoke", "--no-report"]
    assert cli([*args, "--out", str(tmp_path / "in_process")]) == 0

    port = _free_port()
    # A token of this test's own: Ray >= 2.52 turns token authentication on for `ray start --head` when it finds one.
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_USAGE_STATS_ENABLED": "0"}
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths live under it
    log = open(tmp_path / "ray_start.log", "wb")
    common = dict(env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    node_options = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats", "--block"]
    head = subprocess.Popen(
        [str(ray_cli), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
         f"--temp-dir={temp_dir}", *node_options],
        **common,
    )
    nodes = [head]
    try:
        if not _wait_for_port(port, head, timeout=90):
            pytest.skip(f"`ray start --head` did not come up: {(tmp_path / 'ray_start.log').read_text()[-1500:]}")
        nodes.insert(0, subprocess.Popen([str(ray_cli), "start", f"--address=127.0.0.1:{port}", *node_options], **common))
        out = tmp_path / "cluster"
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, f"127.0.0.1:{port}", *args, "--out", str(out)],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=540,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "ray: 4 runs on 2 node(s)" in done.stdout, done.stdout[-3000:]
        keys = [store.RunKey("smoke", "synthetic", method, seed) for method in ("test_constant", "test_diverging") for seed in (0, 1)]
        assert_same_results(tmp_path / "in_process", out, keys, devices=1)  # test_diverging skips its non-finite updates
    finally:
        for process in nodes:  # the worker node first, then the head
            _stop(process)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
