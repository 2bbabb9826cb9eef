"""store.population's reads answer with records (records.population), never rows, on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

from warpsmith.records.population import ArchiveCell, PopulationMember
from warpsmith.store import add_candidate, create_run, ensure_task, open_store
from warpsmith.store import population as store_population


def test_members_archive_and_produced_hashes_are_records_that_outlive_the_session(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'pop.db'}") as store:
        with store.session() as s:
            ensure_task(s, "rmsnorm")
            run_id = create_run(s, task="rmsnorm", language="triton", strategy="evolve").id
            seed, child, fix = (
                add_candidate(s, task="rmsnorm", language="triton", source=f"# {name}\n").source_hash
                for name in ("seed", "child", "fix")
            )
            assert store_population.add_member(s, run_id, "rmsnorm", 0, 0, seed, "seed")
            assert not store_population.add_member(s, run_id, "rmsnorm", 0, 0, seed, "seed"), "a repeat is refused"
            store_population.add_member(s, run_id, "rmsnorm", 1, 1, child, "offspring", kind="two-pass")
            store_population.add_member(s, run_id, "rmsnorm", 0, 1, child, "migrant", from_island=1)
            store_population.add_member(s, run_id, "rmsnorm", 1, 2, fix, "repair")
            store_population.set_outcome(s, run_id, "rmsnorm", child, "bw=3|occ=1", "correct")
            store_population.snapshot_archive(s, run_id, "rmsnorm", 1, [
                {"cell": "bw=3|occ=1", "source_hash": child, "time_us": 12.5, "floor_fraction": 0.8}])
            store_population.snapshot_archive(s, run_id, "rmsnorm", 2, [
                {"cell": "bw=3|occ=1", "source_hash": fix, "time_us": 10.0, "floor_fraction": None}])
        with store.session() as s:
            members = store_population.members(s, run_id)
            newest = store_population.archive_at(s, run_id, "rmsnorm")
            first = store_population.archive_at(s, run_id, "rmsnorm", 1)
            produced = store_population.produced_hashes(s, run_id)
    assert all(isinstance(m, PopulationMember) for m in members)
    assert [(m.island, m.role, m.source_hash) for m in members] == [
        (0, "seed", seed), (1, "offspring", child), (0, "migrant", child), (1, "repair", fix)]
    assert members[1].kind == "two-pass" and members[2].from_island == 1
    assert {(m.cell, m.status) for m in members if m.source_hash == child} == {("bw=3|occ=1", "correct")}
    assert members[0].cell is None and members[0].status is None
    assert all(isinstance(c, ArchiveCell) for c in newest + first)
    assert [(c.generation, c.source_hash, c.time_us) for c in newest] == [(2, fix, 10.0)]
    assert [(c.generation, c.source_hash, c.floor_fraction) for c in first] == [(1, child, 0.8)]
    assert produced == [child, fix], "offspring and repairs, once each, in the order written (not seeds, migrants)"
