"""One read policy for every confined process: the evaluation sandbox and the build jail.

A run child and a jailed compiler each try to read /etc/passwd, /etc/shadow, a file in the
user's home and the store's SQLite file; a readable path that would expose the home is dropped.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from _sandbox_helpers import probe

from warpsmith.evaluator.build_guard import compiler_env
from warpsmith.evaluator.build_jail import jailed_command
from warpsmith.sandbox import paths
from warpsmith.sandbox.isolation import host_support

pytestmark = pytest.mark.skipif(host_support().landlock_abi is None, reason="landlock unavailable")


@pytest.fixture(params=["env", "toml"])
def planted(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
            tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A secret in the home folder and a store file named by WARPSMITH_DB, or only by the
    project's warpsmith.toml (the settings' store.url), outside any tmp tree."""
    home_secret = Path.home() / f".warpsmith-read-policy-{uuid.uuid4().hex}"
    home_secret.write_text("home secret")
    store_dir = tmp_path_factory.mktemp("store")
    store = store_dir / "warpsmith.db"
    store.write_text("store rows")
    if request.param == "env":
        monkeypatch.setenv("WARPSMITH_DB", f"sqlite:///{store}")
    else:
        monkeypatch.delenv("WARPSMITH_DB", raising=False)
        project = tmp_path_factory.mktemp("project")
        (project / "warpsmith.toml").write_text(f'[store]\nurl = "sqlite:///{store}"\n')
        monkeypatch.chdir(project)
    yield [str(home_secret), str(store), "/etc/passwd", "/etc/shadow"]
    home_secret.unlink()


def test_run_sandbox_reads_nothing_protected(tmp_path: Path, planted: list[str]) -> None:
    # The store's folder offered as a readable path (as a task file beside it would) is dropped.
    result = probe({"read": planted}, tmp_path, timeout_s=60,
                   readable_paths=[Path.home(), Path(planted[1]).parent])
    assert result.status == "ok", result.error
    assert {p: r.split()[0] for p, r in result.value["read"].items()} == dict.fromkeys(planted, "PermissionError")


def test_build_jail_reads_nothing_protected(tmp_path: Path, planted: list[str]) -> None:
    # The compiler runs with the scrubbed environment a build gives it (no WARPSMITH_DB there):
    # the store is still named to the jail, by the parent.
    for secret in planted:
        done = subprocess.run(jailed_command(["cat", secret], read=[Path.home(), Path(planted[1]).parent],
                                             write=[tmp_path]), env=compiler_env(),
                              cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (secret, done.stderr)


def test_one_definition_and_only_the_kernel_view_differs() -> None:
    run, build = paths.system_read_paths("run"), paths.system_read_paths("build")
    assert [p for p in run if p not in paths.KERNEL_VIEWS["run"]] == \
        [p for p in build if p not in paths.KERNEL_VIEWS["build"]]
    protected = paths.protected_paths(paths.store_files())
    assert not [p for p in [*run, *build] if paths.exposes_protected(p, protected)]
    assert paths.exposes_protected("/", protected) and paths.exposes_protected(Path.home(), protected)


def test_build_jail_protects_the_parents_home_whatever_home_the_compiler_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A home outside /root and /home; the compiler runs with HOME set to its build folder (as
    # build.py runs it), so only the parent can say where the user's home is.
    home = tmp_path_factory.mktemp("users") / "ann"
    home.mkdir()
    secret = home / ".netrc"
    secret.write_text("machine x password hunter2")
    monkeypatch.setenv("HOME", str(home))
    done = subprocess.run(jailed_command(["cat", str(secret)], read=[home.parent], write=[tmp_path]),
                          env=compiler_env({"HOME": str(tmp_path), "TMPDIR": str(tmp_path)}),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "hunter2" not in done.stdout, done.stdout
