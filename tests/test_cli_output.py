"""The CLI as CI and a log see it: the installed `warpsmith` command in a subprocess, COLUMNS=80,
stdout and stderr piped (not terminals). Exit codes per verdict, nothing cut or eaten by markup,
a closed pipe that is not an error, --version, --out that does not overwrite, LLM settings
checked before a run exists, and a progress log of plain lines."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _optimize_helpers import private_env
from _scripted_llm_server import Delay, ScriptedLLMServer

from warpsmith.cli.eval_cmd import compile_log_excerpt
from warpsmith.tasklib import get_task

ROOT = Path(__file__).resolve().parent.parent
ENTRY = Path(sys.executable).parent / "warpsmith"
COMMAND = [str(ENTRY)] if ENTRY.exists() else [sys.executable, "-m", "warpsmith.cli"]
HONEST = (ROOT / "tests" / "adversarial" / "honest_rmsnorm.py").read_text()


def narrow_env(tmp_path: Path) -> dict[str, str]:
    return private_env(tmp_path) | {"COLUMNS": "80"}


def cli(args: list[str], env: dict[str, str], timeout: float = 300, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = cli(["--version"], narrow_env(tmp_path))
    assert done.returncode == 0 and done.stdout.strip() == f"warpsmith {version('warpsmith')}"


def test_every_command_documents_its_exit_codes(tmp_path: Path) -> None:
    env = narrow_env(tmp_path)
    for command in (["--help"], ["eval", "--help"], ["optimize", "--help"], ["tasks", "list", "--help"],
                    ["tasks", "show", "--help"], ["runs", "list", "--help"], ["runs", "show", "--help"],
                    ["replay", "--help"], ["doctor", "--help"], ["dashboard", "--help"], ["runs", "delete", "--help"],
                    ["runs", "export", "--help"], ["export", "--help"], ["mcp", "--help"]):
        done = cli(command, env)
        assert done.returncode == 0 and "Exit codes" in done.stdout, command


def test_tasks_list_at_80_columns_piped_keeps_names_whole_and_brackets(tmp_path: Path) -> None:
    done = cli(["tasks", "list"], narrow_env(tmp_path))
    assert done.returncode == 0, done.stderr
    for name in ("moe_dispatch", "moe_align_block_size", "moe_combine", "rmsnorm"):
        summary = get_task(name).description.strip().splitlines()[0]
        assert name in done.stdout
        assert summary in done.stdout, summary  # one line, whole, with its [t] indexing
    assert "out[t] = x[t] * rsqrt(mean(x[t]^2) + eps)" in done.stdout
    assert "…" not in done.stdout


@pytest.mark.parametrize("args", [["tasks", "show", "rmsnorm"], ["tasks", "list", "--json"]])
def test_a_reader_that_closes_the_pipe_is_no_error(args: list[str], tmp_path: Path) -> None:
    # The read end is closed before the command writes anything: its first write meets EPIPE.
    proc = subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=narrow_env(tmp_path), cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


def test_tasks_show_piped_to_head_exits_zero(tmp_path: Path) -> None:
    pipeline = f"set -o pipefail; {' '.join(COMMAND)} tasks show rmsnorm | head -1"
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, env=narrow_env(tmp_path),
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "rmsnorm"


def test_tasks_show_lists_its_seeds_with_paths(tmp_path: Path) -> None:
    done = cli(["tasks", "show", "rmsnorm"], narrow_env(tmp_path))
    task = get_task("rmsnorm")
    for path in task.seeds().values():
        assert str(path) in done.stdout


def _eval(tmp_path: Path, source: str, *extra: str) -> subprocess.CompletedProcess[str]:
    kernel = tmp_path / "kernel.py"
    kernel.write_text(source)
    return cli(["eval", "--kernel", "rmsnorm", "--suite", "smoke", "--device", "cpu", *extra, str(kernel)],
               narrow_env(tmp_path))


def test_eval_exit_code_is_one_for_a_rejected_kernel_and_json_stays_one_object(tmp_path: Path) -> None:
    rejected = HONEST.replace("import torch\n", "import os\nimport torch\n")
    done = _eval(tmp_path, rejected, "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["status"] == "rejected"


def test_eval_exit_code_is_one_for_an_incorrect_kernel(tmp_path: Path) -> None:
    wrong = HONEST.replace("(x * rstd * w)", "(x * w)")  # forgets the normalization
    done = _eval(tmp_path, wrong)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("incorrect")


def test_eval_exit_code_is_one_for_a_runtime_error(tmp_path: Path) -> None:
    broken = HONEST.replace("    return out\n", "    return out[: num_tokens // 0]\n")
    done = _eval(tmp_path, broken, "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["status"] == "runtime_error"


def test_eval_exit_code_is_zero_for_a_correct_kernel(tmp_path: Path) -> None:
    done = _eval(tmp_path, HONEST)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("correct")


def test_eval_with_a_relative_task_file_from_the_repository_root(tmp_path: Path) -> None:
    done = cli(["eval", "--suite", "smoke", "--device", "cpu", "--task-file", "docs/examples/scale_rows.py",
                "docs/examples/seeds/triton.py"], narrow_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("correct")


def test_eval_on_a_directory_says_so(tmp_path: Path) -> None:
    line = one_error_line(cli(["eval", "--kernel", "rmsnorm", str(tmp_path)], narrow_env(tmp_path)))
    assert "is a directory" in line


def test_compile_errors_start_at_the_first_real_error() -> None:
    log = "\n".join([
        "$ nvcc -O3 -c kernel.cu",
        "In file included from /usr/include/torch/csrc/api/include/torch/all.h:7,",
        "                 from kernel.cu:1:",
        "/usr/include/c10/util/Half.h(12): warning #68-D: integer conversion resulted in a change of sign",
        "kernel.cu(14): error: identifier \"blockDimx\" is undefined",
        "1 error detected in the compilation of \"kernel.cu\".",
    ])
    excerpt = compile_log_excerpt(log)
    assert excerpt.startswith('kernel.cu(14): error: identifier "blockDimx" is undefined')
    assert "1 error detected" in excerpt and "Half.h" not in excerpt


def test_out_refuses_to_overwrite_an_existing_file_without_force(tmp_path: Path) -> None:
    existing = tmp_path / "mine.py"
    existing.write_text("my own kernel\n")
    line = one_error_line(cli(["optimize", "--kernel", "rmsnorm", "--offline", "--out", str(existing)],
                              narrow_env(tmp_path)))
    assert "exists" in line and "--force" in line
    assert existing.read_text() == "my own kernel\n"
    assert not (tmp_path / "store.db").exists() or _runs(tmp_path / "store.db") == []


def _runs(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return connection.execute("SELECT id FROM runs").fetchall() if "runs" in tables else []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # each imports litellm: seconds apiece
@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--model", "nosuchprovider-model"], "knows no provider"),
        (["--model", "openai/gpt-4.1"], "no API key; set OPENAI_API_KEY"),
        (["--model", "openai/scripted", "--api-base", "http://127.0.0.1:{port}/v1"], "connection refused"),
        (["--model", "openai/scripted", "--api-base", "http://127.0.0.1:{port}/v1", "--budget-usd", "1"],
         "connection refused"),
    ],
)
def test_model_key_and_api_base_are_checked_before_a_run_exists(
    extra: list[str], needle: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in narrow_env(tmp_path).items() if not k.endswith("_API_KEY")}
    extra = [arg.replace("{port}", str(_closed_port())) for arg in extra]
    started = time.monotonic()
    done = cli(["optimize", "--kernel", "rmsnorm", "--rounds", "1", "--width", "1", *extra], env, timeout=120)
    line = one_error_line(done)
    assert needle in line, line
    assert time.monotonic() - started < 60  # no retries with backoff
    assert not (tmp_path / "store.db").exists() or _runs(tmp_path / "store.db") == []


@pytest.mark.slow
def test_a_dollar_budget_for_a_model_without_a_price_needs_a_token_budget(tmp_path: Path) -> None:
    with ScriptedLLMServer([]) as srv:
        args = ["optimize", "--kernel", "rmsnorm", "--model", "openai/scripted", "--api-base", srv.base_url,
                "--budget-usd", "1", "--rounds", "1", "--width", "1"]
        line = one_error_line(cli(args, narrow_env(tmp_path), timeout=120))
    assert "no price for openai/scripted" in line and "--budget-tokens" in line
    assert not (tmp_path / "store.db").exists() or _runs(tmp_path / "store.db") == []


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    tmp_path = tmp_path_factory.mktemp("cli_output")
    env = narrow_env(tmp_path)
    done = cli(["optimize", "--kernel", "rmsnorm", "--rounds", "1", "--width", "2", "--suite", "smoke",
                "--out", str(tmp_path / "best.py")], env)
    assert done.returncode == 0, done.stderr
    return env, done


@pytest.mark.slow
def test_optimize_progress_is_a_plain_log_with_rounds_counts_and_timings(offline_run: tuple) -> None:
    _, done = offline_run
    log = done.stderr
    assert "[seeding, then 1 round | 0/3 evaluated | $0.0000 | 0:" in log
    assert "[round 1/1 | " in log and "round 0/1" not in log
    assert "evaluated | $" in log and " elapsed] run completed" in log
    candidate_lines = [line for line in log.splitlines() if " us median on tiny T=4 H=64 (interpreter)" in line]
    assert len(candidate_lines) == 3  # the seed and the round's two candidates
    assert "best " in log and "correctness only" in log  # the best with its claim
    assert not any(mark in log for mark in ("━", "…", "\r", "\x1b["))  # no bar, nothing cut, no escapes


@pytest.mark.slow
def test_runs_list_and_show_at_80_columns_piped_print_whole_ids_and_ideas(offline_run: tuple) -> None:
    env, _ = offline_run
    listed = cli(["runs", "list"], env)
    as_json = json.loads(cli(["runs", "list", "--json"], env).stdout)["runs"]
    run_id = as_json[0]["id"]
    assert run_id in listed.stdout and "completed" in listed.stdout and "…" not in listed.stdout
    shown = cli(["runs", "show", run_id], env)
    doc = json.loads(cli(["runs", "show", run_id, "--json"], env).stdout)
    for candidate in doc["candidates"]:
        assert candidate["source_hash"] in shown.stdout  # the whole hash, not 8 characters of it
        if candidate["plan_item"]:
            assert candidate["plan_item"] in shown.stdout  # the whole idea, on one line
    assert "…" not in shown.stdout


@pytest.mark.slow
def test_the_progress_log_says_which_role_it_waits_on(tmp_path: Path) -> None:
    env = narrow_env(tmp_path) | {"OPENAI_API_KEY": "sk-test-not-a-secret"}
    with ScriptedLLMServer([Delay(1.5, 401)]) as srv:
        done = cli(["optimize", "--kernel", "rmsnorm", "--rounds", "1", "--width", "1", "--suite", "smoke",
                    "--model", "openai/scripted", "--api-base", srv.base_url, "--llm-timeout", "30"], env)
    assert done.returncode == 1, done.stderr
    assert "waiting: planner on openai/scripted" in done.stderr
    assert "planner on openai/scripted: failed after" in done.stderr


@pytest.mark.slow
def test_a_cuda_kernel_without_a_gpu_is_compiled_exit_zero_with_a_note(tmp_path: Path) -> None:
    import shutil

    import torch

    if torch.cuda.is_available() or shutil.which("nvcc") is None:
        pytest.skip("needs nvcc and no GPU: the 'compiled' verdict")
    seed = get_task("rmsnorm").seed_path("cuda")
    done = cli(["eval", "--kernel", "rmsnorm", "--lang", "cuda", str(seed)],
               narrow_env(tmp_path) | {"WARPSMITH_CACHE": os.environ.get("WARPSMITH_CACHE", str(Path.home() / ".cache" / "warpsmith"))},
               timeout=900)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("compiled") and "built for sm_" in done.stdout
    assert "triton interpreter" not in done.stdout
    assert "note: compiled only" in done.stderr
    assert "registers and spills" in done.stdout


def test_dashboard_on_a_busy_port_is_one_line_before_any_url(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    env = narrow_env(tmp_path)
    from warpsmith.store import open_store

    open_store(env["WARPSMITH_DB"]).close()  # the store the dashboard reads (read commands never create one)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = cli(["dashboard", "--port", str(busy.getsockname()[1])], env, timeout=120)
    line = one_error_line(done)
    assert "is in use" in line and done.stdout == ""


def test_a_table_too_wide_for_a_terminal_becomes_records_not_letter_columns() -> None:
    import io

    from rich.console import Console

    from warpsmith.cli.output import cell, print_table, table

    terminal = Console(width=80, file=io.StringIO(), force_terminal=True, color_system=None)
    run_id = "r-20261130-095001-b8f248"
    listing = table("runs", ["id", "task", "status", "strategy", "model", "rounds", "correct", "best", "cost",
                             "started"], whole=("id",))
    listing.add_row(cell(run_id), cell("moe_align_block_size"), "completed", "llm",
                    cell("anthropic/claude-sonnet-4-5"), "3/3", "7/9", "1.25x", "$0.4210", "2026-11-30T09:50")
    print_table(terminal, listing)
    text = terminal.file.getvalue()  # type: ignore[attr-defined]
    assert f"id {run_id}" in text and "task moe_align_block_size" in text and "model anthropic/claude-sonnet-4-5" in text
    assert "…" not in text and all(len(line) <= 80 for line in text.splitlines())


def test_the_live_block_moves_every_second_and_names_what_it_waits_on() -> None:
    import io

    from rich.console import Console

    from warpsmith.cli.optimize_display import ProgressView
    from warpsmith.records.runs import Progress

    terminal = Console(width=80, file=io.StringIO(), force_terminal=True, color_system=None)
    view = ProgressView(terminal, 3, planned=10)
    view(Progress(run_id="r-1", round_index=1, rounds_total=3, evaluated=4, cost_usd=0.0123,
                  message="round 1: llm proposing 3 candidates"))
    with view.waiting("planner on anthropic/claude-sonnet-4-5"):
        first = view.__rich__().plain
        time.sleep(1.1)
        second = view.__rich__().plain
    assert first.splitlines()[0].startswith("round 1/3 | 4/10 evaluated | $0.0123 | 0:0")
    assert "best: none yet" in first
    assert "waiting: planner on anthropic/claude-sonnet-4-5: 0 s" in first
    assert "waiting: planner on anthropic/claude-sonnet-4-5: 1 s" in second and first != second
    assert "waiting" not in view.__rich__().plain  # the request ended


@pytest.mark.slow
def test_reevaluation_says_each_status_once(offline_run: tuple) -> None:
    env, _ = offline_run
    run_id = json.loads(cli(["runs", "list", "--json"], env).stdout)["runs"][-1]["id"]
    done = cli(["replay", run_id, "--reevaluate", "--device", "cpu"], env)
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stderr.splitlines() if line.startswith("[") and ": correct" in line]
    assert len(steps) == 3 and all(": correct on " in line for line in steps), done.stderr
    assert "correct correct" not in done.stderr + done.stdout
