"""`warpsmith mcp`: the MCP server started as a real subprocess and driven through the official SDK's
client session over stdio (initialize, tools/list, tools/call); and the one line it prints
when the optional SDK is not installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from _optimize_helpers import private_env

from warpsmith.tasklib import get_task

HAS_MCP = importlib.util.find_spec("mcp") is not None
NEEDS_MCP = pytest.mark.skipif(not HAS_MCP, reason="the optional mcp SDK is not installed: pip install warpsmith[mcp]")
TOOLS = {"list_tasks", "show_task", "evaluate_kernel", "start_optimize", "list_runs", "show_run", "best_kernel"}
SEED = get_task("rmsnorm").seed_path("triton").read_text()  # type: ignore[union-attr]


def test_without_the_sdk_it_says_how_to_install_it_in_one_line(tmp_path: Path) -> None:
    hide_mcp = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mcp' or name.startswith('mcp.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from warpsmith.cli.main import app\n"
        "app(['mcp'])\n"
    )
    done = subprocess.run([sys.executable, "-c", hide_mcp], capture_output=True, text=True,
                          env=private_env(tmp_path), timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "pip install warpsmith[mcp]" in lines[0] and "Traceback" not in done.stderr


async def _session_run(env: dict[str, str]) -> tuple[set[str], dict, dict, dict]:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "warpsmith.cli", "mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        assert init.server_info.name == "warpsmith"
        tools = {tool.name for tool in (await session.list_tools()).tools}
        listed = await session.call_tool("list_tasks", {})
        evaluated = await session.call_tool(
            "evaluate_kernel", {"task": "rmsnorm", "source": SEED, "suite": "smoke", "device": "cpu"})
        unknown = await session.call_tool("show_task", {"name": "no_such_task"})
    assert not listed.is_error and not evaluated.is_error, (listed, evaluated)
    return tools, listed.structured_content, evaluated.structured_content, {"is_error": unknown.is_error,
                                                                            "text": unknown.content[0].text}


@NEEDS_MCP
@pytest.mark.slow
def test_a_client_session_initializes_lists_tools_and_evaluates_the_rmsnorm_seed(tmp_path: Path) -> None:
    import anyio

    tools, listed, evaluated, unknown = anyio.run(_session_run, private_env(tmp_path))
    assert tools == TOOLS
    assert "rmsnorm" in {task["name"] for task in listed["tasks"]}
    assert evaluated["status"] == "correct" and evaluated["mode"] == "interpreter", evaluated.get("message")
    assert evaluated["task"] == "rmsnorm" and evaluated["source_hash"]
    assert unknown["is_error"] and "unknown task 'no_such_task'" in unknown["text"]


async def _optimize_through_mcp(env: dict[str, str]) -> tuple[dict, dict, dict, dict]:
    import anyio
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "warpsmith.cli", "mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        started = await session.call_tool("start_optimize", {"task": "rmsnorm", "rounds": 1, "width": 1,
                                                             "suite": "smoke"})
        assert not started.is_error, started.content
        run_id = started.structured_content["run_id"]
        shown: dict = {}
        with anyio.fail_after(600):
            while shown.get("run", {}).get("status") not in ("completed", "failed", "interrupted"):
                await anyio.sleep(1)
                shown = (await session.call_tool("show_run", {"run": run_id})).structured_content
        runs = (await session.call_tool("list_runs", {"task": "rmsnorm"})).structured_content
        best = await session.call_tool("best_kernel", {"task": "rmsnorm"})
        assert not best.is_error, best.content
    return started.structured_content, shown, runs, best.structured_content


@NEEDS_MCP
@pytest.mark.slow
def test_start_optimize_runs_in_the_background_and_its_best_kernel_is_served(tmp_path: Path) -> None:
    import anyio

    started, shown, runs, best = anyio.run(_optimize_through_mcp, private_env(tmp_path))
    assert started["run_id"].startswith("r-") and started["command"][:3] == ["warpsmith", "optimize", "--kernel"]
    assert shown["run"]["id"] == started["run_id"] and shown["run"]["status"] == "completed"
    assert [run["id"] for run in runs["runs"]] == [started["run_id"]]
    assert best["source_hash"] == shown["run"]["best_candidate_hash"] and best["evaluation"]["status"] == "correct"
    assert best["source"].lstrip().startswith('"""') and "warpsmith export" in best["export"]
