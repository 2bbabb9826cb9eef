"""Child-side confinement: rlimits, then a Landlock domain over the filesystem.

Owns: applying the limits a `LaunchSpec` carries, inside the child, before any untrusted code
is imported. Returns one line per property saying what was enforced. Does not own: choosing
the paths (paths.py) or the namespaces and capabilities (set up by the launch chain).
Stdlib only: this runs in the child before the entry is imported.
"""

from __future__ import annotations

import resource

from warpsmith.sandbox import landlock_abi
from warpsmith.sandbox.spec import LaunchSpec


def apply_rlimits(limits: dict[str, tuple[int, int]]) -> str:
    for name, (soft, hard) in limits.items():
        number = getattr(resource, f"RLIMIT_{name}")
        _, current_hard = resource.getrlimit(number)
        if current_hard != resource.RLIM_INFINITY and hard > current_hard:
            hard = current_hard  # an unprivileged child may lower, never raise
        resource.setrlimit(number, (min(soft, hard), hard))
    return "rlimits: " + ", ".join(f"{k.lower()} {v[0]}" for k, v in sorted(limits.items()))


def apply_landlock(spec: LaunchSpec) -> list[str]:
    """Confine this thread (and all it starts) to the spec's paths; raise if that fails."""
    abi = landlock_abi.abi_version()
    rules = landlock_abi.Ruleset(abi, deny_tcp=spec.deny_tcp)
    for path in spec.readable:
        rules.allow_path(path, landlock_abi.READ_ONLY)
    device_rights = landlock_abi.READ_FILE | landlock_abi.WRITE_FILE | landlock_abi.IOCTL_DEV | landlock_abi.READ_DIR
    for path in spec.devices:
        rules.allow_path(path, device_rights)
    if spec.proc_writable:
        # cuInit() writes /proc/<pid>/task/<tid>/comm and fails with error 304 if it may not;
        # a rule on /proc/self does not cover it (proc inodes are recreated). The dangerous
        # parts of /proc are read-only mounts by then (isolation.PROC_READ_ONLY).
        rules.allow_path("/proc", landlock_abi.READ_ONLY | landlock_abi.WRITE_FILE | landlock_abi.TRUNCATE)
    for path in spec.writable:
        rules.allow_path(path, rules.fs_rights)
    rules.restrict_self()
    lines = [f"filesystem: landlock ABI {abi} (reads: toolchain + {len(spec.readable)} trees, "
             f"writes: {len(spec.writable)} trees)"]
    if rules.denies_tcp:
        lines.append("network: TCP bind/connect denied by landlock")
    lines.append("signals: " + ("landlock scoped to the sandbox" if rules.scoped else "not scoped by landlock"))
    return lines


