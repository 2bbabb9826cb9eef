"""Adversarial candidates against the build's defences: preflight, jail, environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests._build_helpers import needs_nvcc
from warpsmith.evaluator.build import build_extension
from warpsmith.evaluator.build_guard import compiler_env, refuse_reason
from warpsmith.evaluator.build_jail import jailed_command, landlock_status

SECRET = "TOPSECRET-do-not-leak-7f3a"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text(SECRET + "\n")
    return path


@pytest.mark.parametrize(
    "attack",
    [
        '#include "/etc/passwd"\n',
        '#include "../../secret"\n',
        "#include <../../../etc/shadow>\n",
        '  #  include_next "/etc/passwd"\n',
        '%:include "/etc/passwd"\n',  # digraph for '#'
        '#inc\\\nlude "/etc/passwd"\n',  # line splice
        '#import "/etc/passwd"\n',
        '#define F "/etc/passwd"\n#include F\n',  # computed include
        'auto s = R"x( " /* )x";\n#include "/etc/passwd"\n// */\n',  # raw string hiding a comment opener
        'asm(".incbin \\"/etc/passwd\\"");\n',
    ],
)
def test_preflight_refuses_file_reading_directives(attack: str) -> None:
    assert refuse_reason(attack) is not None


def test_preflight_allows_ordinary_includes_and_commented_attacks() -> None:
    source = (
        "#include <ATen/core/Tensor.h>\n#include \"cuda_fp16.h\"\n"
        '/* #include "/etc/passwd" */\n// #include "../x"\n'
        'const char* s = "#include </etc/passwd>"; int big = 1\'000\'000;\n'
    )
    assert refuse_reason(source) is None


@pytest.mark.parametrize("language", ["cuda", "hip"])
def test_include_exfiltration_is_refused_before_compiling(secret_file: Path, tmp_path: Path, language: str) -> None:
    for path in [str(secret_file), "../../" + secret_file.name, "/etc/passwd"]:
        source = f'#include "{path}"\nat::Tensor kernel(at::Tensor x) {{ return x; }}\n'
        result = build_extension(source, language, cache_dir=tmp_path / "cache")  # type: ignore[arg-type]
        assert not result.ok and result.refused
        assert SECRET not in result.log and "root:" not in result.log
        assert result.seconds < 5, "refused before any compiler ran"


def test_compiler_env_drops_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak")
    monkeypatch.setenv("WARPSMITH_DB", "postgresql://u:p@h/db")
    env = compiler_env({"TMPDIR": "/tmp/x"})
    assert "OPENAI_API_KEY" not in env and "WARPSMITH_DB" not in env
    assert env["TMPDIR"] == "/tmp/x" and "PATH" in env


def test_compiler_and_run_child_share_one_scrubber(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A secret riding on a name both lists allow by prefix (LC_*), or put in the compiler's own list
    # under a secret-looking spelling, reaches neither a compiler nor a run child.
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("LC_AUTH_TOKEN", "tok-leak")
    monkeypatch.setenv("CUDA_PATH", "/opt/cuda")
    from warpsmith.sandbox.config import SandboxConfig
    from warpsmith.sandbox.environment import child_environment, inherited

    compiler = compiler_env()
    child, _ = child_environment(SandboxConfig(), tmp_path)
    assert "LC_AUTH_TOKEN" not in compiler and "LC_AUTH_TOKEN" not in child
    assert compiler["CUDA_PATH"] == child["CUDA_PATH"] == "/opt/cuda" and compiler["LC_ALL"] == "C.UTF-8"
    assert set(compiler) - {"PATH", "LANG"} <= set(inherited())
    env = subprocess.run(jailed_command(["env"], read=[], write=[tmp_path]), env=compiler, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "tok-leak" not in env and "OPENAI" not in env


def test_jail_blocks_reads_outside_the_build_folder(secret_file: Path, tmp_path: Path) -> None:
    available, why = landlock_status()
    if not available:
        pytest.skip(why)
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("own file")
    # The GNU assembler's .incbin under the jail: the route a text check cannot close
    # (`asm(".inc" "bin ...")` from escaped string pieces reaches the assembler intact).
    (work / "steal.s").write_text(f'.section .rodata\n.incbin "{secret_file}"\n')
    steal = subprocess.run(jailed_command(["as", "steal.s", "-o", "steal.o"], read=[], write=[work]),
                           cwd=work, capture_output=True, text=True, timeout=60, check=False)
    assert steal.returncode != 0 and not (work / "steal.o").exists()
    assert SECRET not in steal.stdout + steal.stderr
    own = subprocess.run(jailed_command(["cat", "mine.txt", "/etc/passwd"], read=[], write=[work]),
                         cwd=work, capture_output=True, text=True, timeout=60, check=False)
    assert own.stdout == "own file" and "root:" not in own.stdout


@needs_nvcc
def test_build_extension_runs_the_compiler_confined(secret_file: Path, tmp_path: Path) -> None:
    available, why = landlock_status()
    if not available:
        pytest.skip(why)
    # __has_include passes the preflight (it reads no content); unconfined it would say
    # the secret is readable. The preprocessor stops at the #error, so this costs ~2 s.
    probe = (
        f'#if __has_include("{secret_file}")\n#error "probe: readable"\n'
        '#else\n#error "probe: not readable"\n#endif\n'
    )
    assert refuse_reason(probe) is None
    result = build_extension(probe, "cuda", cache_dir=tmp_path / "cache")
    assert not result.ok and not result.refused
    assert "Permission denied" in result.log and "probe: readable" not in result.log
    assert SECRET not in result.log


def _jail_in_fresh_python(prelude: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The jail's `main` in a fresh interpreter where `landlock` (the PyPI package) cannot be
    imported: the jail must rely only on warpsmith.sandbox's own ctypes Landlock layer."""
    code = (
        "import sys\nsys.modules['landlock'] = None  # any `import landlock` raises ImportError\n"
        f"{prelude}\nfrom warpsmith.evaluator.build_jail import main\nmain({args!r})\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


def test_jail_confines_without_the_pypi_landlock_package(secret_file: Path, tmp_path: Path) -> None:
    available, why = landlock_status()
    if not available:
        pytest.skip(why)
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("own file")
    done = _jail_in_fresh_python("", ["--write", str(work), "--", "cat", "mine.txt", str(secret_file)], work)
    assert "ModuleNotFoundError" not in done.stderr and "ImportError" not in done.stderr, done.stderr
    assert done.stdout == "own file" and SECRET not in done.stdout
    assert "Permission denied" in done.stderr


def test_jail_without_landlock_runs_unconfined_and_says_so(tmp_path: Path) -> None:
    # Landlock is Linux-only: a platform that is not Linux is a host without it.
    (tmp_path / "mine.txt").write_text("own file")
    prelude = "import platform\nplatform.system = lambda: 'Darwin'"
    done = _jail_in_fresh_python(prelude, ["--write", str(tmp_path), "--", "cat", "mine.txt"], tmp_path)
    assert done.returncode == 0 and done.stdout == "own file", done.stderr
    assert "Landlock unavailable" in done.stderr and "not confined" in done.stderr
