"""Warm workers: reuse a confined fork server that has torch and triton imported already.

Owns: a small pool of warm servers (warm_server.py), one per set of namespace-level settings
(network, GPU pin, task limit, env_extra), and `run_warm`, which hands one job to a server and
turns the outcome into a `SandboxResult` exactly like a cold run. A job gets its own session,
workdir, scrubbed environment, rlimits and Landlock domain; what it shares with earlier jobs
of the same server is the namespaces, the cgroup and the preloaded (trusted) modules.

Discarded (killed, namespace and all) after any job that did not end "ok" (a timeout, a crash,
a limit, an entry that raised), or when it stops answering. Each job is a fork of a server that
never ran a job's code itself and never initialised CUDA. Needs a pid namespace (the server kills
leftovers of a job by killing everything in it but itself); without one, or when a server does
not start, the job runs cold and its isolation lines say so.

`run_pooled` is what callers use: warm when `warm_workers_enabled()` (on unless the environment
sets WARPSMITH_WARM_WORKERS=0), else a fresh interpreter.
Does not own: the child-side confinement (child.py, confine.py) or classification (process.py).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from warpsmith.records.settings import load_settings
from warpsmith.sandbox import environment, isolation, paths, process
from warpsmith.sandbox.cgroup import PidsCgroup
from warpsmith.sandbox.channel import ChannelReader, LogCollector
from warpsmith.sandbox.config import SandboxConfig, SandboxResult
from warpsmith.sandbox.spec import LaunchSpec
from warpsmith.sandbox.workdir import remove_tree

START_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 10.0
ENV_SWITCH = "WARPSMITH_WARM_WORKERS"  # the settings' evaluator.warm_workers (records/settings.py)


def warm_workers_enabled() -> bool:
    """Warm workers are on unless evaluator.warm_workers is false (WARPSMITH_WARM_WORKERS=0, or false/no/off)."""
    return load_settings().evaluator.warm_workers


def run_pooled(entry: str, payload: dict, workdir: Path, config: SandboxConfig) -> SandboxResult:
    """`run_sandboxed` on a warm worker when they are enabled, else in a fresh interpreter."""
    return process.run_sandboxed(entry, payload, workdir, config.model_copy(update={"warm": warm_workers_enabled()}))


class WarmServer:
    """One running fork server and the parent's ends of its pipes."""

    def __init__(self, config: SandboxConfig, support: isolation.HostSupport, entry: str = "") -> None:
        self.home = Path(tempfile.mkdtemp(prefix="warpsmith-warm-"))
        env, _ = environment.child_environment(config, self.home)
        self.cgroup = PidsCgroup.create(config.max_processes) if support.cgroup else None
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = isolation.launch_prefix(support, config.network, self.cgroup) + [
            sys.executable, "-P", "-m", "warpsmith.sandbox.warm_server", "--control-fd", str(theirs.fileno()),
            "--preload", entry.partition(":")[0]]
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=self.home, env=env, start_new_session=True,
                                     pass_fds=(theirs.fileno(),))
        theirs.close()
        self.log = LogCollector(self.proc.stdout.fileno())
        self.log.start()
        self.jobs = 0
        if not self._ready(START_TIMEOUT_S):
            self.kill()
            raise RuntimeError("warm worker did not start: " + self.log.text()[-2000:])

    def _ready(self, timeout_s: float) -> bool:
        readable, _, _ = select.select([self.control], [], [], timeout_s)
        return bool(readable) and bool(self.control.recv(1 << 16))

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
        self.proc.wait()
        if self.cgroup is not None:
            self.cgroup.remove()
        self.control.close()
        remove_tree(self.home)

    def run(self, entry: str, payload: dict, workdir: Path, config: SandboxConfig,
            support: isolation.HostSupport) -> tuple[SandboxResult, bool]:
        """Run one job; returns (result, whether this server may be reused)."""
        env, dropped = environment.child_environment(config, workdir)
        channel_r, channel_w = os.pipe()
        lifeline_r, lifeline_w = os.pipe()
        status_r, status_w = os.pipe()
        log_r, log_w = os.pipe()
        spec = LaunchSpec(
            entry=entry, payload=payload, workdir=str(workdir), channel_fd=-1, lifeline_fd=-1, status_fd=-1,
            rlimits=process.rlimits(config), readable=paths.readable_paths(entry, config, env),
            writable=paths.writable_paths(workdir, config), devices=paths.device_paths(config),
            landlock=support.landlock_abi is not None,
            proc_writable=config.gpu_index is not None and support.proc_read_only,
            deny_tcp=not config.network and not support.network_namespace,
        )
        message = json.dumps({"spec": spec.__dict__, "env": env}).encode()
        started = time.monotonic()
        socket.send_fds(self.control, [message], [channel_w, status_w, lifeline_r, log_w])
        for fd in (channel_w, status_w, lifeline_r, log_w):
            os.close(fd)
        channel, log = ChannelReader(channel_r), LogCollector(log_r)
        channel.start()
        log.start()
        watch = process.start_quota_watch(workdir, config, self.kill)  # the job dies with its server
        done, _, _ = select.select([status_r], [], [], config.timeout_s)
        timed_out = not done
        if timed_out:
            self.kill()  # the job's namespace dies with the server
        wall = time.monotonic() - started
        os.close(lifeline_w)
        for reader in (channel, log):
            reader.join(2.0)
        os.close(channel_r)
        os.close(log_r)
        ending = None if timed_out else process.worker_ending(status_r)
        if timed_out:
            os.close(status_r)
        lines = process.plan_lines(support, config, self.cgroup, dropped, env["CUDA_VISIBLE_DEVICES"])
        lines.append(f"warm worker: job {self.jobs + 1} of server {self.proc.pid}")
        result = process.build_result(config, channel, log, ending, timed_out, wall, started, lines,
                                      launcher_code=-signal.SIGKILL if timed_out else 0)
        result = process.over_quota(result, config, watch)
        self.jobs += 1
        reusable = not timed_out and result.status == "ok" and self._ready(READY_TIMEOUT_S)
        return result, reusable


_pool: dict[str, WarmServer] = {}
_pool_lock = threading.Lock()


def _key(config: SandboxConfig, entry: str) -> str:
    """Servers are shared by jobs with the same namespace-level settings and entry module (preloaded)."""
    return entry.partition(":")[0] + config.model_dump_json(include={"network", "gpu_index", "max_processes",
                                                                     "env_extra"})


def run_warm(entry: str, payload: dict, workdir: Path, config: SandboxConfig) -> SandboxResult:
    """Run one job on a warm server for this config (starting one if needed); one job at a time."""
    support = isolation.host_support()
    if support.unshare_flags is None:
        result = process.run_cold(entry, payload, workdir, config)
        result.isolation.append("warm worker: unavailable without a pid namespace, ran cold")
        return result
    key = _key(config, entry)
    with _pool_lock:
        server = _pool.pop(key, None)
    if server is not None and server.proc.poll() is not None:
        server.kill()  # died between jobs: free its cgroup and home
        server = None
    if server is None:
        try:
            server = WarmServer(config, support, entry)
        except (OSError, RuntimeError) as exc:
            result = process.run_cold(entry, payload, workdir, config)
            result.isolation.append(f"warm worker: did not start, ran cold ({str(exc).splitlines()[0][:200]})")
            return result
    result, reusable = server.run(entry, payload, workdir, config, support)
    if reusable:
        with _pool_lock:
            spare = _pool.setdefault(key, server)
        if spare is not server:
            server.kill()
    else:
        server.kill()
    return result


def shutdown() -> None:
    """Kill every warm server (also registered at exit)."""
    with _pool_lock:
        servers = list(_pool.values())
        _pool.clear()
    for server in servers:
        server.kill()


atexit.register(shutdown)
