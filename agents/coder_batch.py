"""Several ideas on one parent in one coder request: the parent is sent once, not once per idea.

Owns: the answer format of a batched request (one section per idea, each opened by a line
`=== IDEA n ===`, holding that idea's edit blocks on the parent or its whole file) and parsing
it into one `Applied` or one failure line per idea. Does not own: the request itself
(coder.py) or what happens to an idea whose section is unusable (llm_strategy.py asks for it
alone, so a batch never loses an idea).

Why: a round's ideas mostly start from the same parent (the best); each single request repeats
the contract, the task and the whole parent source, which made the coder half of a run's
prompt tokens (bench/prompt_tokens.py).
"""

from __future__ import annotations

import re

from warpsmith.agents.edits import Applied, apply_answer
from warpsmith.agents.protocols import FormatError

SECTION = re.compile(r"^=+ ?IDEA (\d+) ?=+[ \t]*$", re.MULTILINE | re.IGNORECASE)


def split_sections(answer: str) -> dict[int, str]:
    """Section text per idea number (1-based); a number given twice keeps its first section."""
    marks = list(SECTION.finditer(answer))
    sections: dict[int, str] = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=False):
        end = following.start() if following else len(answer)
        sections.setdefault(int(mark.group(1)), answer[mark.end():end])
    return sections


def parse_batch(answer: str, parent: str | None, language: str, count: int) -> dict[int, Applied | str]:
    """Per idea 1..count its applied source, or a line saying why its section is unusable.

    FormatError (the whole answer goes back to the model) when no section is usable at all."""
    sections = split_sections(answer)
    if not sections:
        raise FormatError("no '=== IDEA n ===' sections; answer with one section per idea, each opened by "
                          "that line")
    out: dict[int, Applied | str] = {}
    for number in range(1, count + 1):
        if number not in sections:
            out[number] = f"idea {number}: no section in the answer"
            continue
        try:
            out[number] = apply_answer(sections[number], parent, language)
        except FormatError as exc:
            out[number] = f"idea {number}: {exc}"
    if not any(isinstance(v, Applied) for v in out.values()):
        raise FormatError("no section was usable: " + "; ".join(str(v) for v in out.values()))
    return out
