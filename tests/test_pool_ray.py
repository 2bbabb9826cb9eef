"""RayPool against a real local Ray head started on this machine (`ray start --head --block`):
real evaluations of seed kernels in Ray actors (the sandbox inside each), and an actor killed
mid-evaluation that Ray replaces while the pool re-queues its job once. Skipped where Ray is
not installed (`pip install 'warpsmith[ray]'`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._pool_helpers import collect, hanging_job, seed_job, wait_for

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'warpsmith[ray]'")

from warpsmith.pool import make_pool  # noqa: E402
from warpsmith.pool.book import PoolClosed  # noqa: E402
from warpsmith.pool.ray_pool import RayPool, RayUnavailable  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A Ray head on this machine with 2 CPUs and no GPU, owned by this test (its process group is
    killed afterwards: never `ray stop`, which would stop every Ray on the machine)."""
    temp = tempfile.mkdtemp(prefix="wsray", dir="/tmp")  # short: Ray's socket paths have a length limit
    log = Path(temp) / "head.log"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with log.open("wb") as out:
        head = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--port=0",
             "--node-ip-address=127.0.0.1", "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
             "--object-store-memory=200000000", f"--temp-dir={temp}", "--disable-usage-stats"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def address() -> str | None:
        found = re.search(r"--address='([^']+)'", log.read_text(errors="replace"))
        if head.poll() is not None:
            pytest.skip(f"`ray start --head` failed here: {log.read_text(errors='replace')[-300:]}")
        return found.group(1) if found else None

    try:
        yield wait_for(address, 180, "the Ray head")  # type: ignore[misc]
    finally:
        head.terminate()  # `ray start --block` stops and reaps the head's processes itself
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # whatever of the group is left
        except ProcessLookupError:
            pass
        head.wait()


def _actor_pids() -> set[int]:
    """Processes of this machine whose title says they are our actor running a job."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::EvalActor.run"):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def test_real_evaluations_run_in_ray_actors(ray_head: str) -> None:
    with make_pool("ray", workers=2, address=ray_head, gpus=[]) as pool:
        assert isinstance(pool, RayPool) and len(pool.actor_info) == 2
        assert {info["cuda_visible_devices"] for info in pool.actor_info} == {""}  # CPU actors see no GPU
        jobs = [seed_job("a", "silu_and_mul"), seed_job("b", "rmsnorm"), seed_job("c", "gelu_and_mul", stage="screen")]
        for job in jobs:
            pool.submit(job)
        outcomes = collect(pool, 3, timeout_s=300)
        stats = pool.stats()
    assert sorted(o.job_id for o in outcomes) == ["a", "b", "c"]
    for outcome in outcomes:
        assert outcome.result is not None and outcome.result.status == "correct", (outcome.error, outcome.result)
        assert outcome.result.mode == "interpreter" and outcome.attempts == 1
        assert outcome.worker.startswith("ray:") and outcome.ran_s > 0
    assert stats.done == 3 and stats.workers == 2
    assert not ray.is_initialized(), "the pool that joined the cluster leaves it on close"


def test_an_actor_killed_mid_evaluation_is_replaced_and_its_job_requeued_once(ray_head: str) -> None:
    with RayPool(address=ray_head, workers=1, gpus=[]) as pool:
        first_pid = pool.actor_info[0]["pid"]
        pool.submit(hanging_job("hang", timeout_s=10.0))
        wait_for(lambda: first_pid in _actor_pids(), 120, "the actor to start the job")
        time.sleep(1.0)
        os.kill(first_pid, signal.SIGKILL)
        [outcome] = collect(pool, 1, timeout_s=300)
        # Ray restarted the actor (a new process) and the job's second attempt got the sandbox's verdict
        assert pool.actor_pids()[outcome.worker] != first_pid
        assert pool.stats().recycled >= 1
    assert outcome.attempts == 2 and outcome.error is None
    assert outcome.result is not None and outcome.result.status == "timeout"


def test_no_cluster_at_the_address_is_one_clear_line() -> None:
    if ray.is_initialized():
        pytest.skip("a Ray session is already open in this process")
    with pytest.raises(RayUnavailable, match="no Ray cluster answers at '127.0.0.1:1'"):
        RayPool(address="127.0.0.1:1", workers=1, gpus=[])


def test_a_pool_whose_actors_are_all_gone_stops_with_one_line(ray_head: str) -> None:
    with RayPool(address=ray_head, workers=1, gpus=[], unavailable_s=3.0) as pool:
        pool.submit(seed_job("first", "silu_and_mul"))
        [first] = collect(pool, 1, timeout_s=120)
        assert first.result is not None and first.result.status == "correct"
        # as when its node leaves for good: the actor is gone and Ray cannot place it again
        ray.kill(pool._actors[0].handle, no_restart=True)
        pool.submit(hanging_job("orphan", timeout_s=60.0))
        with pytest.raises(PoolClosed, match=r"no Ray actor has answered for 3 s \(did their nodes leave the cluster\?\)"):
            collect(pool, 1, timeout_s=120)
