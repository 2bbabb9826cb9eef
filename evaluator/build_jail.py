"""Run one compiler command with its file system confined by Landlock.

Owns: `jailed_command` (the argv that wraps a compiler command) and the tiny `main`
that applies the Landlock rules and then execs the compiler, so the rules hold for the
compiler and every process it starts. Does not own: which folders a toolchain needs
(build_toolchain.py), the source preflight (build_guard.py) or the Landlock system calls
(warpsmith.sandbox.landlock_abi, stdlib + ctypes: no third-party package).

The compiler may read what the sandbox's one read policy allows a build
(warpsmith.sandbox.paths: the toolchain's folders, a handful of files in /etc that the
dynamic loader and the compilers open, /proc/self) plus the folders it is given (torch's
headers and libraries, ...), minus anything that would expose a protected path; it may
write only in its build folder and /dev/null. Everything else (home folders, the store's
database, /etc/passwd, API key files) is unreadable, so
a source that smuggles a path past the text checks (e.g. `asm(".incbin ...")` built
from escaped pieces) still gets nothing. Where the kernel lacks Landlock the command
runs unconfined: `landlock_status` says so, the caller records it in the build log, and
the jail itself prints one line on stderr (which the build log captures); it never fails
the build for that.

Usage: python -m warpsmith.evaluator.build_jail --read DIR ... --write DIR [--protect PATH ...] -- cmd ...
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from warpsmith.sandbox import landlock_abi, paths


def landlock_status() -> tuple[bool, str]:
    """Whether compiles can be confined here, and why not when they cannot."""
    try:
        abi = landlock_abi.abi_version()
    except landlock_abi.LandlockUnavailable as err:
        return False, f"Landlock unavailable ({err}); the compiler's file system is not confined"
    return True, f"Landlock ABI {abi}"


def jailed_command(command: list[str], *, read: list[Path], write: list[Path]) -> list[str]:
    """`command` wrapped so that it runs confined to `read` (+ system dirs) and `write`."""
    wrapper = [sys.executable, "-P", "-m", "warpsmith.evaluator.build_jail"]
    # The compiler's environment names neither the user's home (HOME is the build folder there) nor
    # the store: the parent, which knows both, names what is protected.
    for protected in paths.protected_paths(paths.store_files()):
        wrapper += ["--protect", str(protected)]
    for path in read:
        wrapper += ["--read", str(path)]
    for path in write:
        wrapper += ["--write", str(path)]
    return [*wrapper, "--", *command]


def _apply(read: list[str], write: list[str], protected: list[str]) -> None:
    """Enter a Landlock domain: read (and execute) the toolchain and `read`, write only `write`."""
    rules = landlock_abi.Ruleset(landlock_abi.abi_version(), deny_tcp=False)
    for path in paths.without_protected({*paths.system_read_paths("build"), *read}, protected):
        rules.allow_path(path, landlock_abi.READ_ONLY)  # masked to file rights on a file
    for path in write:
        rules.allow_path(path, rules.fs_rights)
    device = landlock_abi.READ_FILE | landlock_abi.WRITE_FILE | landlock_abi.TRUNCATE | landlock_abi.IOCTL_DEV
    rules.allow_path("/dev/null", device)
    rules.allow_path("/dev/urandom", landlock_abi.READ_FILE)
    rules.restrict_self()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--read", action="append", default=[])
    parser.add_argument("--write", action="append", default=[])
    parser.add_argument("--protect", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    available, why = landlock_status()
    if available:
        _apply(args.read, args.write, args.protect)
    else:
        print(f"warpsmith build_jail: {why}", file=sys.stderr)  # ends up in the build log
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
