"""What this host lets the sandbox enforce, and the command chain that enforces it.

Owns: probing (once per process, by actually running the tools) for namespaces through
`unshare`, capability dropping through `setpriv`, a pids cgroup and Landlock; building the
launch chain

    sh (joins the run's cgroup) -> unshare (net, pid, mount ns) -> setpriv (drop all
    capabilities, no_new_privs) -> python -P -m warpsmith.sandbox.child

and `isolation_report()` for `warpsmith doctor`. Every missing piece is reported, never hidden.
Does not own: the child-side limits (confine.py) or running and killing (process.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from warpsmith.sandbox import landlock_abi
from warpsmith.sandbox.cgroup import PidsCgroup

_NAMESPACE_VARIANTS = [
    ("namespaces", ["--pid", "--fork", "--kill-child", "--mount-proc"]),
    ("namespaces in a user namespace", ["--user", "--map-root-user", "--pid", "--fork", "--kill-child",
                                        "--mount-proc"]),
]
# What a uid-0 process without capabilities could still write in /proc: sysctls (core_pattern!),
# sysrq-trigger (reboot), IRQ and bus settings. Docker makes the same paths read-only. Mounted
# read-only inside the run's own mount namespace, before capabilities are dropped.
PROC_READ_ONLY = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/acpi",
                  "/proc/scsi"]
_HARDEN_PROC = ('for p in ' + " ".join(PROC_READ_ONLY) + '; do if [ -e "$p" ]; then '
                'mount --bind "$p" "$p" && mount -o remount,bind,ro "$p" || exit 97; fi; done; exec "$@"')
_DROP_CAPS = ["--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all", "--no-new-privs"]
_ROOT_SECUREBITS = "--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked"


def _works(command: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, done.stderr.decode(errors="replace").strip()[:200]


@dataclass(frozen=True)
class HostSupport:
    """What worked when tried on this host."""

    unshare_flags: list[str] | None  # without --net; None = no usable namespaces
    namespace_kind: str
    network_namespace: bool
    setpriv_flags: list[str] | None
    proc_read_only: bool  # PROC_READ_ONLY are mounted read-only in the run's mount namespace
    cgroup: bool
    landlock_abi: int | None
    notes: dict[str, str] = field(default_factory=dict)  # why something is missing


@functools.lru_cache(maxsize=1)
def host_support() -> HostSupport:
    notes: dict[str, str] = {}
    unshare = shutil.which("unshare")
    flags, kind, net = None, "", False
    if unshare is None:
        notes["namespaces"] = "`unshare` (util-linux) not found on PATH"
    for name, variant in _NAMESPACE_VARIANTS if unshare else []:
        ok, why = _works([unshare, "--net", *variant, "true"])
        if ok:
            flags, kind, net = variant, name, True
            break
        ok, why_pid = _works([unshare, *variant, "true"])
        if ok:
            flags, kind = variant, name
            notes["network"] = f"unshare --net refused: {why}"
            break
        notes["namespaces"] = f"unshare refused: {why_pid}"
    if flags is None:
        notes.setdefault("network", "no namespaces available")
    proc_read_only = False
    if flags is not None and unshare:
        proc_read_only, why = _works([unshare, *flags, "--", "/bin/sh", "-c", _HARDEN_PROC, "sh", "true"])
        if not proc_read_only:
            notes["proc"] = f"cannot mount /proc/sys read-only: {why}"
    setpriv_flags = None
    setpriv = shutil.which("setpriv")
    if setpriv:
        candidate = [*_DROP_CAPS, _ROOT_SECUREBITS] if os.geteuid() == 0 else list(_DROP_CAPS)
        prefix = [unshare, *flags, "--"] if flags and unshare else []
        ok, why = _works([*prefix, setpriv, *candidate, "--", "true"])
        if ok:
            setpriv_flags = candidate
        else:
            notes["privileges"] = f"setpriv refused: {why}"
    else:
        notes["privileges"] = "`setpriv` (util-linux) not found on PATH"
    cgroup = PidsCgroup.create(1)
    if cgroup is not None:
        cgroup.remove()
    else:
        notes["processes"] = "no writable pids cgroup (needs root or a delegated cgroup)"
    try:
        abi: int | None = landlock_abi.abi_version()
    except landlock_abi.LandlockUnavailable as exc:
        abi = None
        notes["filesystem"] = f"landlock unavailable ({exc})"
    return HostSupport(flags, kind, net, setpriv_flags, proc_read_only, cgroup is not None, abi, notes)


def launch_prefix(support: HostSupport, network: bool, cgroup: PidsCgroup | None) -> list[str]:
    """The wrapper commands that go before `python -m warpsmith.sandbox.child`."""
    prefix: list[str] = []
    if cgroup is not None:
        # The shell moves itself into the cgroup, then becomes the rest of the chain: every
        # descendant is born inside it, with no window to escape.
        prefix += ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup.procs_file)]
    if support.unshare_flags is not None:
        net = ["--net"] if support.network_namespace and not network else []
        prefix += [shutil.which("unshare") or "unshare", *net, *support.unshare_flags, "--"]
        if support.proc_read_only:
            prefix += ["/bin/sh", "-c", _HARDEN_PROC, "sh"]
    if support.setpriv_flags is not None:
        prefix += [shutil.which("setpriv") or "setpriv", *support.setpriv_flags, "--"]
    return prefix


def child_command(spec_fd: int) -> list[str]:
    # -P: the workdir (the cwd, full of untrusted files) is not put on sys.path.
    return [sys.executable, "-P", "-m", "warpsmith.sandbox.child", "--spec-fd", str(spec_fd)]


def isolation_report() -> list[tuple[str, bool, str]]:
    """(property, enforced?, how / why not) for each defence, as this host allows it."""
    s = host_support()
    pid_ns = s.unshare_flags is not None
    report = [
        ("process tree", pid_ns,
         f"new session + pid namespace ({s.namespace_kind}); its init's death kills every descendant"
         if pid_ns else "new session only: a grandchild that calls setsid() may outlive the run; "
         + s.notes.get("namespaces", "")),
        ("network", s.network_namespace or bool(s.landlock_abi and s.landlock_abi >= 4),
         "empty network namespace (unshare --net)" if s.network_namespace
         else ("landlock denies TCP bind/connect (UDP and unix sockets open)"
               if s.landlock_abi and s.landlock_abi >= 4 else "NOT isolated: " + s.notes.get("network", ""))),
        ("filesystem", s.landlock_abi is not None,
         f"landlock ABI {s.landlock_abi}: reads of toolchain/python/source only, writes to workdir"
         if s.landlock_abi else "NOT confined: " + s.notes.get("filesystem", "")),
        ("kernel settings", s.proc_read_only or s.landlock_abi is not None,
         "/proc/sys, sysrq-trigger, irq, bus, fs mounted read-only" if s.proc_read_only
         else "landlock keeps /proc read-only (CUDA may then fail: " + s.notes.get("proc", "") + ")"
         if s.landlock_abi is not None else "NOT protected: " + s.notes.get("proc", "")),
        ("privileges", s.setpriv_flags is not None or os.geteuid() != 0,
         "all capabilities dropped, no_new_privs (setpriv)" if s.setpriv_flags is not None
         else ("unprivileged user" if os.geteuid() != 0 else "child keeps root capabilities: "
               + s.notes.get("privileges", ""))),
        ("process count", s.cgroup or os.geteuid() != 0,
         "pids cgroup per run" if s.cgroup else ("RLIMIT_NPROC (counts all of this user's processes)"
                                                if os.geteuid() != 0 else "RLIMIT_NPROC does not bind root; "
                                                + s.notes.get("processes", ""))),
        ("environment", True, "allow-list; API keys, tokens and database URLs never passed"),
        ("resource limits", True, "RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE, no core dumps, RLIMIT_AS when set"),
    ]
    return report
