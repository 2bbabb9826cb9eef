"""Resource limits for every compiler and linker a build runs, and the one line that says which was hit.

Owns: `BuildLimits` (output-file size and address-space caps, from the settings'
evaluator.build_output_mb and build_memory_mb), `limited_command` (the argv that applies them), the tiny
`main` that calls setrlimit and then execs the command (so the limits hold for the compiler
and everything it starts, and are set before it runs: no race, no preexec_fn in a threaded
parent), and `limit_message` (what the build log says when a limit stopped the compiler).
Does not own: the wall-clock timeout (build.py kills the process group) or the file-system
confinement (build_jail.py, which this wrapper execs).

Not limited: the number of processes. RLIMIT_NPROC counts every process of the user, and
the evaluator, its sandboxes and other builds share one user, so a cap low enough to stop
a fork bomb would fail honest builds next to them; the compile has no `fork` to offer a
candidate anyway (the source is compiled, not run).

Usage: python -m warpsmith.evaluator.build_limits --fsize BYTES --as BYTES -- cmd ...
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
DEFAULT_OUTPUT_MB = 512
DEFAULT_MEMORY_MB = 8192
# How the tools say they ran out of memory under RLIMIT_AS (gcc, cicc, ptxas, clang, as, ld, Python).
_OUT_OF_MEMORY = re.compile(r"out of memory|memory exhausted|cannot allocate memory|instance of 'std::bad_alloc'|"
                            r"MemoryError|failed to map segment", re.IGNORECASE)
# How they say a write went past RLIMIT_FSIZE (EFBIG) or that SIGXFSZ (25) killed them.
_FILE_TOO_BIG = re.compile(r"file too large|file size limit exceeded|signal 25|SIGXFSZ", re.IGNORECASE)


@dataclass(frozen=True)
class BuildLimits:
    output_bytes: int = DEFAULT_OUTPUT_MB * MIB
    memory_bytes: int = DEFAULT_MEMORY_MB * MIB

    @classmethod
    def from_settings(cls) -> BuildLimits:
        """Limits from evaluator.build_output_mb / build_memory_mb (WARPSMITH_BUILD_OUTPUT_MB /
        WARPSMITH_BUILD_MEMORY_MB, warpsmith.toml), else the defaults."""
        from warpsmith.records.settings import load_settings  # here: the exec wrapper stays pydantic-free

        evaluator = load_settings().evaluator
        return cls(output_bytes=evaluator.build_output_mb * MIB, memory_bytes=evaluator.build_memory_mb * MIB)


def limited_command(command: list[str], limits: BuildLimits) -> list[str]:
    """`command` wrapped so that it runs under `limits`."""
    return [sys.executable, "-P", "-m", "warpsmith.evaluator.build_limits", "--fsize", str(limits.output_bytes),
            "--as", str(limits.memory_bytes), "--", *command]


def limit_message(log: str, work: Path, limits: BuildLimits) -> str | None:
    """One line when a failed compile or link was stopped by a limit, else None."""
    biggest = max((p.stat().st_size for p in work.rglob("*") if p.is_file() and not p.is_symlink()), default=0)
    # A tool that ignores SIGXFSZ may word EFBIG as "No space left on device": on a disk with room, it was the limit.
    no_space = "No space left on device" in log and shutil.disk_usage(work).free > limits.output_bytes
    if biggest >= limits.output_bytes or _FILE_TOO_BIG.search(log) or no_space:
        return f"the compiler exceeded its {limits.output_bytes // MIB} MiB output limit"
    if _OUT_OF_MEMORY.search(log):
        return f"the compiler exceeded its {limits.memory_bytes // MIB} MiB memory limit"
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsize", type=int, required=True)
    parser.add_argument("--as", dest="address_space", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    for which, value in ((resource.RLIMIT_FSIZE, args.fsize), (resource.RLIMIT_AS, args.address_space),
                         (resource.RLIMIT_CORE, 0)):  # a compiler killed by SIGXFSZ must not dump a core
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)  # never above a limit already set
        resource.setrlimit(which, (value, value))
    # Python ignores SIGXFSZ and an ignored signal stays ignored across exec: restore the default. (The
    # jail exec'd next is Python too and ignores it again, so the compiler sees EFBIG, which GNU as
    # words as "No space left on device": limit_message reads every wording.)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
