"""Evaluate a batch of candidates through a pool: all submitted at once, staged, each stored as it arrives.

Owns: `BatchEvaluator.run`: for each (task, member) either the run's cached result (the evaluation
cache: a candidate already measured under the same identity is never measured again, which is also
what makes a resumed generation cheap) or jobs on the pool, driven per candidate as outcomes come
back in completion order: a screen (device + bench suite only) promoted to the full suite when not
'slower' than the parent (warpsmith.agents.measure.promotion), a noisy device result measured once
more (warpsmith.agents.ranking.noisy_shapes), a confirming re-evaluation when asked. Every result
goes to the writer the moment it arrives. An outcome without a result (the pool retried and gave up)
is stored as a 'runtime_error' naming the pool's reason: such a result is measured again later.
Does not own: the pool (warpsmith.pool), what a generation does with the results (search.generation).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from warpsmith.agents import ranking
from warpsmith.agents.measure import promotion
from warpsmith.pool.protocol import EvaluationPool
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.records.jobs import EvalJob, EvalOutcome
from warpsmith.search.archive import Member
from warpsmith.search.writer import RunWriter

POLL_S = 0.5


@dataclass
class Entry:
    task: str
    member: Member
    parent: EvalResult | None = None
    confirm: bool = False
    screen: bool = True
    """False for a seed: nothing to screen it against, it goes to the full suite at once."""
    result: EvalResult | None = None
    fresh: bool = False
    retried: bool = False


class BatchEvaluator:
    def __init__(self, pool: EvaluationPool, writer: RunWriter, *, device_mode: bool,
                 on_outcome: Callable[[Entry, EvalResult], None] | None = None,
                 on_wait: Callable[[], None] | None = None) -> None:
        self.pool, self.writer, self.device_mode = pool, writer, device_mode
        self.on_outcome = on_outcome or (lambda entry, result: None)
        self.on_wait = on_wait or (lambda: None)
        self.settings = writer.settings
        self.evaluated = 0
        self._ids = itertools.count()

    @property
    def screens(self) -> bool:
        """A screen differs from the full suite only for the bench suite on a device (as in agents.measure)."""
        return self.device_mode and self.settings.suite == "bench"

    def _job(self, entry: Entry, stage: str) -> EvalJob:
        return EvalJob(
            job_id=f"{next(self._ids)}-{entry.member.source_hash[:12]}",
            candidate=entry.member.candidate,
            suite=self.settings.suite,
            stage=stage if self.screens else "full",  # type: ignore[arg-type]
            confirm=entry.confirm,
            timeout_s=self.settings.eval_timeout_s,
            task_file=self.settings.task_file,
        )

    def run(self, entries: list[Entry]) -> list[Entry]:
        """Fill every entry's `result` (and `fresh`: measured now, not served from the cache)."""
        inflight: dict[str, tuple[Entry, str]] = {}
        for entry in entries:
            if not entry.confirm:
                cached = self.writer.cached(entry.task, entry.member.candidate)
                if cached is not None and (cached.stage == "full" or not self.screens):
                    entry.result = cached
                    continue
            stage = "screen" if self.screens and entry.screen and not entry.confirm else "full"
            if stage == "screen" and (screened := self.writer.cached_screen(entry.task, entry.member.candidate)):
                if not promotion(screened, entry.parent):  # measured before a kill: not measured again
                    entry.result = screened
                    continue
                stage = "full"
            job = self._job(entry, stage)
            inflight[job.job_id] = (entry, stage)
            self.pool.submit(job)
        while inflight:
            outcome = self.pool.next_outcome(timeout_s=POLL_S)
            if outcome is None:
                self.on_wait()
                continue
            entry, stage = inflight.pop(outcome.job_id)
            result = self._result(entry, outcome)
            self.writer.record(entry.task, result)
            self.evaluated += 1
            self.on_outcome(entry, result)
            follow = self._next_stage(entry, stage, result)
            if follow is None:
                entry.result, entry.fresh = result, True
                continue
            job = self._job(entry, follow)
            inflight[job.job_id] = (entry, follow)
            self.pool.submit(job)
        return entries

    def one(self, task: str, candidate: Candidate, *, profile: bool = False) -> EvalResult:
        """One full-suite evaluation (with the profiler when asked), waited for; the caller records it."""
        job = self._job(Entry(task, Member(candidate=candidate)), "full").model_copy(update={"profile": profile})
        self.pool.submit(job)
        while True:
            outcome = self.pool.next_outcome(timeout_s=POLL_S)
            if outcome is None:
                self.on_wait()
            elif outcome.job_id == job.job_id:
                self.evaluated += 1
                return self._result(Entry(task, Member(candidate=candidate)), outcome)

    def _next_stage(self, entry: Entry, stage: str, result: EvalResult) -> str | None:
        """The stage to submit next for this entry, None when `result` is its last word."""
        if stage == "screen" and result.stage == "screen":
            return "full" if promotion(result, entry.parent) else None
        if entry.confirm or not result.ok or result.mode != "device" or entry.retried:
            return None
        if ranking.noisy_shapes(result):  # measured once more; still noisy: kept, never ranked
            entry.retried = True
            return "full"
        return None

    @staticmethod
    def _result(entry: Entry, outcome: EvalOutcome) -> EvalResult:
        if outcome.result is not None:
            return outcome.result
        candidate = entry.member.candidate
        why = outcome.error or "no result"
        return EvalResult(task=candidate.task, language=candidate.language, source_hash=candidate.source_hash,
                          status="runtime_error", mode="none",
                          message=f"the pool gave up after {outcome.attempts} attempt(s) on {outcome.worker or '?'}: "
                                  f"{why}"[:500])
