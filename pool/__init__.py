"""Runs evaluations in parallel: local workers (one per GPU, CPU workers in interpreter mode,
native builds on a CPU pool) or Ray actors across machines, behind one interface
(`pool.protocol.EvaluationPool`). Imports evaluator (and what it needs), never agents, search
or store: jobs in, outcomes out.
"""
