"""A local pool worker: `python -m warpsmith.pool.worker --name gpu0 --device cuda`.

Owns: the worker's side of the local pool's protocol. The parent starts this module as a fresh
interpreter with CUDA_VISIBLE_DEVICES already in its environment (one GPU, seen as device 0; an
empty value for CPU workers), so the pin holds before torch is imported here. Stdin carries one
`EvalJob` per line; the first line this worker writes is {"ready": ...} once the evaluator (and
torch, triton) are imported and a CPU worker has warmed up (warmup.py: one
built-in seed evaluated, which starts the sandbox's warm fork server); then one answer per job (runner.run_job). The protocol owns the
original stdout: anything else printed (the evaluator's, Triton's) goes to stderr, the log the
parent keeps. After an answer that asks for recycling the worker exits and the parent starts a
fresh one. EOF on stdin ends it; so does the pool's process dying (even by SIGKILL, mid-job):
a watcher notices the worker was re-parented and exits at once, which closes the lifeline of
its sandboxed child, which then exits too. Nothing outlives the pool's process for long.

Does not own: the queue, the deadline or the re-queue (local.py, worker_process.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

PARENT_POLL_S = 1.0


def _exit_with_parent(parent: int) -> None:
    """Exit as soon as the pool's process is gone (this worker is then re-parented)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="warpsmith.pool.worker")
    parser.add_argument("--name", required=True)
    parser.add_argument("--device", choices=("cpu", "cuda"), required=True)
    parser.add_argument("--no-warm", action="store_true", help="skip the warm-up evaluation before 'ready'")
    args = parser.parse_args(argv)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()

    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # prints from the evaluator or Triton are a log, never a protocol line
    sys.stdout = sys.stderr

    import warpsmith.evaluator.evaluate  # noqa: F401 - pay torch's and triton's import before "ready"
    from warpsmith.pool.runner import default_timeout_s, run_job
    from warpsmith.records.jobs import EvalJob

    ready = {"ready": True, "name": args.name, "pid": os.getpid(), "device": args.device,
             "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
             "default_timeout_s": default_timeout_s(args.device)}
    if args.device == "cuda":
        import torch

        seen = torch.cuda.device_count()
        if seen != 1:
            print(f"worker {args.name}: CUDA_VISIBLE_DEVICES={ready['cuda_visible_devices']!r} "
                  f"but torch sees {seen} CUDA device(s)", file=sys.stderr, flush=True)
            return 3
    if not args.no_warm:  # the warm fork server and per-process caches, paid before the first job (warmup.py)
        from warpsmith.pool.warmup import warm_up

        ready["warm_s"], problem = warm_up(args.device)
        print(f"worker {args.name}: warmed up in {ready['warm_s']:.2f} s" + (f" ({problem})" if problem else ""),
              file=sys.stderr, flush=True)
    protocol.write(json.dumps(ready) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = run_job(EvalJob.model_validate_json(line), args.device)
        protocol.write(json.dumps(answer) + "\n")
        if answer["recycle"]:
            break
    _exit_now(protocol)
    return 0


def _exit_now(protocol: object) -> None:
    """End without the interpreter's teardown (torch's and triton's modules: ~0.3 s per worker on
    the build machine, paid at every close and recycle). The one exit hook this process registers,
    the warm fork servers' shutdown (sandbox/warm.py), runs first, explicitly."""
    from warpsmith.sandbox.warm import shutdown

    shutdown()
    for stream in (protocol, sys.stdout, sys.stderr):
        try:
            stream.flush()  # type: ignore[attr-defined]
        except (OSError, ValueError):
            pass
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
