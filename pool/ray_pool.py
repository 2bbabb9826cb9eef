"""`RayPool`: the pool interface over Ray actors, for runs that span machines.

Owns: joining a cluster (`ray.init(address=...)`: "auto" for the cluster this machine belongs
to, an address such as "10.0.0.5:6379", or "local" for a private single-machine cluster), one
actor per GPU the cluster has (`num_gpus=1`), else one per CPU (interpreter mode), and the same
dispatch as the local pool: one job per actor at a time, outcomes in completion order, a
deadline per job, a fault re-queued once then recorded failed (book.py).

No home-made distribution: Ray places the actors and restarts one that dies, on its node or
another (`max_restarts=-1`); we only re-queue its job once (our own count, so `attempts` is
exact; `max_task_retries=0`). An actor past its deadline, or one that asked to be recycled
after a sandbox timeout, is killed with `ray.kill(no_restart=False)` and Ray starts a fresh one.
When no actor has answered for `unavailable_s` (their nodes left and nothing can host them), the
pool stops and `next_outcome` raises PoolClosed with that one line.
Native builds run inside the actor that evaluates (each node has its own build cache); the
CPU build pool overlapping builds with timing is the local pool's. Does not own: the actor's
body (ray_actor.py). Imports ray only when a RayPool is made.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from warpsmith.pool.dispatch import DispatchedPool
from warpsmith.pool.local import DEADLINE_FACTOR
from warpsmith.pool.ray_actor import EvalActor
from warpsmith.pool.runner import one_line
from warpsmith.records.jobs import EvalJob, PoolStats

TICK_S = 0.5
READY_TIMEOUT_S = 600.0
CONNECT_TIMEOUT_S = 5.0


class RayUnavailable(RuntimeError):
    """Ray is not installed, or no cluster answers at the address (the message says what to do)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("Ray is not installed: pip install 'warpsmith[ray]'") from exc
    return ray


def _reachable(address: str) -> None:
    """Refuse at once an explicit HOST:PORT that nothing listens on (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local" or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise RayUnavailable(f"no Ray cluster answers at {address!r} ({exc.strerror or exc}); start one with "
                             "`ray start --head` or pass its address") from exc


@dataclass
class _Actor:
    name: str
    handle: Any
    default_timeout_s: float = 600.0
    job: EvalJob | None = None
    ref: Any = None
    started: float = 0.0
    deadline: float = float("inf")
    why: str = ""  # set when the driver kills the actor under a job
    probe: Any = None  # after a restart: a ready() call that must answer before the next job
    probe_after: float = 0.0
    down_since: float | None = None  # when it went away (died, killed, its node left); None while it answers


class RayPool(DispatchedPool):
    """`RayPool(address="auto", workers=None, gpus=None)`: `gpus=None` uses every GPU of the
    cluster (`workers` caps the actors), `gpus=[]` forces CPU actors (`workers`, default one per
    CPU of the cluster); a non-empty `gpus` only says how many GPU actors (Ray picks the GPUs)."""

    kind = "Ray"

    def __init__(self, address: str = "auto", workers: int | None = None, gpus: list[int | str] | None = None, *,
                 margin_s: float = 120.0, deadline_factor: float = DEADLINE_FACTOR, max_attempts: int = 2,
                 unavailable_s: float = READY_TIMEOUT_S) -> None:
        ray = self._ray = _ray()
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            _reachable(address)
            try:
                ray.init(address=None if address == "local" else address, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:  # no cluster, or one this Ray cannot join
                raise RayUnavailable(f"could not join a Ray cluster at {address!r} ({one_line(exc)[:160]}); start one "
                                     "with `ray start --head` or pass its address") from exc
        resources = ray.cluster_resources()
        n_gpus = int(resources.get("GPU", 0)) if gpus is None else len(gpus)
        remote = ray.remote(EvalActor)
        if n_gpus:
            count, options, kind = min(workers or n_gpus, n_gpus), {"num_gpus": 1}, ("gpu", "cuda")
        else:
            cpus = max(1, int(resources.get("CPU", 1)))
            count, options, kind = min(workers or cpus, cpus), {"num_cpus": 1}, ("cpu", "cpu")
        self._actors = [
            _Actor(f"ray:{kind[0]}{i}", remote.options(max_restarts=-1, max_task_retries=0, **options).remote(
                f"ray:{kind[0]}{i}", kind[1]))
            for i in range(count)]
        try:
            infos = ray.get([a.handle.ready.remote() for a in self._actors], timeout=READY_TIMEOUT_S)
        except Exception as exc:
            self._kill_all()
            if self._owns_ray:
                ray.shutdown()
            raise RayUnavailable(f"the Ray actors did not start: {one_line(exc)}") from exc
        for actor, info in zip(self._actors, infos, strict=True):
            actor.default_timeout_s = float(info["default_timeout_s"])
            actor.name = f"ray:{info['host']}/{actor.name.removeprefix('ray:')}"
        self.actor_info = infos
        self.margin_s, self.deadline_factor, self.unavailable_s = margin_s, deadline_factor, unavailable_s
        super().__init__(max_attempts)
        self._lock = threading.Lock()
        self._thread.start()

    # ---- the interface (pool.protocol.EvaluationPool; the rest is DispatchedPool's) ----
    def _accept(self, job: EvalJob) -> None:
        self._book.ready(job)

    def stats(self) -> PoolStats:
        now = time.monotonic()
        with self._lock:
            busy = [a for a in self._actors if a.job is not None]
            return self._book.stats(workers=len(self._actors), busy=len(busy), running_s=sum(now - a.started for a in busy))

    def _shutdown(self) -> None:
        self._thread.join(timeout=30)
        self._kill_all()
        if self._owns_ray:
            self._ray.shutdown()

    def actor_pids(self) -> dict[str, int]:
        """Each actor's current process id, asking each actor (waits for one that is restarting; for
        diagnostics and fault tests: an actor busy with a job answers after it)."""
        pids = {}
        for actor in self._actors:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                try:
                    pids[actor.name] = self._ray.get(actor.handle.ready.remote(), timeout=READY_TIMEOUT_S)["pid"]
                    break
                except self._ray.exceptions.ActorUnavailableError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        return pids

    def busy_workers(self) -> dict[str, str]:
        with self._lock:
            return {a.name: a.job.job_id for a in self._actors if a.job is not None}

    # ---- the dispatcher thread ----
    def _kill_all(self) -> None:
        for actor in self._actors:
            try:
                self._ray.kill(actor.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone with its node: nothing left to stop
                pass

    def _tick(self) -> None:
        ray = self._ray
        now = time.monotonic()
        down = [a.down_since for a in self._actors]
        if all(d is not None for d in down) and now - max(d for d in down if d is not None) > self.unavailable_s:
            raise RuntimeError(f"no Ray actor has answered for {self.unavailable_s:.0f} s (did their nodes leave the "
                               f"cluster?); {self._book.pending()} job(s) were waiting")
        with self._lock:
            for actor in self._actors:
                if actor.job is None and actor.probe is True and now >= actor.probe_after:
                    actor.probe = actor.handle.ready.remote()
                if actor.job is None and actor.probe is None and (job := self._book.take()) is not None:
                    timeout = job.timeout_s or actor.default_timeout_s
                    actor.job, actor.started, actor.why = job, time.monotonic(), ""
                    actor.deadline = actor.started + self.deadline_factor * timeout + self.margin_s
                    actor.ref = actor.handle.run.remote(job.model_dump_json())
            running = {a.ref: a for a in self._actors if a.job is not None}
            probes = {a.probe: a for a in self._actors if a.probe is not None and a.probe is not True}
        if not running and not probes:
            time.sleep(0.05)
            return
        done, _ = ray.wait([*running, *probes], num_returns=1, timeout=TICK_S)  # each as soon as it is done
        for ref in done:
            if ref in probes:
                self._on_probe(probes[ref], ref)
            else:
                self._on_done(running[ref], ref)
        now = time.monotonic()
        for actor in running.values():
            if actor.job is not None and now > actor.deadline and not actor.why:
                actor.why = f"{actor.name} passed the pool's deadline of {actor.deadline - actor.started:.0f} s and was killed"
                ray.kill(actor.handle, no_restart=False)  # its ref fails next; Ray starts a fresh actor

    def _on_probe(self, actor: _Actor, ref: Any) -> None:
        """A restarted actor answered (ready for work), or is still restarting (ask again shortly)."""
        try:
            self._ray.get(ref)
        except self._ray.exceptions.RayError:
            with self._lock:
                actor.probe, actor.probe_after = True, time.monotonic() + 0.5
            return
        with self._lock:
            actor.probe, actor.down_since = None, None

    def _restart(self, actor: _Actor, kill: bool) -> None:
        """Ray replaces the actor (killed here when `kill`); no job goes to it until it answers."""
        if kill:
            self._ray.kill(actor.handle, no_restart=False)
        with self._lock:
            actor.probe, actor.probe_after = True, time.monotonic() + 0.5
            actor.down_since = actor.down_since or time.monotonic()

    def _on_done(self, actor: _Actor, ref: Any) -> None:
        ray = self._ray
        job, ran_s = actor.job, time.monotonic() - actor.started
        assert job is not None
        try:
            answer = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError, ray.exceptions.RayTaskError, ray.exceptions.ObjectLostError) as exc:
            # ActorUnavailableError too: no job goes to an actor before it answered a probe, so the
            # actor was up when the job was sent and went away under it
            self._fault(actor, job, actor.why or f"{actor.name} died mid-evaluation ({one_line(exc)[:200]})", ran_s)
            return
        if answer.get("fault"):
            self._restart(actor, kill=True)
            self._fault(actor, job, f"{actor.name}: {answer.get('error')}", ran_s)
            return
        with self._lock:
            actor.job, actor.ref = None, None
        answer["ran_s"] = ran_s
        self._book.finish(job, answer, actor.name)
        if answer.get("recycle"):  # after a sandbox timeout: a fresh actor for the next job
            self._restart(actor, kill=True)
            with self._book.lock:
                self._book.recycled += 1

    def _fault(self, actor: _Actor, job: EvalJob, why: str, ran_s: float) -> None:
        with self._lock:
            actor.job, actor.ref = None, None
        self._restart(actor, kill=False)
        with self._book.lock:
            self._book.recycled += 1
        self._book.fault(job, actor.name, why, ran_s)
