"""`run_sandboxed`: launch one confined child, wait, kill everything it started, classify.

Owns: the parent's side of a run: the private pipes, the launch, the wall-clock limit (SIGTERM,
then SIGKILL one second later), tearing down every process of the run (pid namespace init,
session, cgroup) even when the child ended by itself, and turning what happened into a
`SandboxResult`. Does not own: what the host can enforce (isolation.py), the child's own
confinement (confine.py) or the meaning of the entry's result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from warpsmith.sandbox import environment, isolation, paths
from warpsmith.sandbox.cgroup import PidsCgroup
from warpsmith.sandbox.channel import ChannelMessage, ChannelReader, LogCollector
from warpsmith.sandbox.child import CONFINEMENT_FAILED
from warpsmith.sandbox.config import SandboxConfig, SandboxResult
from warpsmith.sandbox.spec import LaunchSpec
from warpsmith.sandbox.workdir import QuotaWatch

TERM_GRACE_S = 1.0
_LIMIT_SIGNALS = {signal.SIGXCPU: "CPU time limit", signal.SIGXFSZ: "file size limit"}


def rlimits(config: SandboxConfig) -> dict[str, tuple[int, int]]:
    limits = {
        "CPU": (config.cpu_seconds, config.cpu_seconds + 1),  # SIGXCPU first, SIGKILL a second later
        "NPROC": (config.max_processes, config.max_processes),
        "FSIZE": (config.max_file_bytes, config.max_file_bytes),
        "NOFILE": (config.max_open_files, config.max_open_files),
        "CORE": (0, 0),
    }
    if config.memory_bytes is not None:
        limits["AS"] = (config.memory_bytes, config.memory_bytes)
    return limits


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _terminate(proc: subprocess.Popen, cgroup: PidsCgroup | None) -> None:
    """SIGTERM the session's group, SIGKILL it after a grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        if cgroup is not None:
            cgroup.kill_all()
        proc.wait()


def plan_lines(support: isolation.HostSupport, config: SandboxConfig, cgroup: PidsCgroup | None,
                dropped: list[str], gpu: str) -> list[str]:
    lines = ["process: new session" + (f" + pid namespace ({support.namespace_kind})"
                                       if support.unshare_flags is not None else " only (no pid namespace)")]
    if config.network:
        lines.append("network: allowed by config")
    elif support.network_namespace:
        lines.append("network: empty network namespace")
    elif not support.landlock_abi or support.landlock_abi < 4:
        lines.append("network: NOT isolated (" + support.notes.get("network", "") + ")")
    if support.proc_read_only:
        lines.append("proc: /proc/sys, sysrq-trigger, irq, bus, fs read-only (mount namespace)")
    elif config.gpu_index is not None and support.landlock_abi is not None:
        lines.append("proc: read-only under landlock; CUDA may fail to initialise (" + support.notes.get("proc", "") + ")")
    lines.append("privileges: capabilities dropped (setpriv)" if support.setpriv_flags is not None
                 else "privileges: not dropped (" + support.notes.get("privileges", "unprivileged user") + ")")
    lines.append(f"processes: pids cgroup max {config.max_processes}" if cgroup is not None
                 else "processes: RLIMIT_NPROC only (" + support.notes.get("processes", "") + ")")
    if support.landlock_abi is None:
        lines.append("filesystem: NOT confined (" + support.notes.get("filesystem", "") + ")")
    lines.append("environment: allow-list" + (f"; dropped secret-looking env_extra {dropped}" if dropped else ""))
    lines.append(f"gpu: device {gpu!r} only" if gpu else "gpu: none visible")
    return lines


def worker_ending(status_r: int) -> dict | None:
    """How the worker ended, as its supervisor reported it ({"exit_code"} or {"signal"})."""
    os.set_blocking(status_r, False)
    try:
        data = os.read(status_r, 4096)
    except BlockingIOError:
        data = b""
    finally:
        os.close(status_r)
    return json.loads(data) if data else None


def _classify(result: dict, message: ChannelMessage | None, problem: str | None,
              ending: dict | None, launcher_code: int) -> None:
    """Fill status / value / error from what came back and how the worker ended."""
    if ending is None:  # the supervisor did not report: fall back on the launcher's status
        ending = {"signal": -launcher_code} if launcher_code < 0 else {"exit_code": launcher_code}
    returncode = -ending["signal"] if "signal" in ending else ending["exit_code"]
    if returncode < 0:
        result["signal"] = -returncode
    else:
        result["exit_code"] = returncode
    if message is not None and message.kind == "result" and returncode == 0:
        result.update(status="ok", value=message.value)
    elif message is not None and message.kind == "error" and returncode in (0, CONFINEMENT_FAILED):
        result.update(status="error", error=message.error)
    elif problem is not None and "larger than" in problem:
        result.update(status="killed", error=problem)
    elif returncode < 0:
        sig = signal.Signals(-returncode)
        limit = _LIMIT_SIGNALS.get(sig)
        status = "killed" if limit or sig == signal.SIGKILL else "crashed"
        why = f" ({limit})" if limit else " (CPU hard limit, out of memory, or killed from outside)" \
            if sig == signal.SIGKILL else ""
        result.update(status=status, error=f"child died from {sig.name}{why}")
    else:
        extra = f"; {problem}" if problem else ""
        result.update(status="crashed", error=f"child exited with code {returncode} without a valid result{extra}")


def run_sandboxed(entry: str, payload: dict, workdir: Path, config: SandboxConfig) -> SandboxResult:
    """Run trusted `entry` ("pkg.module:function") as function(payload, workdir) in a confined child.

    `workdir` must exist (the caller creates and fills it); it becomes the child's cwd, HOME and
    TMPDIR and is the only place it may write besides config.writable_paths. With
    `config.warm`, the job runs in a fork of a warm worker that preloaded torch and triton.
    """
    workdir = Path(workdir).resolve()
    if not workdir.is_dir():
        raise FileNotFoundError(f"sandbox workdir {workdir} does not exist")
    if config.warm:
        from warpsmith.sandbox.warm import run_warm

        return run_warm(entry, payload, workdir, config)
    return run_cold(entry, payload, workdir, config)


def run_cold(entry: str, payload: dict, workdir: Path, config: SandboxConfig) -> SandboxResult:
    """A fresh interpreter for this one call."""
    support = isolation.host_support()
    env, dropped = environment.child_environment(config, workdir)
    cgroup = PidsCgroup.create(config.max_processes) if support.cgroup else None
    channel_r, channel_w = os.pipe()
    lifeline_r, lifeline_w = os.pipe()
    status_r, status_w = os.pipe()
    spec = LaunchSpec(
        entry=entry, payload=payload, workdir=str(workdir), channel_fd=channel_w, lifeline_fd=lifeline_r,
        status_fd=status_w,
        rlimits=rlimits(config), readable=paths.readable_paths(entry, config, env),
        writable=paths.writable_paths(workdir, config), devices=paths.device_paths(config),
        landlock=support.landlock_abi is not None,
        proc_writable=config.gpu_index is not None and support.proc_read_only,
        deny_tcp=not config.network and not support.network_namespace,
    )
    spec_fd = spec.to_memfd()
    command = isolation.launch_prefix(support, config.network, cgroup) + isolation.child_command(spec_fd)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=workdir, env=env, start_new_session=True, pass_fds=(channel_w, lifeline_r, status_w, spec_fd),
        )
    finally:
        for fd in (channel_w, lifeline_r, status_w, spec_fd):
            os.close(fd)
    channel, log = ChannelReader(channel_r), LogCollector(proc.stdout.fileno())
    channel.start()
    log.start()
    timed_out = False
    watch = start_quota_watch(workdir, config, lambda: _kill_run(proc, cgroup))
    try:
        proc.wait(config.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _terminate(proc, cgroup)
    finally:
        # Nothing of the run outlives the call: the session's group, then the cgroup.
        _signal_group(proc.pid, signal.SIGKILL)
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
        os.close(lifeline_w)
    wall = time.monotonic() - started
    channel.join(2.0)
    log.join(2.0)
    # A reader still blocked means some process outside our reach holds the pipe (no pid
    # namespace); leave its fd open rather than let the number be reused under the thread.
    if not channel.is_alive():
        os.close(channel_r)
    if not log.is_alive():
        proc.stdout.close()
    lines = plan_lines(support, config, cgroup, dropped, env["CUDA_VISIBLE_DEVICES"])
    result = build_result(config, channel, log, worker_ending(status_r), timed_out, wall, started, lines,
                          proc.returncode)
    return over_quota(result, config, watch)


def _kill_run(proc: subprocess.Popen, cgroup: PidsCgroup | None) -> None:
    _signal_group(proc.pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill_all()


def start_quota_watch(workdir: Path, config: SandboxConfig, kill: Callable[[], None]) -> QuotaWatch | None:
    if config.workdir_quota_bytes is None:
        return None
    watch = QuotaWatch(workdir, config.workdir_quota_bytes, kill)
    watch.start()
    return watch


def over_quota(result: SandboxResult, config: SandboxConfig, watch: QuotaWatch | None) -> SandboxResult:
    """`result`, or a `killed` result when the quota watch had to stop the run."""
    if watch is None or not watch.stop():
        return result
    return result.model_copy(update={
        "status": "killed", "value": None, "over_quota": True,
        "error": f"the workdir went over its quota of {config.workdir_quota_bytes} bytes"})


def build_result(config: SandboxConfig, channel: ChannelReader, log: LogCollector, ending: dict | None,
                 timed_out: bool, wall: float, started: float, lines: list[str], launcher_code: int) -> SandboxResult:
    """The SandboxResult of a finished run (cold or warm) from everything that came back."""
    message, problem = channel.message()
    result: dict = {"status": "crashed", "log": log.text(), "wall_s": wall, "isolation": lines}
    if message is not None:
        result["isolation"] += message.confinement
        if message.ready_at is not None:
            result["startup_s"] = max(0.0, message.ready_at - started)
    if timed_out:
        result.update(status="timeout", error=f"wall-clock limit of {config.timeout_s:g} s exceeded",
                      signal=-launcher_code if launcher_code < 0 else None)
    else:
        _classify(result, message, problem, ending, launcher_code)
    return SandboxResult(**result)
