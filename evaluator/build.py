"""Compile a CUDA / HIP candidate into a library torch can load, with a cache.

Owns: `build_extension` (preflight, compile, link, cache), `BuildResult`, and the glue appended to every candidate (a
TORCH_LIBRARY registration of its host function `kernel` under a namespace derived
from the build key). Does not own: the source preflight and environment
(build_guard.py), the file-system confinement (build_jail.py), the compiler commands
(build_toolchain.py), the resource parsing (build_resources.py) or running the kernel
(the evaluator's child process: `torch.ops.load_library(result.library_path)` then
`getattr(torch.ops, result.op_namespace).kernel(*inputs)`).

The build has no global state and does not import torch, so a sandbox child can call
it. The cache folder is keyed by sha256(source, language, arch, toolchain_info): each
build runs in a fresh folder under the cache, guarded by a per-key lock, and appears
under its key by one atomic rename, so concurrent builds never see half a build.
Compile errors are cached (the same source fails the same way); timeouts and refusals
are not. Every compiler and linker runs under output-size and memory limits
(build_limits.py) inside the file-system jail; the cache has a quota and evicts the least
recently used entries (build_cache.py). Every result handed out, fresh or cached, has just
had its library's symbol table audited (symbol_audit.py): a library that imports anything
off the allow-list comes back `ok=False` with `violations` and no `library_path`. What is and is not built on a machine without a CUDA/ROCm torch is written
down in docs/builds.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from warpsmith.evaluator import build_cache
from warpsmith.evaluator.build_guard import compiler_env, refuse_reason
from warpsmith.evaluator.build_jail import jailed_command, landlock_status
from warpsmith.evaluator.build_limits import BuildLimits, limit_message, limited_command
from warpsmith.evaluator.build_resources import resource_report
from warpsmith.evaluator.build_toolchain import (
    compile_command,
    cuda_home,
    default_arch,
    hip_env,
    link_command,
    shim_headers,
    toolchain_info,
    toolchain_problem,
    torch_dir,
    torch_flavor,
    validate_arch,
)
from warpsmith.evaluator.symbol_audit import AuditUnavailable, audit_library
from warpsmith.records.evaluation import ResourceReport, Violation

__all__ = ["BuildResult", "build_extension", "resource_report", "toolchain_info"]

LOG_LIMIT_CHARS = 20_000
SUFFIX = {"cuda": ".cu", "hip": ".hip"}
PRELUDE = {"cuda": "", "hip": "#include <hip/hip_runtime.h>\n"}


class BuildResult(BaseModel):
    """What one build produced; `ok` means the compiler accepted the candidate."""

    ok: bool
    library_path: Path | None = Field(description="The loadable .so; None when not built or not linkable here.")
    op_namespace: str | None = Field(description="torch.ops.<op_namespace>.kernel is the candidate's host function.")
    log: str = Field(description="Compiler and linker output, first errors first, trimmed.")
    resources: list[ResourceReport] = Field(default_factory=list)
    cached: bool = False
    seconds: float = 0.0
    toolchain: dict[str, str] = Field(default_factory=dict)
    language: Literal["cuda", "hip"] = "cuda"
    arch: str = ""
    key: str = Field(default="", description="The cache key: sha256 of source, language, arch, toolchain.")
    object_path: Path | None = Field(default=None, description="The compiled object (device + host code).")
    linked: bool = Field(default=False, description="A loadable library was produced.")
    refused: bool = Field(default=False, description="The preflight refused the source; nothing was compiled.")
    timed_out: bool = False
    violations: list[Violation] = Field(default_factory=list, description=(
        "The symbol audit's findings: imports off the allow-list; non-empty means ok=False, nothing to load."))


default_cache_dir = build_cache.default_cache_dir


def build_key(source: str, language: str, arch: str, toolchain: dict[str, str],
              functions: tuple[str, ...] = ("kernel",)) -> str:
    parts: list[object] = [source, language, arch, sorted(toolchain.items())]
    if functions != ("kernel",):  # a CUDA ModelNew's exported functions (the default keeps old keys)
        parts.append(list(functions))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def binding_glue(namespace: str, functions: tuple[str, ...] = ("kernel",)) -> str:
    """Appended to the candidate: registers its `kernel` (or a CUDA ModelNew's load_inline functions,
    evaluator/native_module.py) with the dispatcher."""
    defs = " ".join(f'm.def("{name}", &{name});' for name in functions)
    return (
        "\n// ---- appended by warpsmith: the binding ----\n"
        "#include <torch/library.h>\n"
        f"TORCH_LIBRARY({namespace}, m) {{ {defs} }}\n"
    )


def trim_log(text: str, build_dir: Path) -> str:
    """Paths inside the build folder shortened; the first error lines lead; capped."""
    text = text.replace(f"{build_dir}/", "")
    lines = text.splitlines()
    errors = [line for line in lines if re.search(r"\b(error|fatal)\b", line, re.IGNORECASE)][:10]
    head = "\n".join(errors) + "\n---- full log ----\n" if errors else ""
    body = head + text
    if len(body) > LOG_LIMIT_CHARS:
        body = body[:LOG_LIMIT_CHARS] + f"\n... ({len(body) - LOG_LIMIT_CHARS} more characters)"
    return body


@contextmanager
def _locked(path: Path, *, slots: int = 1, timeout_s: float = 3600) -> Iterator[None]:
    """Hold one of `slots` file locks named after `path` (across processes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        for slot in range(slots):
            handle = open(f"{path}.{slot}.lock", "w")  # noqa: SIM115 - closed in finally below
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
                return
            finally:
                handle.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for a build slot at {path}")
        time.sleep(0.2)


def _run(command: list[str], *, cwd: Path, env: dict[str, str], timeout_s: float,
         limits: BuildLimits) -> tuple[int | None, str]:
    """Run confined and limited, in its own process group; rc None means killed at the timeout."""
    read = [torch_dir()] + ([cuda_home()] if cuda_home() else [])
    jailed = jailed_command(command, read=[p for p in read if p is not None], write=[cwd])
    process = subprocess.Popen(limited_command(jailed, limits), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
    try:
        output, _ = process.communicate(timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output
    return process.returncode, output


def _load_cached(final: Path, started: float) -> BuildResult:
    result = BuildResult.model_validate_json((final / "result.json").read_text())
    build_cache.touch(final)
    updates: dict[str, object] = {"cached": True, "seconds": time.monotonic() - started}
    if result.linked:
        updates["library_path"] = final / "kernel.so"
    if result.object_path is not None:
        updates["object_path"] = final / "kernel.o"
    return result.model_copy(update=updates)


def _compile_and_link(source: str, language: Literal["cuda", "hip"], arch: str, namespace: str,
                      work: Path, deadline: float, functions: tuple[str, ...] = ("kernel",)) -> BuildResult:
    candidate = work / f"candidate{SUFFIX[language]}"
    line_reset = f'#line 1 "{candidate.name}"\n' if PRELUDE[language] else ""
    candidate.write_text(PRELUDE[language] + line_reset + source + binding_glue(namespace, functions))
    for relative, content in shim_headers().items():
        (work / "shim" / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / "shim" / relative).write_text(content)
    env = compiler_env({"TMPDIR": str(work), "HOME": str(work), **(hip_env() if language == "hip" else {})})
    base = BuildResult(ok=False, library_path=None, op_namespace=None, log="", language=language, arch=arch)
    limits = BuildLimits.from_settings()

    command = compile_command(language, arch, candidate, work / "kernel.o", work / "shim")
    rc, compile_log = _run(command, cwd=work, env=env, timeout_s=deadline - time.monotonic(), limits=limits)
    log = f"$ {' '.join(command)}\n{compile_log}"
    if rc is None:
        return base.model_copy(update={"log": trim_log(log, work) + "\nbuild timed out", "timed_out": True})
    resources = resource_report(compile_log, language)
    if rc != 0:
        return base.model_copy(update={"log": _limited_log(log, work, limits), "resources": resources})

    command = link_command(language, arch, [work / "kernel.o"], work / "kernel.so")
    rc, link_log = _run(command, cwd=work, env=env, timeout_s=deadline - time.monotonic(), limits=limits)
    log += f"\n$ {' '.join(command)}\n{link_log}"
    if rc is not None and rc != 0 and (hit := limit_message(link_log, work, limits)):
        return base.model_copy(update={"log": f"{hit}\n{trim_log(log, work)}", "resources": resources})
    linked = rc == 0
    if not linked:
        log += "\nnot linked: this torch cannot host the library here (see docs/builds.md); the compile is real"
    flavor_matches = torch_flavor() == {"cuda": "cuda", "hip": "rocm"}[language]
    if rc is None or (not linked and flavor_matches):
        # A matching torch must link: a failure is the candidate's (undefined symbols).
        return base.model_copy(update={"log": trim_log(log, work), "resources": resources, "timed_out": rc is None})
    return base.model_copy(update={"ok": True, "log": trim_log(log, work), "resources": resources,
                                   "linked": linked, "op_namespace": namespace if linked else None,
                                   "object_path": work / "kernel.o"})


def _limited_log(log: str, work: Path, limits: BuildLimits) -> str:
    """The trimmed log, led by one line when a limit (not the source) stopped the compiler."""
    hit = limit_message(log, work, limits)
    return f"{hit}\n{trim_log(log, work)}" if hit else trim_log(log, work)


def _audited(result: BuildResult) -> BuildResult:
    """The result with its library's symbols audited: on any finding, not ok and nothing to load.
    Runs on every hand-out, cached or not, so a changed allow-list or a swapped file is seen."""
    target = result.library_path if result.linked else result.object_path
    if not result.ok or target is None:
        return result
    try:
        violations = audit_library(target)
    except (AuditUnavailable, OSError) as err:
        return result.model_copy(update={"ok": False, "library_path": None, "op_namespace": None,
                                         "log": f"not audited: {err}\n{result.log}"})
    if not violations:
        return result
    head = f"rejected by the symbol audit: {violations[0].message}"
    return result.model_copy(update={"ok": False, "library_path": None, "op_namespace": None,
                                     "violations": violations, "log": f"{head}\n{result.log}"})


def build_extension(source: str, language: Literal["cuda", "hip"], *, arch: str | None = None,
                    cache_dir: Path | None = None, timeout_s: float = 600, jobs: int | None = None,
                    functions: tuple[str, ...] = ("kernel",)) -> BuildResult:
    """Compile `source` for one arch into a library exposing torch.ops.<ns>.kernel (or each of
    `functions`: a CUDA ModelNew's load_inline exports, evaluator/native_module.py).

    `jobs` caps how many compiles run at once in this cache folder, across processes
    (default: one per CPU core); an extra build waits for a free slot, and `timeout_s`
    counts from when its compiler starts. Raises ValueError for a malformed `arch`.
    """
    started = time.monotonic()
    arch = validate_arch(language, arch or default_arch(language))
    refusal = refuse_reason(source)
    if refusal is None and "PYBIND11_MODULE" in source:
        refusal = "the build adds the binding itself; remove PYBIND11_MODULE"
    if refusal is not None:  # before any compiler runs, even `--version`
        return BuildResult(ok=False, library_path=None, op_namespace=None, log=f"refused: {refusal}",
                           refused=True, language=language, arch=arch, seconds=time.monotonic() - started)
    toolchain = toolchain_info(language)
    key = build_key(source, language, arch, toolchain, functions)
    namespace = f"warpsmith_{key[:16]}"
    common = {"toolchain": toolchain, "language": language, "arch": arch, "key": key}
    if problem := toolchain_problem(language):
        return BuildResult(ok=False, library_path=None, op_namespace=None, seconds=0.0, log=problem, **common)

    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / key
    if (final / "result.json").exists():
        return _audited(_load_cached(final, started))
    with _locked(cache / f".{key[:32]}"):
        if (final / "result.json").exists():  # built by a concurrent caller while we waited
            return _audited(_load_cached(final, started))
        with _locked(cache / ".slot", slots=jobs or os.cpu_count() or 1):
            work = Path(tempfile.mkdtemp(dir=cache, prefix=f".build-{key[:16]}-"))
            result = _compile_and_link(source, language, arch, namespace, work, time.monotonic() + timeout_s,
                                       functions)
        jail_ok, jail_note = landlock_status()
        result = result.model_copy(update={**common, "seconds": time.monotonic() - started,
                                           "log": result.log if jail_ok else f"{jail_note}\n{result.log}"})
        if result.timed_out or any(line.startswith("the compiler exceeded its") for line in result.log.splitlines()[:2]):
            # not the source's fault alone: the limits may differ on the next run
            shutil.rmtree(work, ignore_errors=True)
            return result
        (work / "result.json").write_text(result.model_dump_json())
        os.rename(work, final)
    build_cache.evict(cache, keep=key)
    return _audited(_load_cached(final, started).model_copy(update={"cached": False}))
