"""The Ray actor that evaluates: one per GPU (`num_gpus=1`: Ray sets its CUDA_VISIBLE_DEVICES
before this actor's first job imports torch), or one per CPU in interpreter mode.

Owns: the actor's body. The sandbox runs inside the actor exactly as in a local worker
(runner.run_job -> evaluator.evaluate -> sandboxed children); what the actor returns is the
trusted evaluator's answer, validated again as an `EvalResult` on the driver (book.py).
Does not import ray: ray_pool.py wraps this class with `ray.remote(...)`, so the module stays
importable without the extra. Nodes must have warpsmith installed (`pip install warpsmith[ray]`).
"""

from __future__ import annotations

import os
import socket
from typing import Any


class EvalActor:
    def __init__(self, name: str, device: str) -> None:
        self.name, self.device = name, device
        self._warm: tuple[float, str | None] | None = None  # once per actor (ready() is also a liveness probe)
        if device == "cpu":  # a CPU actor sees no GPU at all (Ray pins only actors that asked for one)
            os.environ["CUDA_VISIBLE_DEVICES"] = ""

    def ready(self) -> dict[str, Any]:
        """Import the evaluator (torch, triton) now, warm a CPU actor up (pool.warmup: its warm fork
        server and caches, outside any job), and say where this actor runs."""
        from warpsmith.pool.runner import default_timeout_s
        from warpsmith.pool.warmup import warm_up

        info: dict[str, Any] = {"name": self.name, "pid": os.getpid(), "host": socket.gethostname(),
                                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                "default_timeout_s": default_timeout_s(self.device)}
        if self.device == "cuda":
            import torch

            info["cuda_devices"] = torch.cuda.device_count()
        if self._warm is None:
            self._warm = warm_up(self.device)
        info["warm_s"], info["warm_problem"] = self._warm
        return info

    def run(self, job_json: str) -> dict[str, Any]:
        from warpsmith.pool.runner import run_job
        from warpsmith.records.jobs import EvalJob

        return run_job(EvalJob.model_validate_json(job_json), self.device)
