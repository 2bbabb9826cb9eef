"""The parent's hands on a child's work directory: measure it, and remove it, whatever is in it.

Owns: `usage` (the bytes and entries a tree holds, stopping early once over a cap),
`QuotaWatch` (measures a running child's workdir every QUOTA_POLL_S and calls a kill
function once it is over its quota) and `remove_tree` (delete it all). Both walk iteratively with one directory descriptor open at a
time, never follow a symbolic link (a link to /etc or the home folder is removed as a link,
never walked), never leave the tree (going up is checked against the device and inode it came
down from), and never raise: a 3000-deep directory chain makes shutil.rmtree raise
RecursionError, and a parent that raises has no verdict. Does not own: deciding what a
quota is (the caller) or reading files (evaluator/tensors_io.py).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
ENTRY_BYTES = 4096  # what an entry itself costs at least (an inode, a directory block)
QUOTA_POLL_S = 0.25
MAX_ENTRIES = 200_000  # more entries than this is over any quota (and slow to walk)


@dataclass
class Usage:
    bytes: int = 0
    entries: int = 0
    complete: bool = True  # False when the walk stopped early (over the cap, or something unreadable)


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _walk(root: Path, on_entry: Callable[[int, os.DirEntry], bool], remove: bool) -> bool:
    """Depth-first over `root` with one open descriptor; `on_entry(dir_fd, entry)` sees every
    non-directory (and every directory before it is entered) and returns False to stop. With
    `remove`, each directory is removed once empty. Returns False when stopped or when something
    could not be opened or removed (it is then skipped, never retried forever)."""
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError:
        return False
    stack: list[tuple[str, tuple[int, int], set[str]]] = [("", _identity(os.fstat(fd)), set())]
    clean = True
    try:
        while True:
            name, _, skipped = stack[-1]
            if remove:
                _make_writable(fd)
            subdir = None
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        if entry.name in skipped:
                            continue
                        if not on_entry(fd, entry):
                            return False
                        if entry.is_dir(follow_symlinks=False):
                            subdir = entry.name
                            break
                        if not remove:
                            skipped.add(entry.name)  # counted: not again after a subdirectory
                        elif not _unlink(fd, entry.name):
                            skipped.add(entry.name)
                            clean = False
            except OSError:
                clean = False
            if subdir is not None:
                try:
                    inner = os.open(subdir, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    skipped.add(subdir)
                    clean = False
                    continue
                os.close(fd)
                fd = inner
                stack.append((subdir, _identity(os.fstat(fd)), set()))
                continue
            if len(stack) == 1:
                break
            up = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = up
            stack.pop()
            if _identity(os.fstat(fd)) != stack[-1][1]:
                return False  # moved under us: stop rather than walk somewhere else
            stack[-1][2].add(name)  # done with it (removed, or kept because it could not be)
            if remove:
                try:
                    os.rmdir(name, dir_fd=fd)
                except OSError:
                    clean = False
        return clean
    except OSError:
        return False
    finally:
        os.close(fd)


def _make_writable(fd: int) -> None:
    try:
        os.fchmod(fd, 0o700)  # a child may have made its folders unwritable to keep them
    except OSError:
        pass


def _unlink(dir_fd: int, name: str) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def usage(root: Path, cap: int | None = None, max_entries: int = MAX_ENTRIES) -> Usage:
    """Bytes under `root`: per regular file the larger of its size and its allocated blocks (a
    sparse file is counted at its size: that is what reading it would cost), plus ENTRY_BYTES per
    entry. Stops (complete=False) once over `cap` or `max_entries`. Never raises."""
    found = Usage()

    def count(dir_fd: int, entry: os.DirEntry) -> bool:
        found.entries += 1
        found.bytes += ENTRY_BYTES
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                found.bytes += max(st.st_size, st.st_blocks * 512)
        except OSError:
            pass
        return found.entries <= max_entries and (cap is None or found.bytes <= cap)

    found.complete = _walk(Path(root), count, remove=False)
    return found


class QuotaWatch(threading.Thread):
    """While a child runs: measure its workdir every QUOTA_POLL_S; once it holds more than `quota`
    bytes (or more than MAX_ENTRIES entries), call `kill` once and set `over`. The workdir lives
    in RAM on /dev/shm, so this is what keeps a child from filling the machine's memory with many
    files each under RLIMIT_FSIZE. Between two looks a child can write at most what it writes in
    QUOTA_POLL_S; the parent measures again after the child is gone, before it reads anything."""

    def __init__(self, root: Path, quota: int, kill: Callable[[], None]) -> None:
        super().__init__(name="warpsmith-quota", daemon=True)
        self.root, self.quota, self.kill = Path(root), quota, kill
        self.over = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(QUOTA_POLL_S):
            found = usage(self.root, cap=self.quota)
            if found.bytes > self.quota or found.entries > MAX_ENTRIES:
                self.over = True
                try:
                    self.kill()
                except OSError:
                    pass  # already gone
                return

    def stop(self) -> bool:
        """Stop watching; True when the quota was exceeded."""
        self._stop_event.set()
        self.join(5.0)
        return self.over


def remove_tree(root: Path) -> bool:
    """Delete `root` and everything beneath it without following links; True when it is gone.
    Never raises."""
    root = Path(root)
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return _remove_file(root)
    _walk(root, lambda _fd, _entry: True, remove=True)
    try:
        os.rmdir(root)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _remove_file(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False
