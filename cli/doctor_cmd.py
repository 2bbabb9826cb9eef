"""`warpsmith doctor`: what this machine offers warpsmith, one line per check.

Owns: the checks (Python, torch, triton and its interpreter, GPU, nvcc / hipcc / ncu / rocprof,
which API keys are set, the store's location, the sandbox's isolation, probed live) and their
display; `--json` for machines. Each check is `ok` or `missing` with what to do about it.
Never prints a key's value, nor a database password. Always exits 0: a missing tool is a
finding, not an error. Does not own: fixing anything.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass

import typer

API_KEYS = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY",
            "MISTRAL_API_KEY", "TOGETHER_API_KEY", "GROQ_API_KEY", "XAI_API_KEY", "HOSTED_VLLM_API_KEY"]

_TRITON_INTERPRETER_PROBE = """
import torch, triton, triton.language as tl
@triton.jit
def k(x, n, B: tl.constexpr):
    o = tl.arange(0, B)
    tl.store(x + o, tl.load(x + o, mask=o < n) * 2, mask=o < n)
t = torch.ones(10)
k[(1,)](t, 10, B=16)
assert float(t.sum()) == 20.0
"""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def _tool_version(binary: str, args: list[str], hint: str, label: str | None = None) -> Check:
    path = shutil.which(binary)
    if path is None:
        return Check(label or binary, False, "not found on PATH", hint)
    try:
        done = subprocess.run([path, *args], capture_output=True, text=True, timeout=30)
        lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        version = next((line for line in lines if re.search(r"version|release", line, re.IGNORECASE)),
                       lines[-1] if lines else "")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(label or binary, False, f"{path} does not run: {exc}", hint)
    return Check(label or binary, True, f"{path}: {version[:100]}")


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", sys.version_info >= (3, 10), version, "warpsmith needs Python 3.10 or newer")


def _torch() -> list[Check]:
    try:
        import torch
    except ImportError as exc:
        return [Check("torch", False, str(exc), "pip install torch")]
    build = (f"CUDA {torch.version.cuda}" if torch.version.cuda
             else f"ROCm {torch.version.hip}" if getattr(torch.version, "hip", None) else "CPU only")
    checks = [Check("torch", True, f"{torch.__version__} ({build})")]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        checks.append(Check("gpu", True, f"{len(names)} visible to torch: " + ", ".join(names)))
    else:
        checks.append(_gpu_from_tools())
    return checks


def _gpu_from_tools() -> Check:
    for tool, args in (("nvidia-smi", ["-L"]), ("rocm-smi", ["--showproductname"])):
        if shutil.which(tool):
            done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=30)
            if done.returncode == 0 and done.stdout.strip():
                return Check("gpu", True, f"{tool}: {done.stdout.strip().splitlines()[0]} (torch cannot use it)",
                             "install a torch build for this GPU")
    return Check("gpu", False, "no GPU visible (torch, nvidia-smi, rocm-smi)",
                 "fine for development: triton runs under TRITON_INTERPRET=1, cuda/hip are compiled only")


def _triton() -> list[Check]:
    try:
        import triton
    except ImportError as exc:
        return [Check("triton", False, str(exc), "pip install triton")]
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", _TRITON_INTERPRETER_PROBE], capture_output=True, text=True,
                          env=env, timeout=300)
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return [Check("triton", True, triton.__version__),
            Check("triton interpreter", done.returncode == 0,
                  "TRITON_INTERPRET=1 ran a kernel on CPU" if done.returncode == 0 else last[:200],
                  "" if done.returncode == 0 else "reinstall triton; interpreter mode is needed without a GPU")]


def _api_keys() -> list[Check]:
    present = [name for name in API_KEYS if os.environ.get(name)]
    return [Check("api keys", bool(present), "set: " + (", ".join(present) if present else "none"),
                  "" if present else "export one (e.g. OPENAI_API_KEY) or use the offline strategy")]


def _store() -> Check:
    try:
        from warpsmith.store import default_database_url, mask_url
    except ImportError as exc:
        return Check("store", False, f"warpsmith.store not importable: {exc}", "reinstall warpsmith")
    from sqlalchemy.exc import ArgumentError

    source = "WARPSMITH_DB" if os.environ.get("WARPSMITH_DB", "").strip() else "default"
    try:
        return Check("store", True, f"{mask_url(default_database_url())} ({source})")
    except ArgumentError:
        return Check("store", False, f"{source} is not a database URL", "set WARPSMITH_DB to a SQLAlchemy URL")


def _sandbox(live: bool) -> list[Check]:
    from warpsmith.sandbox import isolation_report

    checks = [Check(f"sandbox {name}", ok, how, "" if ok else "weaker isolation on this host: see docs")
              for name, ok, how in isolation_report()]
    if live:
        from warpsmith.sandbox.probe import live_check

        checks += [Check(f"sandbox {name}", ok, how) for name, ok, how in live_check()]
    return checks


def run_checks(live: bool = True) -> list[Check]:
    checks = [_python(), *_torch(), *_triton()]
    checks += [
        _tool_version("nvcc", ["--version"], "install the CUDA toolkit to compile cuda candidates"),
        _tool_version("hipcc", ["--version"], "install ROCm to compile hip candidates"),
        _tool_version("ncu", ["--version"], "install Nsight Compute for profiles on NVIDIA GPUs"),
        _tool_version("rocprofv3", ["--version"], "install rocprofiler for profiles on AMD GPUs", "rocprof")
        if shutil.which("rocprofv3") else
        _tool_version("rocprof", ["--version"], "install rocprofiler for profiles on AMD GPUs"),
    ]
    return checks + _api_keys() + [_store()] + _sandbox(live)


def render(checks: list[Check], color: bool = True) -> list[str]:
    """One line per check: `ok` or `missing`, the name, what was found, and what to do."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        mark = "ok     " if c.ok else "missing"
        if color:
            mark = typer.style(mark, fg="green" if c.ok else "yellow")
        hint = f"  -> {c.hint}" if c.hint and not c.ok else ""
        lines.append(f"{mark} {c.name.ljust(width)}  {c.detail}{hint}")
    return lines


def register(app: typer.Typer) -> None:
    @app.command("doctor", epilog="Exit codes: 0 always (a missing tool is a finding), 2 a usage error.")
    def doctor(
        as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
        live: bool = typer.Option(True, "--live/--no-live", help="Also run a probe inside a real sandbox."),
    ) -> None:
        """Check Python, torch, triton, GPUs, compilers, profilers, API keys, the store and the sandbox."""
        checks = run_checks(live)
        if as_json:
            typer.echo(json.dumps([asdict(c) for c in checks], indent=2))
            return
        for line in render(checks):
            typer.echo(line)
