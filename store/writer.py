"""The one writer of a process: every record a run stores goes through it, in order.

Owns: turning records (Candidate, EvalResult, Verdict, LLMCall, Hardware) into rows, one lock per
store in this process so that writes from several threads (an evaluation pool's callbacks, an LLM
client's call log) are serialized in the order they arrive, and a count of its writes (a
cache of reads keys on it: nothing this process wrote since means nothing it asked changed, but
for other processes' writes, seen at its next write). Does not own: the SQL of each write (writes.py, runs.py: small, each
idempotent where it can be) or what a run does (the loop in warpsmith.agents / warpsmith.search).

Sequence numbers stay safe under several processes writing one Postgres store: `record_llm_call`
locks the run's row before it reads MAX(seq) (see writes.py); this writer adds the in-process order.

    writer = RunWriter.of(store)                  # one per store in this process
    with writer.transaction() as s:
        writer.candidate(s, run_id, candidate, round_index=1, position=0)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warpsmith.records.agents import LLMCall, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.records.scope import EvalScope
from warpsmith.records.stored import StoredCandidate, StoredEvaluation
from warpsmith.store import convert, population, runs, writes
from warpsmith.store.schema import LLM_CALL_NOT_STORED, LLMCallRow

_WRITES = {"INSERT", "UPDATE", "DELETE"}
LINKS = "links"
"""`changes` of a write that only links candidates to a run: the beam of any run, made of evaluations, stays."""
NOT_STORED = LLM_CALL_NOT_STORED
"""LLMCall fields with no llm_calls column, each with why (store/schema.py derives the others' columns)."""


def unstored_llm_call_fields(fields: set[str], columns: set[str]) -> set[str]:
    """Record fields that would be dropped without a word: neither a column nor in NOT_STORED."""
    return fields - columns - set(NOT_STORED)


_LLM_CALL_COLUMNS = set(LLMCall.model_fields) & set(LLMCallRow.__table__.columns.keys())


def scope_key(scope: EvalScope) -> tuple[Any, ...]:
    """An EvalScope as the part of a remembered read's key that names it."""
    return tuple(EvalScope.model_validate(scope, from_attributes=True).model_dump().values())


class RunWriter:
    """Serializes one process's writes to one store (`RunWriter.of(store or session)`)."""

    _writers: ClassVar[WeakKeyDictionary[Engine, RunWriter]] = WeakKeyDictionary()
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, engine: Engine) -> None:
        self.lock = threading.RLock()
        self.writes = 0  # how many writes went through
        self._writing = threading.local()
        self._foreign = 0  # write statements in this process that did not come through this writer
        self._known: dict[tuple[Any, ...], tuple[int, Any]] = {}
        self._born: dict[str, StoredCandidate] = {}  # candidates this writer stored first: no verdict but its own
        event.listen(engine, "after_cursor_execute", self._saw_statement)
        # what it remembers from its own writes holds only if they are committed: a rollback forgets all
        event.listen(engine, "rollback", lambda conn: self._known.clear())

    # --- what the writer knows: reads answered again only when a write could change them ---
    def _saw_statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip()[:20].upper()
        if head[:6] not in _WRITES:
            return
        if "LESSONS" in head:  # whoever wrote them (a writer's transaction may add lessons too)
            self._forget_kind("lessons")
        if not getattr(self._writing, "active", False) and not head.startswith("UPDATE RUNS"):
            self._foreign += 1  # a run's own row (heartbeat, progress) changes no answer remembered here

    def remembered(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`, or what it returned last time for `key` when nothing since could change it.

        Keys name what they depend on: ("result", scope, source_hash) changes when this writer
        stores an evaluation of that source; ("beam", ..., run_id) when it stores any evaluation or
        verdict, and, for a beam scoped to runs (its last element not None), a candidate link. Any write in this process that bypassed the writer forgets everything.
        Another process's writes are seen at this process's next write of that kind (a concurrent
        run's new best reaches the beam one step later; the evaluation cache may measure a kernel
        another process just measured)."""
        entry = self._known.get(key)
        if entry is not None and entry[0] == self._foreign:
            return entry[1]
        value = compute()
        self._known[key] = (self._foreign, value)
        return value

    def remembers(self, key: tuple[Any, ...]) -> bool:
        """Whether `remembered(key, ...)` would answer without asking."""
        entry = self._known.get(key)
        return entry is not None and entry[0] == self._foreign

    def know(self, key: tuple[Any, ...], value: Any) -> None:
        """Remember `value` for `key` as `remembered` would have (a batch read answering many keys at once)."""
        self._known[key] = (self._foreign, value)

    def unknown(self, scope: tuple[Any, ...], source_hash: str) -> bool:
        """True when a remembered `known` set of this scope (`scope_key`; what `known_hashes` answered,
        plus what this writer stored since) says the source was never evaluated under it: the
        cache need not be asked."""
        return any(key[0] == "known" and key[1] == scope and entry[0] == self._foreign and source_hash not in entry[1]
                   for key, entry in self._known.items())

    def _learned(self, scope: tuple[Any, ...], source_hash: str) -> None:
        """This writer stored an evaluation of `source_hash` under `scope`: the known sets of it grow."""
        for key, (_, value) in self._known.items():
            if key[0] == "known" and key[1] == scope:
                value[source_hash] = None  # a dict: its order is the order the sources were learned

    def _forget_kind(self, kind: str) -> None:
        for key in [key for key in list(self._known) if key[0] == kind]:
            self._known.pop(key, None)

    def _measured(self, identity: tuple[Any, ...], stored: StoredEvaluation, task: str) -> None:
        """This writer stored `stored` under `identity`: the remembered beams' material of that identity
        (search_reads.newest_correct: one entry per candidate, its newest evaluation, in evaluation
        order) is brought up to date here instead of being read again; a beam whose material cannot be
        (scoped to runs, or a correct kernel this writer does not know the verdicts of) is forgotten."""
        source_hash = stored.source_hash
        self._known[("result", identity, source_hash)] = (self._foreign, stored)  # the cache's newest of it now
        for key in [k for k in list(self._known) if k[0] == "beam"]:
            if key[1] != identity:
                continue  # another identity (a screen, another suite): its newest rows did not change
            entry = self._known.get(key)
            if entry is None or key[-1] is not None or key[2] != task:
                self._known.pop(key, None)
                continue
            material = entry[1]
            before = next((m for m in material if m[0].source_hash == source_hash), None)
            kept = [m for m in material if m[0].source_hash != source_hash]
            if stored.status == "correct":
                if before is not None:
                    kept.append((before[0], stored, before[2]))
                elif source_hash in self._born:
                    born = self._born[source_hash]
                    if key[3] is None or born.language == key[3]:
                        kept.append((born, stored, []))
                else:
                    self._known.pop(key, None)
                    continue
            self._known[key] = (entry[0], kept)

    def _forget(self, source_hash: str | None = None) -> None:
        """After a write that changes `source_hash`'s stored result ('': none; LINKS: links only): forget
        the beams (for LINKS: those scoped to runs) and that source's remembered result."""
        for key in list(self._known):
            beam = key[0] == "beam" and (source_hash != LINKS or key[-1] is not None)
            if beam or (key[0] == "result" and key[-1] == source_hash):
                del self._known[key]

    @classmethod
    def of(cls, where: Any) -> RunWriter:
        """The writer of the store `where` belongs to (a Store, a Session or an Engine)."""
        engine = where.get_bind() if isinstance(where, Session) else getattr(where, "engine", where)
        with cls._registry_lock:
            writer = cls._writers.get(engine)
            if writer is None:
                writer = cls._writers[engine] = RunWriter(engine)
            return writer

    @contextmanager
    def transaction(self, session: Session, changes: str | None = None) -> Iterator[Session]:
        """Hold the writer for a caller's session (its transaction is the caller's). `changes`: the
        source hash whose stored result this write changes ('' for the beam only; LINKS: only beams
        scoped to runs; None: neither)."""
        with self.lock:
            self._writing.active = True
            try:
                yield session
            finally:
                self._writing.active = False
                self.writes += 1
                if changes is not None:
                    self._forget(changes or None)

    # --- records -> rows -----------------------------------------------------------------
    def open_run(self, session: Session, **fields: Any) -> str:
        """A new run (warpsmith.store.runs.create_run's fields); returns its id."""
        with self.transaction(session):
            run_id = runs.create_run(session, **fields).id
        self.fresh_run(run_id)
        return run_id

    # --- what a run is made of, as this writer wrote it (agents.round_context reads these) ---------
    def fresh_run(self, run_id: str) -> None:
        """A run this writer created: no links, verdicts or failing evaluations but those it stores next.
        ("links", run) and ("verdicts", run) grow as it writes them; ("failures", run) holds answers by
        (scope, limit), None: none at all."""
        self.know(("links", run_id), [])
        self.know(("verdicts", run_id), [])
        self.know(("failures", run_id), {None: []})

    def _grow(self, key: tuple[Any, ...], items: list[Any]) -> None:
        """Add what this writer just wrote to a remembered list (none remembered: the next read asks)."""
        if self.remembers(key):
            self._known[key][1].extend(items)

    def task(self, session: Session, name: str, description: str, signature: str) -> None:
        with self.transaction(session):
            writes.ensure_task(session, name, description, signature, read_back=False)

    def hardware(self, session: Session, hardware: Hardware) -> None:
        with self.transaction(session):
            writes.ensure_hardware(
                session, hardware.fingerprint, hardware.device_name, hardware.backend, hardware.arch,
                hardware.model_dump(mode="json"), read_back=False,
            )

    def candidate(
        self, session: Session, run_id: str, candidate: Candidate, round_index: int, position: int,
        relation: str = "produced",
    ) -> None:
        self.candidates(session, run_id, [(candidate, round_index, position, relation)])

    def candidates(
        self, session: Session, run_id: str, placed: list[tuple[Candidate, int, int, str]]
    ) -> None:
        """Several candidates (candidate, round_index, position, relation) and their links: two statements."""
        with self.transaction(session, changes=LINKS):
            rows = list({c.source_hash: writes.candidate_values(
                task=c.task, language=c.language, source=c.source, origin=c.origin, parent_hash=c.parent_hash,
                plan_item=c.plan_item, source_hash=c.source_hash) for c, *_ in placed}.values())
            new = writes.add_candidates(session, rows) or set()  # new to the store: no verdict anywhere yet
            self._born.update((row["source_hash"], StoredCandidate.model_validate(row))
                              for row in rows if row["source_hash"] in new)
            writes.link_candidates(session, run_id, [(c.source_hash, *rest) for c, *rest in placed])
            self._linked(run_id, placed, {row["source_hash"]: row for row in rows}, new)

    def _linked(self, run_id: str, placed: list[tuple[Candidate, int, int, str]], rows: dict[str, dict[str, Any]],
                new: set[str] | None) -> None:
        """The run's remembered links grow by those just written. A candidate the store held already
        may carry another origin or plan and may have failed before: the links and failures are asked again."""
        if new is None or any(c.source_hash not in new for c, *_ in placed):
            self._known.pop(("links", run_id), None)
            self._forget_kind("failures")
            return
        links = self._known.get(("links", run_id))
        seen = {link[2].source_hash for link in links[1]} if links else set()
        added: dict[str, tuple[int, int, StoredCandidate, str]] = {}
        for c, round_index, position, relation in placed:  # the first link of a candidate wins, as in the store
            if c.source_hash not in seen and c.source_hash not in added:
                added[c.source_hash] = (round_index, position, self._born[c.source_hash], relation)
        self._grow(("links", run_id), list(added.values()))
        if links and self.remembers(("links", run_id)):
            links[1].sort(key=lambda link: (link[0], link[1]))  # stable: link time breaks ties, as the store's order

    def link(
        self, session: Session, run_id: str, source_hash: str, round_index: int, position: int, relation: str
    ) -> None:
        """A stored candidate joins a run (a re-evaluation takes over the original's candidates)."""
        with self.transaction(session, changes=LINKS):
            writes.link_candidate(session, run_id, source_hash, round_index, position, relation)
        self._known.pop(("links", run_id), None)
        self._forget_kind("failures")

    def saw(self, session: Session, run_id: str, evaluation_id: int) -> None:
        """The run saw this stored evaluation (the cache served it, or it inherited the kernel)."""
        with self.transaction(session):
            writes.link_evaluation(session, run_id, evaluation_id)

    def evaluation(self, session: Session, run_id: str, scope: EvalScope, result: EvalResult) -> int:
        """Append a measurement (never overwriting one), link it to the run that made it, beat the
        run's heartbeat (the same statement-light transaction); returns the evaluation's id.

        The task definition is the one the result says it was measured against (the evaluator sets
        it), else the scope's; the stage is the result's."""
        speedups = [t.speedup for t in result.timings if t.speedup]
        identity = scope_key(scope.model_copy(update={
            "stage": result.stage, "task_definition_hash": result.task_definition_hash or scope.task_definition_hash}))
        self._learned(identity, result.source_hash)
        with self.transaction(session):
            row = writes.record_evaluation(
                session,
                source_hash=result.source_hash,
                hardware_fingerprint=scope.hardware_fingerprint,
                evaluator_version=scope.evaluator_version,
                suite=scope.suite,
                task_definition_hash=result.task_definition_hash or scope.task_definition_hash,
                stage=result.stage,
                mode=result.mode,
                status=result.status,
                message=result.message,
                result=result.model_dump(mode="json"),
                speedup=result.speedup_geomean(),
                speedup_min=min(speedups) if speedups else None,
                speedup_max=max(speedups) if speedups else None,
                median_us_total=sum(t.median_us for t in result.timings) if result.timings else None,
                run_id=run_id,
            )
            stored = convert.evaluation(row)
            self._measured(identity, stored, result.task)
            self._known[("newest", scope.hardware_fingerprint, result.source_hash)] = (self._foreign, stored)
            if stored.status != "correct":
                self._forget_kind("failures")  # a run's failures are its candidates' newest failing evaluations
            return row.id

    def verdict(
        self, session: Session, run_id: str, task: str, scope: EvalScope, verdict: Verdict, round_index: int
    ) -> None:
        self.verdicts(session, run_id, task, scope, [(verdict, round_index)])

    def verdicts(
        self, session: Session, run_id: str, task: str, scope: EvalScope, judged: list[tuple[Verdict, int]],
        *, changes: str | None = "", lessons: bool = True,
    ) -> None:
        """Verdicts (verdict, round_index) of one task: their rows in one statement, then any lessons
        (`lessons=False`: the caller stores them, as agents.round_context does with their evidence).
        `changes`: as `transaction`'s (None: no verdict here can take a candidate out of a beam)."""
        with self.transaction(session, changes=changes):
            rows = [writes.verdict_values(
                run_id, verdict.source_hash, verdict.model_dump(mode="json"), bottleneck=verdict.bottleneck,
                feedback=verdict.feedback, suspicious=verdict.suspicious, matches_prediction=verdict.matches_prediction,
                round_index=round_index) for verdict, round_index in judged]
            writes.record_verdicts(session, rows)
            self._grow(("verdicts", run_id), [(row["source_hash"], row["round_index"], row["verdict"]) for row in rows])
            for verdict, _ in judged if lessons else []:
                if verdict.lessons:
                    self._forget_kind("lessons")
                    writes.add_lessons(session, task, scope.hardware_fingerprint, verdict.lessons, source_run_id=run_id)

    def llm_call(self, session: Session, run_id: str, call: LLMCall, round_index: int | None) -> int:
        """Store one call with the run's next `seq`; returns its row id."""
        stored = call.model_dump(include=_LLM_CALL_COLUMNS)  # every field the table has a column for
        with self.transaction(session):
            return writes.record_llm_call(session, run_id, round_index=round_index, **stored).id

    def link_llm_call(self, session: Session, call_id: int, source_hash: str) -> None:
        with self.transaction(session):
            writes.set_llm_call_candidate(session, call_id, source_hash)

    def heartbeat(self, session: Session, run_id: str) -> None:
        with self.transaction(session):
            runs.heartbeat(session, run_id)

    def progress(
        self, session: Session, run_id: str, *, rounds_done: int | None = None,
        best_candidate_hash: str | None = None, best_speedup: float | None = None, status_message: str | None = None,
    ) -> None:
        """The fields given, and the heartbeat (one UPDATE)."""
        with self.transaction(session):
            runs.update_run_progress(
                session, run_id, rounds_done=rounds_done, best_candidate_hash=best_candidate_hash,
                best_speedup=best_speedup, status_message=status_message,
            )

    # --- an evolve run's population and archive (warpsmith.store.population) ------------------
    def members(self, session: Session, run_id: str, task: str, generation: int, rows: list[dict[str, Any]]) -> None:
        """Candidates join islands (each dict: island, source_hash, role, kind, from_island): one statement."""
        with self.transaction(session):
            population.add_members(session, run_id, task, generation, rows)

    def outcomes(self, session: Session, run_id: str, task: str, measured: list[tuple[str, str | None, str]]) -> None:
        """Measured members' (source_hash, cell, status): one statement."""
        with self.transaction(session):
            population.set_outcomes(session, run_id, task, measured)

    def archive(self, session: Session, run_id: str, task: str, generation: int, cells: list[dict[str, Any]],
                replace: bool = True) -> None:
        """The archive of `task` after `generation` (`replace=False`: none was stored for it yet)."""
        with self.transaction(session):
            population.snapshot_archive(session, run_id, task, generation, cells, replace=replace)

    def finish(self, session: Session, run_id: str, status: str, message: str) -> None:
        with self.transaction(session):
            runs.end_run(session, run_id, status, message)
