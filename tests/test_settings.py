"""One settings module: files, then WARPSMITH_* variables, then flags; one line for what is wrong.

Real files in a tmp project and user config dir, the real CLI as a subprocess for what a user
types, and a real (offline, CPU) optimize run to show the settings are stored whole with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _build_helpers import SYNTAX_ERROR_KERNEL, needs_nvcc
from _optimize_helpers import private_env, query
from typer.testing import CliRunner

from warpsmith.cli.config_cmd import markdown
from warpsmith.cli.main import app
from warpsmith.evaluator import build_cache, build_limits, hardware
from warpsmith.records.settings import SettingsError, fields, load_settings, settings_with_sources
from warpsmith.sandbox import warm

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(project dir = cwd, user config dir), both empty; no WARPSMITH_* variable set."""
    project, config = tmp_path / "project", tmp_path / "config"
    project.mkdir()
    (config / "warpsmith").mkdir(parents=True)
    monkeypatch.chdir(project)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    for key, _ in fields():
        monkeypatch.delenv("WARPSMITH_" + key.replace(".", "_").upper(), raising=False)
    for name in ("WARPSMITH_DB", "WARPSMITH_CACHE", "WARPSMITH_MODEL", "WARPSMITH_API_KEY", "WARPSMITH_WARM_WORKERS",
                 "WARPSMITH_BUILD_CACHE_MB", "WARPSMITH_BUILD_OUTPUT_MB", "WARPSMITH_BUILD_MEMORY_MB"):
        monkeypatch.delenv(name, raising=False)
    return project, config / "warpsmith"


def test_later_sources_win_and_each_value_names_its_source(dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    project, user = dirs
    (user / "warpsmith.toml").write_text('[llm]\nmodel = "openai/user"\ntemperature = 0.5\n'
                                         '[dashboard]\nport = 9001\n')
    (project / "warpsmith.toml").write_text('[llm]\nmodel = "openai/project"\n[llm.judge]\nmodel = "openai/judge"\n')
    monkeypatch.setenv("WARPSMITH_DASHBOARD_PORT", "9002")
    monkeypatch.setenv("WARPSMITH_BUILD_CACHE_MB", "64")  # a short name warpsmith always read
    settings, sources = settings_with_sources({"llm.temperature": 0.9, "llm.api_base": None})
    assert settings.llm.model == "openai/project" and sources["llm.model"] == str(project / "warpsmith.toml")
    assert settings.llm.temperature == 0.9 and sources["llm.temperature"] == "flag"
    assert settings.dashboard.port == 9002 and sources["dashboard.port"] == "env WARPSMITH_DASHBOARD_PORT"
    assert settings.evaluator.build_cache_mb == 64 and sources["evaluator.build_cache_mb"] == "env WARPSMITH_BUILD_CACHE_MB"
    assert "llm.api_base" not in sources  # a flag not given overrides nothing
    assert settings.llm.role("judge")["model"] == "openai/judge"
    assert settings.llm.role("planner")["model"] == "openai/project"
    assert settings.llm.role("coder")["max_tokens"] == 24576 and settings.llm.role("planner")["max_tokens"] == 8192


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[llm]\nmodle = "x"\n', "warpsmith.toml: unknown key 'llm.modle'"),
        ('[llm\nmodel = "x"\n', "warpsmith.toml: not valid TOML"),
        ('[dashboard]\nport = "high"\n', "warpsmith.toml: dashboard.port: Input should be a valid integer"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_key(dirs, text: str, expected: str) -> None:
    project, _ = dirs
    (project / "warpsmith.toml").write_text(text)
    with pytest.raises(SettingsError, match=expected.replace("[", r"\[")) as error:
        load_settings()
    assert str(project / "warpsmith.toml") in str(error.value) and "\n" not in str(error.value)


def test_config_show_and_a_broken_file_through_the_cli(dirs) -> None:
    project, _ = dirs
    (project / "warpsmith.toml").write_text('[evaluator]\ngpu_index = 1\n')
    env = {"XDG_CONFIG_HOME": str(project.parent / "config"), "WARPSMITH_MODEL": "openai/env", "COLUMNS": "200"}
    shown = CliRunner().invoke(app, ["config", "show", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    table = json.loads(shown.output)
    assert table["evaluator.gpu_index"] == {"value": 1, "source": str(project / "warpsmith.toml")}
    assert table["llm.model"] == {"value": "openai/env", "source": "env WARPSMITH_MODEL"}
    assert table["dashboard.port"] == {"value": 8000, "source": "default"}
    (project / "warpsmith.toml").write_text('[evaluator]\ngpu = 1\n')
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "runs", "list"], cwd=project, capture_output=True,
                          text=True, timeout=120, env={**private_env(project.parent), "COLUMNS": "300"})
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "unknown key 'evaluator.gpu'" in done.stderr and "Traceback" not in done.stderr


def test_the_cache_root_and_build_limits_follow_the_settings(dirs, tmp_path: Path, monkeypatch) -> None:
    project, _ = dirs
    (project / "warpsmith.toml").write_text(f'[evaluator]\ncache_dir = "{tmp_path / "c"}"\nbuild_memory_mb = 100\n'
                                            'warm_workers = false\n')
    assert build_cache.default_cache_dir() == tmp_path / "c" / "builds"
    assert hardware.cache_dir() == tmp_path / "c" / "evaluator"
    assert build_limits.BuildLimits.from_settings().memory_bytes == 100 << 20
    assert not warm.warm_workers_enabled()
    monkeypatch.setenv("WARPSMITH_CACHE", str(tmp_path / "env"))  # the variable beats the file
    monkeypatch.setenv("WARPSMITH_WARM_WORKERS", "1")
    assert build_cache.default_cache_dir() == tmp_path / "env" / "builds" and warm.warm_workers_enabled()


def test_the_store_password_is_masked_where_settings_are_stored(dirs, monkeypatch) -> None:
    monkeypatch.setenv("WARPSMITH_DB", "postgresql+psycopg://ann:s3cret@db.example/ws")
    stored = load_settings().stored()
    assert stored["store"]["url"] == "postgresql+psycopg://ann:***@db.example/ws"
    assert "s3cret" not in json.dumps(stored)


def test_docs_list_every_setting_and_are_current() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    assert text == markdown(), "docs/settings.md is stale: run `warpsmith config docs > docs/settings.md`"
    assert all(f"`{key}`" in text for key, _ in fields())


def test_an_optimize_run_stores_the_whole_settings(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "warpsmith.toml").write_text('[budget]\ntokens = 1234\n[evaluator]\nbuild_cache_mb = 77\n')
    env = private_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "optimize", "--kernel", "rmsnorm", "--offline",
                           "--rounds", "0", "--device", "cpu", "--suite", "smoke"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (config,) = query(tmp_path / "store.db", "SELECT config FROM runs")[0]
    stored = json.loads(config)["settings"]
    assert stored["budget"]["tokens"] == 1234 and stored["evaluator"]["build_cache_mb"] == 77
    assert stored["store"]["url"] == env["WARPSMITH_DB"] and stored["llm"]["model"] is None


def test_doctor_names_a_broken_settings_file(dirs) -> None:
    from warpsmith.cli.doctor_cmd import _settings

    project, _ = dirs
    assert _settings().ok and "no warpsmith.toml" in _settings().detail
    (project / "warpsmith.toml").write_text("[store]\nurl = 3\n")
    check = _settings()
    assert check.bad and str(project / "warpsmith.toml") in check.detail and "store.url" in check.detail


def test_each_role_reaches_its_own_model_with_its_own_limits(dirs, monkeypatch) -> None:
    """[llm.coder] / [llm.judge] in warpsmith.toml: the real litellm client sends each role's
    request with that role's model name, answer limit and temperature."""
    from _agents_llm_helpers import EDIT_ANSWER, VERDICT_JSON, make_ctx, plan_json
    from _scripted_llm_server import ScriptedLLMServer

    from warpsmith.cli.optimize_cmd import _strategy
    from warpsmith.records.runs import RunSettings
    from warpsmith.tasklib import get_task

    project, _ = dirs
    monkeypatch.setenv("WARPSMITH_API_KEY", "sk-roles")
    ctx = make_ctx(width=1)
    with ScriptedLLMServer([plan_json(ctx.beam[0].candidate.source_hash, n=1), EDIT_ANSWER, VERDICT_JSON]) as srv:
        (project / "warpsmith.toml").write_text(
            f'[llm]\nmodel = "openai/main"\napi_base = "{srv.base_url}"\n'
            '[llm.coder]\nmodel = "openai/coder-big"\nmax_tokens = 30000\n'
            '[llm.judge]\nmodel = "openai/judge-small"\ntemperature = 0.0\nmax_tokens = 1000\n')
        user = load_settings()
        run = RunSettings(model=user.llm.model, api_base=user.llm.api_base, settings=user.stored())
        strategy, chat = _strategy(get_task("rmsnorm"), run, False, {}, lambda call: None)
        (candidate,) = strategy.propose(ctx)
        strategy.review(ctx, candidate, ctx.beam[0].result.model_copy(update={"source_hash": candidate.source_hash}))
    sent = [(r["model"], r["max_tokens"], r.get("temperature")) for r in srv.requests]
    assert sent == [("main", 8192, 0.2), ("coder-big", 30000, 0.2), ("judge-small", 1000, 0.0)]
    assert {h["authorization"] for h in srv.headers} == {"Bearer sk-roles"}
    assert len(chat.chats) == 3


@needs_nvcc
def test_a_build_lands_in_the_cache_the_settings_name(dirs, tmp_path: Path, monkeypatch) -> None:
    from warpsmith.evaluator.build import build_extension

    project, _ = dirs
    (project / "warpsmith.toml").write_text(f'[evaluator]\ncache_dir = "{tmp_path / "from-toml"}"\n')
    monkeypatch.setenv("WARPSMITH_CACHE", str(tmp_path / "from-env"))  # the variable wins over the file
    result = build_extension(SYNTAX_ERROR_KERNEL, "cuda", arch="sm_90a")  # a compile error is cached too
    assert not result.ok and not result.refused
    entries = [p for p in (tmp_path / "from-env" / "builds").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / "result.json").is_file()
    assert not (tmp_path / "from-toml").exists()
