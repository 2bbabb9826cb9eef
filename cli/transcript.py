"""`warpsmith runs show ID --transcript`: a run's conversation with its models, step by step.

Owns: printing every stored LLM call of a run in order (round, role, model, tokens, cost,
latency, each request message in full, the response, the error) and, after each round,
the candidates that round produced. Does not own: the rest of `runs show`
(warpsmith.cli.runs_cmd calls `print_transcript`) or any query (warpsmith.store).

A call names the candidate it produced when the store links them (llm_calls.candidate_hash);
otherwise the candidates are listed per round, after the round's calls, since a round's
coder answers and its candidates are not paired one to one (a repeated or unusable answer
produces nothing).
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.rule import Rule

from warpsmith.records.stored import StoredCandidate, StoredLLMCall
from warpsmith.store import listing, lookups


def _produced_by_round(session: Any, run_id: str) -> dict[int, list[StoredCandidate]]:
    produced = lookups.produced_by_round(session, run_id)
    return {round_index: [c for _, c in group] for round_index, group in groupby(produced, key=lambda r: r[0])}


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", part)) if isinstance(part, dict) else str(part) for part in content
        )
    return "" if content is None else str(content)


def _print_call(console: Console, call: StoredLLMCall) -> None:
    head = (
        f"[bold]#{call.seq} {call.role}[/bold]  {escape(call.model)}  "
        f"{call.prompt_tokens}+{call.completion_tokens} tokens  ${call.cost_usd:.4f}  {call.latency_s:.2f} s"
    )
    console.print(Rule(head, align="left"))
    for message in call.messages:
        console.print(f"[cyan]{escape(str(message.get('role', '?')))}:[/cyan]")
        console.print(escape(_content(message)), highlight=False, soft_wrap=True)
    console.print("[green]response:[/green]")
    console.print(
        escape(call.response) if call.response is not None else "[dim](no response)[/dim]", soft_wrap=True
    )
    if call.error:
        console.print(f"[red]error:[/red] {escape(call.error)}", soft_wrap=True)
    if call.candidate_hash:
        console.print(f"[yellow]-> produced candidate {call.candidate_hash[:12]}[/yellow]")


def print_transcript(session: Any, run_id: str, console: Console) -> bool:
    """Print the run's conversation; False when the run made no LLM calls."""
    calls = listing.llm_calls_of_run(session, run_id)
    if not calls:
        console.print(f"run {run_id} made no LLM calls (an offline run has no conversation)")
        return False
    produced = _produced_by_round(session, run_id)
    for round_index, in_round in groupby(calls, key=lambda c: c.round_index):
        console.print(
            Rule(f"[bold]round {round_index if round_index is not None else '?'}[/bold]", style="blue")
        )
        for call in in_round:
            _print_call(console, call)
        made = produced.get(round_index, []) if round_index is not None else []
        if made:
            console.print("[bold]candidates produced this round:[/bold]")
            for candidate in made:
                idea = f"  {escape(candidate.plan_item)}" if candidate.plan_item else ""
                console.print(f"  {candidate.source_hash[:12]} ({candidate.origin}){idea}", highlight=False)
    return True
