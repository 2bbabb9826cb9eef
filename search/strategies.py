"""Strategies for an evolution run, one per (task, island): the `strategy_for` the engine calls.

Owns: `offline_strategies` (an OfflineStrategy per task and island, each island with its own
sampling seed so islands explore different configurations, each starting from its task's shipped
seed) and `shared_strategy` (one strategy object for every task and island: the LLM strategy,
whose planner reads the island's context each time). Does not own: the strategies
(warpsmith.agents) or building an LLM client (the CLI does, as for optimize).
"""

from __future__ import annotations

from warpsmith.agents.coordinator import seed_candidate
from warpsmith.agents.offline import OfflineStrategy, OfflineStrategyConfig
from warpsmith.agents.protocols import Strategy
from warpsmith.search.generation import StrategyFor
from warpsmith.tasklib.base import Task


def offline_strategies(tasks: list[Task], language: str) -> StrategyFor:
    by_name = {task.name: task for task in tasks}
    made: dict[tuple[str, int], OfflineStrategy] = {}

    def strategy_for(task: str, island: int) -> Strategy:
        if (task, island) not in made:
            seed = seed_candidate(by_name[task], language)
            made[(task, island)] = OfflineStrategy(OfflineStrategyConfig(seed=island), seed=seed)
        return made[(task, island)]

    return strategy_for


def shared_strategy(strategy: Strategy) -> StrategyFor:
    return lambda task, island: strategy
