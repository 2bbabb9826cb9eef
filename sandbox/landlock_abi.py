"""Landlock through ctypes: create a ruleset, add path and port rules, restrict this thread.

Owns: the Linux Landlock system calls and constants (filesystem rights, TCP rights from ABI 4,
signal / abstract-socket scoping from ABI 6). The PyPI `landlock` package covers only the
filesystem part, hence this small layer. Does not own: which paths are allowed (confine.py).

A Landlock domain applies to the calling thread and everything it starts afterwards, and can
only be tightened, never lifted. Files opened before `restrict_self` stay usable.
"""

from __future__ import annotations

import ctypes
import os
import platform

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on x86_64 and arm64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights (include/uapi/linux/landlock.h).
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
BIND_TCP, CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ_ONLY = EXECUTE | READ_FILE | READ_DIR


class LandlockUnavailable(OSError):
    """The kernel (or this platform) has no usable Landlock."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]



_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number: int, *args: object) -> int:
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI version; raises LandlockUnavailable with the reason."""
    if platform.system() != "Linux":
        raise LandlockUnavailable(f"Landlock is Linux only (this is {platform.system()})")
    try:
        return _syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except OSError as exc:
        reason = {38: "kernel built without CONFIG_SECURITY_LANDLOCK", 95: "Landlock disabled at boot (lsm=)"}
        raise LandlockUnavailable(reason.get(exc.errno or 0, str(exc))) from exc


def handled_fs_rights(abi: int) -> int:
    """Every filesystem right this ABI knows: what is not granted is denied."""
    rights = (1 << 13) - 1
    for version, right in ((2, REFER), (3, TRUNCATE), (5, IOCTL_DEV)):
        if abi >= version:
            rights |= right
    return rights


class Ruleset:
    """One Landlock ruleset: `allow_path` for each granted tree, then `restrict_self`."""

    def __init__(self, abi: int, deny_tcp: bool) -> None:
        self.abi = abi
        self.fs_rights = handled_fs_rights(abi)
        attr = _RulesetAttr(fs=self.fs_rights, net=0, scoped=0)
        size = 8
        if abi >= 4 and deny_tcp:
            attr.net, size = BIND_TCP | CONNECT_TCP, 16
        if abi >= 6:
            attr.scoped, size = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL, 24
        self.denies_tcp = bool(attr.net)
        self.scoped = bool(attr.scoped)
        self._fd = _syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))

    def allow_path(self, path: str, rights: int) -> bool:
        """Grant `rights` beneath `path` (masked to what the ABI knows); False if it does not exist."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            if not os.path.isdir(path):
                rights &= FILE_RIGHTS  # directory rights on a file are EINVAL
            attr = _PathBeneathAttr(allowed_access=rights & self.fs_rights, parent_fd=fd)
            _syscall(_SYS_ADD_RULE, ctypes.c_int(self._fd), ctypes.c_int(_RULE_PATH_BENEATH),
                     ctypes.byref(attr), ctypes.c_uint32(0))
        finally:
            os.close(fd)
        return True

    def restrict_self(self) -> None:
        """Enter the domain (sets no_new_privs first, as Landlock requires without CAP_SYS_ADMIN)."""
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        _syscall(_SYS_RESTRICT_SELF, ctypes.c_int(self._fd), ctypes.c_uint32(0))
        os.close(self._fd)
