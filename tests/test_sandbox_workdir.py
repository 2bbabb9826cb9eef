"""The parent's hands on a child's work directory: measured and removed whatever the child left
there (deep chains, links out, FIFOs, unwritable folders, sparse files), and a quota that stops a
running child that fills it with files each under the per-file limit."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from _sandbox_helpers import run

from warpsmith.sandbox.isolation import host_support
from warpsmith.sandbox.workdir import ENTRY_BYTES, remove_tree, usage


@pytest.fixture
def scratch(tmp_path: Path):  # noqa: ANN201
    """tmp_path, emptied with remove_tree even when the test fails: pytest's own cleanup of a
    3000-deep chain raises RecursionError, for every later session on this machine."""
    yield tmp_path
    for child in tmp_path.iterdir():
        remove_tree(child)


def hostile_tree(root: Path, outside: Path) -> None:
    root.mkdir()
    (root / "plain").write_bytes(b"x" * 10_000)
    with open(root / "sparse", "wb") as f:
        f.truncate(1 << 30)
    os.mkfifo(root / "fifo")
    os.symlink(outside, root / "link_out")
    os.symlink("/etc", root / "link_etc")
    fd = os.open(root, os.O_RDONLY)
    for _ in range(3000):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("last", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.fchmod(fd, 0o500)  # a folder the child made unwritable
    os.close(fd)


def test_a_hostile_tree_is_measured_and_removed_without_raising(scratch: Path) -> None:
    tmp_path = scratch
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("not the child's")
    root = tmp_path / "work"
    hostile_tree(root, outside)
    with pytest.raises(RecursionError):
        shutil.rmtree(root)  # what the parent used before: the verdict was lost with it
    assert remove_tree(root) and not root.exists()
    hostile_tree(tmp_path / "work2", outside)
    found = usage(tmp_path / "work2")
    entries = 5 + 3000 + 1
    assert found.complete and found.entries == entries
    plain = max(10_000, (tmp_path / "work2" / "plain").stat().st_blocks * 512)  # size or blocks
    assert found.bytes == plain + (1 << 30) + entries * ENTRY_BYTES  # the sparse file at its size
    assert not usage(tmp_path / "work2", cap=1 << 20).complete  # stops early once over a cap
    assert remove_tree(tmp_path / "work2") and not (tmp_path / "work2").exists()
    assert (outside / "keep").read_text() == "not the child's" and Path("/etc/passwd").exists()


def test_remove_tree_of_a_link_removes_only_the_link(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep").write_text("k")
    os.symlink(tmp_path / "target", tmp_path / "link")
    assert remove_tree(tmp_path / "link") and (tmp_path / "target" / "keep").exists()
    assert remove_tree(tmp_path / "missing")


@pytest.mark.slow
@pytest.mark.parametrize("warm", [False, True])
def test_a_child_filling_its_workdir_is_stopped_while_it_runs(tmp_path: Path, warm: bool) -> None:
    if warm and host_support().unshare_flags is None:
        pytest.skip("warm workers need a pid namespace")
    started = time.monotonic()
    result = run("fill_workdir", {"files": 12, "file_bytes": 4 << 20}, tmp_path, warm=warm, timeout_s=60,
                 workdir_quota_bytes=16 << 20)
    assert result.status == "killed" and result.over_quota
    assert result.error == f"the workdir went over its quota of {16 << 20} bytes"
    assert time.monotonic() - started < 20  # not the 30 s the child lingers
