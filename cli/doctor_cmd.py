"""`warpsmith doctor`: what this machine offers warpsmith, one line per check.

Owns: the checks (Python, torch, triton and its interpreter, GPU, nvcc / hipcc / ncu / rocprof,
the settings (files read, or what is wrong), which API keys are set, the store (opened read-only: integrity, schema revision, writable;
`check_store`), the sandbox's isolation, probed live) and their display; `--json`
for machines. Each check is `ok`, `missing` or `bad` with what to do about it. `--db URL`
checks only that store (exit 1 when it is bad); `--migrate` carries an older one forward.
Never prints a key's value, nor a database password. Without --db always exits 0: a missing
tool is a finding, not an error. Does not own: fixing anything but the schema (--migrate).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer

from warpsmith.cli.errors import usage_error

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
    bad: bool = False
    """Found but broken (a corrupt store), not merely missing: shown as `bad`."""


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


def _store(url: str | None = None, required: bool = False) -> Check:
    """The store at `url` (default: WARPSMITH_DB or the user store), opened read-only and checked.

    A default store that does not exist yet is fine (the first run creates it); one given with
    --db (`required`) must exist. Never shows a password.
    """
    try:
        from warpsmith.store import default_database_url, mask_url
    except ImportError as exc:
        return Check("store", False, f"warpsmith.store not importable: {exc}", "reinstall warpsmith", bad=True)
    from sqlalchemy.exc import ArgumentError

    source = "--db" if url else _store_source()
    url = url or default_database_url()
    try:
        shown = mask_url(url)
    except ArgumentError:
        return Check("store", False, f"{source} is not a database URL", "set WARPSMITH_DB to a SQLAlchemy URL",
                     bad=True)
    ok, bad, detail, hint = check_store(url, required)
    return Check("store", ok, f"{shown} ({source}): {detail}", hint, bad=bad)


def _store_source() -> str:
    """Where the default store's URL comes from: a warpsmith.toml, an environment variable, or the default."""
    from warpsmith.records.settings import SettingsError, settings_with_sources

    try:
        return settings_with_sources()[1].get("store.url", "default").removeprefix("env ")
    except SettingsError:
        return "default (the settings are unreadable: see the settings line)"


def _writable(engine: Any, path: Path | None) -> bool:
    """Whether a write command could write here: SQLite takes (and drops) the write lock."""
    if path is not None:
        try:
            with sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=2) as probe:
                probe.isolation_level = None
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT has_table_privilege('runs', 'INSERT') AND NOT pg_is_in_recovery()"
            return bool(connection.exec_driver_sql(query).scalar())
    return True


def check_store(url: str, required: bool) -> tuple[bool, bool, str, str]:
    """(ok, bad, what was found, what to do) for the store at `url`, opened read-only; changes nothing.

    bad: broken or not a store (corrupt, unreadable, someone else's, missing when --db named it);
    an older or newer schema is not ok but not bad either (it needs a migration or a newer warpsmith).
    """
    from sqlalchemy import exc, text

    from warpsmith.dashboard.readonly import check_revision, read_revision, readonly_engine
    from warpsmith.store.db import StoreError

    try:
        engine, shown, path = readonly_engine(url)
    except StoreError as error:
        if "no warpsmith store at" in str(error) and not required:
            return True, False, "not created yet (the first run creates it)", ""
        return False, True, str(error), "pass --db with a warpsmith store"
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                rows = [row[0] for row in connection.execute(text("PRAGMA integrity_check"))]
                if rows != ["ok"]:
                    return False, True, f"integrity check failed: {'; '.join(rows[:3])}", "restore it from a backup"
            else:
                connection.execute(text("SELECT 1"))
        revision = read_revision(engine, shown)
        writable = _writable(engine, path)
    except exc.DBAPIError as error:
        first = (str(getattr(error, "orig", error)).strip().splitlines() or [type(error).__name__])[0]
        return False, True, f"cannot read it: {first}", "is it a warpsmith store? restore it from a backup"
    except StoreError as error:
        return False, True, str(error), "pass --db with a warpsmith store"
    finally:
        engine.dispose()
    access = "writable" if writable else "read-only (read commands work; write commands need another --db)"
    try:
        check_revision(revision, shown)
    except StoreError as error:
        hint = "upgrade warpsmith" if "newer" in str(error) else f"warpsmith doctor --db {shown} --migrate"
        return False, False, f"integrity ok, {access}; {error}", hint
    return True, False, f"integrity ok, schema {revision} (current), {access}", ""


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
    return checks + [_settings()] + _api_keys() + [_store()] + _sandbox(live)


def _settings() -> Check:
    from warpsmith.cli.config_cmd import settings_check

    ok, detail, hint = settings_check()
    return Check("settings", ok, detail, hint, bad=not ok)


def render(checks: list[Check], color: bool = True) -> list[str]:
    """One line per check: `ok`, `missing` or `bad`, the name, what was found, and what to do."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        mark = "ok     " if c.ok else "bad    " if c.bad else "missing"
        if color:
            mark = typer.style(mark, fg="green" if c.ok else "red" if c.bad else "yellow")
        hint = f"  -> {c.hint}" if c.hint and not c.ok else ""
        lines.append(f"{mark} {c.name.ljust(width)}  {c.detail}{hint}")
    return lines


def register(app: typer.Typer) -> None:
    @app.command(
        "doctor",
        epilog="Exit codes: 0 (without --db: always; a missing tool is a finding; with --db: the store is ok), "
        "1 with --db: the store is bad, 2 a usage error.",
    )
    def doctor(
        as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
        live: bool = typer.Option(True, "--live/--no-live", help="Also run a probe inside a real sandbox."),
        db: str | None = typer.Option(
            None, "--db", help="Check only this store (SQLAlchemy URL): integrity, schema revision, writable."
        ),
        migrate: bool = typer.Option(
            False, "--migrate", help="With --db: carry an older store forward to this warpsmith's schema."
        ),
    ) -> None:
        """Check Python, torch, triton, GPUs, compilers, profilers, API keys, the store and the sandbox."""
        if migrate and not db:
            raise usage_error("--migrate needs --db: the store to carry forward")
        if migrate:
            _migrate(db)
        checks = [_store(db, required=True)] if db else run_checks(live)
        if as_json:
            typer.echo(json.dumps([asdict(c) for c in checks], indent=2))
        else:
            for line in render(checks):
                typer.echo(line)
        if db and not checks[0].ok:
            raise typer.Exit(1)


def _migrate(db: str) -> None:
    from warpsmith.dashboard.readonly import check_existing
    from warpsmith.store.db import StoreError, open_store, upgrade_note

    try:
        check_existing(db, allow_older=True)  # --migrate upgrades a store; it never creates one
        store = open_store(db)
    except StoreError as error:
        raise usage_error(str(error)) from None
    typer.echo(upgrade_note(store) or f"store {store.url} is at this warpsmith's schema already", err=True)
    store.close()
