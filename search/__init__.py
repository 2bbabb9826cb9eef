"""The engine: a generation step (propose a batch -> evaluate many in parallel -> review ->
select), `evolve` over many tasks with islands and a MAP-Elites archive, and the single writer
of a run. Imports agents (strategies), pool (evaluation), store (writes), tasklib and records.
"""
