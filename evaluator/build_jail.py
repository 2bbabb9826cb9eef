"""Run one compiler command with its file system confined by Landlock.

Owns: `jailed_command` (the argv that wraps a compiler command) and the tiny `main`
that applies the Landlock rules and then execs the compiler, so the rules hold for the
compiler and every process it starts. Does not own: which folders a toolchain needs
(build_toolchain.py) or the source preflight (build_guard.py).

The compiler may read the toolchain's folders (/usr, /lib*, /opt/rocm, torch's
headers and libraries, ...) and a handful of files in /etc that the dynamic loader and
the compilers open; it may write only in its build folder and /dev/null. Everything
else (home folders, the store's database, /etc/passwd, API key files) is unreadable, so
a source that smuggles a path past the text checks (e.g. `asm(".incbin ...")` built
from escaped pieces) still gets nothing. Where the kernel lacks Landlock the command
runs unconfined and `landlock_status` says so; the caller records it in the build log.

Usage: python -m warpsmith.evaluator.build_jail --read DIR ... --write DIR -- cmd ...
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Single files in /etc that the loader and the compilers open (the rest of /etc stays
# out of reach: /etc/passwd is the classic exfiltration target).
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf", "/etc/host.conf")
ETC_DIRS = ("/etc/alternatives", "/etc/ld.so.conf.d")
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt", "/proc/self", "/sys/devices/system/cpu")


def landlock_status() -> tuple[bool, str]:
    """Whether compiles can be confined here, and why not when they cannot."""
    import landlock

    try:
        abi = landlock.landlock_abi_version()
    except (landlock.LandlockError, OSError, AttributeError) as err:
        return False, f"Landlock unavailable ({err}); the compiler's file system is not confined"
    return abi >= 1, f"Landlock ABI {abi}"


def jailed_command(command: list[str], *, read: list[Path], write: list[Path]) -> list[str]:
    """`command` wrapped so that it runs confined to `read` (+ system dirs) and `write`."""
    wrapper = [sys.executable, "-m", "warpsmith.evaluator.build_jail"]
    for path in read:
        wrapper += ["--read", str(path)]
    for path in write:
        wrapper += ["--write", str(path)]
    return [*wrapper, "--", *command]


def _apply(read: list[str], write: list[str]) -> None:
    from landlock import FSAccess, Ruleset

    ruleset = Ruleset()
    read_dir = FSAccess.READ_FILE | FSAccess.READ_DIR | FSAccess.EXECUTE
    read_file = FSAccess.READ_FILE | FSAccess.EXECUTE
    for path in [*SYSTEM_DIRS, *ETC_DIRS, *read]:
        if Path(path).is_dir():
            ruleset.allow(path, rules=read_dir)
        elif Path(path).is_file():
            ruleset.allow(path, rules=read_file)
    for path in ETC_FILES:
        if Path(path).is_file():
            ruleset.allow(path, rules=FSAccess.READ_FILE)
    for path in write:
        ruleset.allow(path, rules=FSAccess.all())
    ruleset.allow("/dev/null", rules=FSAccess.READ_FILE | FSAccess.WRITE_FILE)
    ruleset.allow("/dev/urandom", rules=FSAccess.READ_FILE)
    ruleset.apply()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--read", action="append", default=[])
    parser.add_argument("--write", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    available, why = landlock_status()
    if available:
        _apply(args.read, args.write)
    else:
        print(f"warpsmith build_jail: {why}", file=sys.stderr)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
