"""Prompt tokens per role per round of a real optimize loop against a scripted model.

Runs `run_optimization` on a task (default moe_dispatch, 5 rounds, width 4) with the real
litellm client pointed at tests/_scripted_llm_server.py, the real evaluator (Triton
interpreter on a CPU) and a SQLite store in a temporary folder. The scripted model answers
by role: the planner with `width` ideas in JSON, the coder with the whole seed file plus a
marker comment (a new, correct kernel each time; one section per idea when a request asks for
several ideas on one parent), the judge with a verdict (one per candidate id when a request reviews
a whole round) whose lesson
repeats an earlier one in other words (what a model that repeats itself writes).
Every request the server receives is counted, per role and per round, with litellm's
token_counter (tiktoken's cl100k encoding for an openai model name; chars/4 when litellm
cannot count, and then the table says so).

    python bench/prompt_tokens.py --label before --out bench/results/prompt_tokens_before.json
    python bench/prompt_tokens.py --compare bench/results/prompt_tokens_before.json \
        bench/results/prompt_tokens_after.json

It measures what the agents are sent, not what a real model would answer: the answers are
scripted, so the prompts of later rounds grow only by what the loop itself feeds back.

On a GPU (issue 9's device check: prompts with their profile sections, and the sweep's table):

    python bench/prompt_tokens.py --device cuda --suite bench --rounds 2 --label gpu \
        --prompts bench/results/gpu_prompts --sweep-out bench/results/gpu_sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
ROLES = ("planner", "coder", "judge", "repair")
KEY_ENV = "WARPSMITH_BENCH_SCRIPTED_KEY"
LESSONS = [  # the same lesson in the words a model that repeats itself would use
    "moe_dispatch: retuning block sizes alone changed nothing here",
    "moe_dispatch: retuning the block sizes alone changed nothing here.",
    "moe_dispatch - retuning block sizes alone changes nothing here",
]


def count_tokens(messages: list[dict[str, Any]]) -> tuple[int, str]:
    """(tokens, how they were counted)."""
    try:
        import litellm

        return int(litellm.token_counter(model="gpt-4o", messages=messages)), "litellm.token_counter (gpt-4o)"
    except Exception:  # noqa: BLE001 - any failure of the counter falls back, and the table says so
        chars = sum(len(str(m.get("content") or "")) for m in messages)
        return chars // 4, "characters / 4"


def role_of(body: dict[str, Any]) -> str:
    system = next((str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "system"), "")
    user = next((str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "user"), "")
    if "You are the planner" in system:
        return "planner"
    if "You are the judge" in system:
        return "judge"
    return "repair" if "failed\nin the evaluator" in user or "failed in the evaluator" in user else "coder"


class Script:
    """The scripted model: answers by the role its system prompt names; counts what it was sent."""

    def __init__(self, seed_source: str, width: int) -> None:
        self.seed_source, self.width = seed_source, width
        self.round_index = 0
        self.counter = 0
        self.rows: list[dict[str, Any]] = []
        self.method = ""
        self.last: dict[str, list[dict[str, Any]]] = {}
        """The newest request of each role (written out with --prompts)."""

    def __call__(self, body: dict[str, Any]) -> str:
        role = role_of(body)
        tokens, self.method = count_tokens(body["messages"])
        self.rows.append({"round": self.round_index, "role": role, "tokens": tokens,
                          "chars": sum(len(str(m.get("content") or "")) for m in body["messages"])})
        self.last[role] = body["messages"]
        self.counter += 1
        if role == "planner":
            kinds = ["exploit", "new_algorithm", "crossover", "exploit"]
            items = [{"idea": f"round {self.round_index} idea {i}: retune the block sizes for the large shapes",
                      "parent_hash": None, "predicted_effect": "1.1x on the large shapes",
                      "kind": kinds[i % len(kinds)]} for i in range(self.width)]
            return "```json\n" + json.dumps({"items": items, "notes": "bandwidth bound"}) + "\n```"
        if role in ("coder", "repair"):
            user = str(body["messages"][-1].get("content") or "")
            ideas = len(re.findall(r"^\d+\. \(\w+\) ", user, re.MULTILINE)) if "=== IDEA n ===" in user else 0
            files = []
            for number in range(1, max(ideas, 1) + 1):
                self.counter += 1
                source = self.seed_source.rstrip() + f"\n\n# variant {self.counter}\n"
                files.append((f"=== IDEA {number} ===\n" if ideas else "") + f"A new variant.\n\n```python\n{source}```\n")
            return "\n".join(files)
        verdict = {"bottleneck": "DRAM bandwidth on the large shapes, launch latency on the small ones",
                   "matches_prediction": False, "feedback": "no measurable change; try a different algorithm",
                   "lessons": [LESSONS[self.counter % len(LESSONS)]],
                   "suspicious": False, "suspicion_reason": ""}
        user = str(body["messages"][-1].get("content") or "")
        if user.startswith("# Round review: "):  # one request for the round: a verdict per candidate id
            ids = re.findall(r"^## Candidate (\w{12})", user, re.MULTILINE)
            return "```json\n" + json.dumps({"verdicts": [{**verdict, "candidate": i} for i in ids]}) + "\n```"
        return "```json\n" + json.dumps(verdict) + "\n```"


def offline_sweep(task_name: str, suite: str, device: str, out: Path) -> str:
    """A 2-round offline run with the sweep (round 1: every declared config; round 2: the dispatch table);
    its report (per-bucket table, per-config rows) written to `out` as JSON. Returns the per-bucket table."""
    from warpsmith.agents.coordinator import run_optimization
    from warpsmith.agents.offline import OfflineStrategy, OfflineStrategyConfig
    from warpsmith.agents.offline_sweep_run import sweep_document
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.records.runs import RunSettings
    from warpsmith.store.db import open_store
    from warpsmith.tasklib import get_task

    task, hardware = get_task(task_name), detect_hardware(device)
    strategy = OfflineStrategy(OfflineStrategyConfig(sweep=True), task=task, hardware=hardware, suite=suite)
    settings = RunSettings(rounds=2, width=4, suite=suite, device=device, sweep=64)
    with tempfile.TemporaryDirectory(prefix="prompt-tokens-sweep-") as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'store.db'}")
        summary = run_optimization(task, strategy, store, settings, hardware)
        store.close()
    document = {"status": summary.status, "message": summary.message, "sweep": sweep_document(strategy)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, default=str))
    report = strategy.sweep_report
    return report.bucket_table() if report is not None else "; ".join(strategy.notes)


def measure(task_name: str, rounds: int, width: int, suite: str, label: str, device: str = "cpu",
            profile_top: int = 2) -> dict[str, Any]:
    from _scripted_llm_server import ScriptedLLMServer

    from warpsmith.agents.call_log import CallLog
    from warpsmith.agents.llm_strategy import build_llm_strategy
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.records.runs import RunSettings
    from warpsmith.search.optimize import run_optimization
    from warpsmith.store.db import open_store
    from warpsmith.tasklib import get_task

    task = get_task(task_name)
    seed_path = task.seed_path("triton")
    assert seed_path is not None
    script = Script(seed_path.read_text(), width)
    os.environ[KEY_ENV] = "sk-bench-not-a-secret"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="prompt-tokens-") as folder, ScriptedLLMServer([], responder=script) as srv:
        store = open_store(f"sqlite:///{Path(folder) / 'store.db'}")
        call_log = CallLog()
        strategy = build_llm_strategy("openai/scripted", api_base=srv.base_url, api_key_env=KEY_ENV,
                                      on_call=call_log, backoff_s=0.001, backoff_max_s=0.01, timeout_s=30.0)
        settings = RunSettings(rounds=rounds, width=width, suite=suite, device=device, model="openai/scripted",
                               api_base=srv.base_url, profile_top=profile_top)

        def progress(p: Any) -> None:
            script.round_index = p.round_index
            print(f"\r[{time.monotonic() - started:6.0f} s] round {p.round_index}: {p.message[:90]:<90}",
                  end="", file=sys.stderr, flush=True)

        summary = run_optimization(task, strategy, store, settings, detect_hardware(device), call_log=call_log,
                                   on_progress=progress)
        store.close()
    print(file=sys.stderr)
    return {"label": label, "task": task_name, "rounds": rounds, "width": width, "suite": suite,
            "status": summary.status, "message": summary.message, "counted_with": script.method,
            "seconds": round(time.monotonic() - started, 1), "requests": script.rows, "last_prompts": script.last}


def table(result: dict[str, Any]) -> dict[tuple[int, str], int]:
    out: dict[tuple[int, str], int] = {}
    for row in result["requests"]:
        out[(row["round"], row["role"])] = out.get((row["round"], row["role"]), 0) + row["tokens"]
    return out


def render(results: list[dict[str, Any]]) -> str:
    """One table: prompt tokens per round and role, one column group per result, and the totals."""
    tables = [table(r) for r in results]
    rounds = sorted({k[0] for t in tables for k in t})
    roles = [role for role in ROLES if any(k[1] == role for t in tables for k in t)]
    head = "round  " + "  ".join(f"{r['label'] + ':' + role:>18}" for r in results for role in roles)
    lines = [f"prompt tokens per role per round ({results[0]['task']}, {results[0]['rounds']} rounds, "
             f"width {results[0]['width']}, suite {results[0]['suite']}; counted with {results[0]['counted_with']})",
             head]
    for rnd in rounds:
        lines.append(f"{rnd:>5}  " + "  ".join(f"{t.get((rnd, role), 0):>18}" for t in tables for role in roles))
    totals = [sum(t.values()) for t in tables]
    lines.append("total  " + "  ".join(f"{sum(v for (_, ro), v in t.items() if ro == role):>18}"
                                      for t in tables for role in roles))
    for r, total in zip(results, totals, strict=True):
        share = {role: sum(v for (_, ro), v in table(r).items() if ro == role) / max(total, 1) for role in roles}
        lines.append(f"{r['label']}: {total} prompt tokens in {len(r['requests'])} requests; "
                     + ", ".join(f"{role} {share[role]:.0%}" for role in roles) + f" (run {r['status']})")
    if len(results) == 2:
        lines.append(f"{results[1]['label']} / {results[0]['label']}: {totals[1] / max(totals[0], 1):.1%} "
                     "(target: at most 40%)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="moe_dispatch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--suite", default="check", help="shape suite the evaluator checks (CPU: smoke or check)")
    parser.add_argument("--label", default="run")
    parser.add_argument("--out", type=Path, help="write the measurement as JSON here")
    parser.add_argument("--compare", nargs="+", type=Path, help="render stored measurements side by side")
    parser.add_argument("--prompts", type=Path, help="write the last request of each role here, as text")
    parser.add_argument("--device", default="cpu", help="cpu | cuda (on a GPU the prompts carry profiles)")
    parser.add_argument("--profile-top", type=int, default=2, help="profile each round's best N (device only)")
    parser.add_argument("--sweep-out", type=Path, help="also run a 2-round offline sweep; its report goes here")
    args = parser.parse_args()
    if args.compare:
        print(render([json.loads(p.read_text()) for p in args.compare]))
        return 0
    if args.sweep_out:
        print(offline_sweep(args.task, args.suite, args.device, args.sweep_out))
    result = measure(args.task, args.rounds, args.width, args.suite, args.label, args.device, args.profile_top)
    if args.prompts:
        args.prompts.mkdir(parents=True, exist_ok=True)
        for role, messages in result["last_prompts"].items():
            text = "\n\n".join(f"## [{m['role']}]\n\n{m.get('content') or ''}" for m in messages)
            (args.prompts / f"{role}.md").write_text(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    print(render([result]))
    return 0 if result["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
