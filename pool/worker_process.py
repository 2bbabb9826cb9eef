"""The parent's handle on one local worker process: start it pinned, hand it a job, read its
answers, kill and reap it.

Owns: the worker's environment (CUDA_VISIBLE_DEVICES set to its one GPU, or empty for a CPU
worker, before the interpreter starts: the pin holds before torch is imported), its log file,
the line protocol's parent end, and killing the worker's whole process group. Sandboxed children
of the worker watch a lifeline pipe and exit when the worker dies (warpsmith.sandbox).
Does not own: what a job is worth or when to re-queue (local.py). Never imports torch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from warpsmith.records.jobs import EvalJob

LOG_TAIL_CHARS = 4000


def worker_environment(gpu: str | None, base: dict[str, str] | None = None, threads: int | None = None) -> dict[str, str]:
    """The worker's environment: the parent's, with exactly one GPU visible (`gpu`, a physical id
    or UUID) or none at all for a CPU worker. `threads`: torch's CPU threads in the worker (its
    share of the cores, so N workers do not each spread over every core), unless the parent's
    environment already sets OMP_NUM_THREADS."""
    env = dict(os.environ if base is None else base)
    if threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(max(1, threads)))
    env["CUDA_VISIBLE_DEVICES"] = "" if gpu is None else str(gpu)
    if gpu is not None and "HIP_VISIBLE_DEVICES" in env:  # ROCm honours both; keep them in agreement
        env["HIP_VISIBLE_DEVICES"] = str(gpu)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class WorkerProcess:
    """One worker: `name` ('gpu0', 'cpu1'), pinned to `gpu` or a CPU worker when it is None."""

    def __init__(self, name: str, gpu: str | None, log_dir: Path, threads: int | None = None) -> None:
        self.name, self.gpu = name, gpu
        self.device = "cpu" if gpu is None else "cuda"
        self.log_path = log_dir / f"{name}.log"
        self.ready = False
        self.job: EvalJob | None = None
        self.job_started = 0.0
        self.deadline = float("inf")
        self.started = time.monotonic()
        self._buffer = b""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "warpsmith.pool.worker", "--name", name, "--device", self.device],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=worker_environment(gpu, threads=threads),
            start_new_session=True, cwd=tempfile.gettempdir())
        log.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def send(self, job: EvalJob, deadline_s: float) -> None:
        """Hand `job` to this (idle, ready) worker; it must answer within `deadline_s`."""
        assert self.proc.stdin is not None and self.job is None
        self.job, self.job_started = job, time.monotonic()
        self.deadline = self.job_started + deadline_s
        self.proc.stdin.write(job.model_dump_json().encode() + b"\n")
        self.proc.stdin.flush()

    def read(self) -> tuple[list[dict[str, Any]], bool]:
        """What the worker wrote since the last read (call when its stdout is readable): the complete
        messages, and whether the pipe is at end of file (the worker ended)."""
        chunk = os.read(self.fileno(), 1 << 20)
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = []
        for line in lines:
            if not line.strip():
                continue
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError:  # not ours: a worker speaks only JSON lines on this pipe
                messages.append({"garbled": line[:200].decode(errors="replace")})
        return messages, not chunk

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def last_log_line(self) -> str:
        lines = [line.strip() for line in self.log_tail().splitlines() if line.strip()]
        return lines[-1][:200] if lines else ""

    def ending(self) -> str:
        """How the worker ended, in words (after it ended)."""
        code = self.proc.poll()
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def kill(self) -> None:
        """Kill the worker's process group and reap it. Its sandboxed children die with it (their
        lifeline pipe closes)."""
        if self.proc.returncode is None:  # once reaped, the pid may belong to someone else: never signal it
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def reap(self, grace_s: float = 5.0) -> None:
        """After its pipe closed: let the worker finish exiting (so `ending()` tells how it ended),
        then kill whatever of its group is left."""
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def request_stop(self) -> None:
        """EOF on the worker's stdin: it ends after the job in hand (stop() then waits for it)."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def stop(self, grace_s: float = 5.0) -> None:
        """Ask the worker to end (EOF on its stdin), then kill what is left after `grace_s`."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
