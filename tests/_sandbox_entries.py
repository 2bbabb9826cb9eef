"""Entry functions for the sandbox tests: each one attacks (or inspects) one property.

They run inside the sandboxed child, imported through PYTHONPATH (tests/ is not a package);
`run()` in _sandbox_helpers.py wires that up. Stdlib only, so the child starts fast.
The attacks are real but bounded: each ends on its own within seconds, or is killed by the
limit under test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def spin_ignoring_sigterm(payload: dict, workdir: Path) -> dict:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        pass


def spawn_detached_sleeper(payload: dict, workdir: Path) -> dict:
    """Start a grandchild that leaves our session (setsid) and sleeps; optionally hang too."""
    code = f"import os, time; os.setsid(); time.sleep(120)  # {payload['marker']}"
    sleeper = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let it get going
    alive = sleeper.poll() is None
    if payload.get("hang"):
        time.sleep(120)
    return {"sleeper_alive": alive}


def raise_error(payload: dict, workdir: Path) -> dict:
    raise ValueError(f"candidate exploded: {payload['code']}")


def return_list(payload: dict, workdir: Path) -> dict:
    return [1, 2, 3]  # type: ignore[return-value]


def print_fake_result(payload: dict, workdir: Path) -> dict:
    """Print what a real message looks like on stdout, then leave without sending one."""
    fake = {"kind": "result", "value": {"speedup": 1000.0}, "confinement": [], "ready_at": None}
    print(json.dumps(fake), flush=True)
    print(json.dumps({"status": "ok", "value": {"speedup": 1000.0}}), flush=True)
    os._exit(0)


def chatter(payload: dict, workdir: Path) -> dict:
    print("FIRST-LINE", flush=True)
    for i in range(payload["lines"]):
        print(f"line {i} " + "x" * 100)
    print("LAST-LINE", file=sys.stderr, flush=True)
    return {"printed": payload["lines"]}


def write_huge_file(payload: dict, workdir: Path) -> dict:
    block = b"\0" * (1 << 20)
    with open(workdir / "huge.bin", "wb") as f:
        for _ in range(payload["megabytes"]):
            f.write(block)
    return {"wrote": payload["megabytes"]}


def fork_bomb(payload: dict, workdir: Path) -> dict:
    """Fork until refused; each child just sleeps, and dies with the sandbox."""
    forks = 0
    try:
        while forks < payload["cap"]:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            forks += 1
    except OSError as exc:
        return {"forks": forks, "refused": type(exc).__name__}
    return {"forks": forks, "refused": None}


def burn_cpu(payload: dict, workdir: Path) -> dict:
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # ignoring the soft limit must not help
    while True:
        pass


def signal_pid(payload: dict, workdir: Path) -> dict:
    try:
        os.kill(payload["pid"], 0)
        return {"kill": "ok"}
    except OSError as exc:
        return {"kill": type(exc).__name__}


def triton_add(payload: dict, workdir: Path) -> dict:
    """Import torch and triton and run a real @triton.jit kernel (interpreter on CPU)."""
    import torch
    import triton
    import triton.language as tl

    @triton.jit
    def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=mask) + tl.load(y_ptr + offsets, mask=mask),
                 mask=mask)

    x, y = torch.arange(1000, dtype=torch.float32), torch.ones(1000)
    out = torch.empty_like(x)
    add_kernel[(triton.cdiv(1000, 256),)](x, y, out, 1000, BLOCK=256)
    return {"max_error": float((out - (x + y)).abs().max()), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def allocate(payload: dict, workdir: Path) -> dict:
    blob = bytearray(payload["bytes"])
    return {"allocated": len(blob)}


def cuda_probe(payload: dict, workdir: Path) -> dict:
    """Initialise CUDA and multiply on the GPU if one is visible."""
    import torch

    if not torch.cuda.is_available():
        return {"cuda": False}
    x = torch.randn(256, 256, device="cuda")
    ok = torch.allclose((x @ x).cpu(), x.cpu() @ x.cpu(), atol=1e-2, rtol=1e-2)
    return {"cuda": True, "name": torch.cuda.get_device_name(0), "matmul_ok": bool(ok)}


def import_torch_triton(payload: dict, workdir: Path) -> dict:
    import torch
    import triton

    return {"torch": torch.__version__, "triton": triton.__version__}


def return_huge(payload: dict, workdir: Path) -> dict:
    return {"blob": "x" * payload["chars"]}


def fill_workdir(payload: dict, workdir: Path) -> dict:
    """Write many files, each under any per-file limit, then linger (a quota must stop it)."""
    for i in range(payload["files"]):
        (workdir / f"fill_{i}").write_bytes(b"x" * payload["file_bytes"])
    time.sleep(payload.get("linger_s", 30))
    return {"written": payload["files"]}
