"""Turning answers into sources and records: SEARCH/REPLACE edits, whole files, tolerant JSON."""

from __future__ import annotations

import re

import pytest
from _agents_llm_helpers import EDIT_ANSWER, PARENT_SOURCE

from warpsmith.agents.edits import EditBlock, apply_answer, apply_edits, new_source, parse_edit_blocks
from warpsmith.agents.protocols import FormatError
from warpsmith.agents.structured import find_json_object, parse_model, schema_text
from warpsmith.records.agents import Plan, Verdict


def test_exact_edit_is_applied():
    source = new_source(EDIT_ANSWER, PARENT_SOURCE, "triton")
    assert "num_warps=8" in source and "num_warps=4" not in source
    assert source.replace("num_warps=8", "num_warps=4") == PARENT_SOURCE


def test_several_blocks_apply_in_order_each_on_the_result_of_the_last():
    answer = (
        "<<<<<<< SEARCH\n    var = tl.sum(x * x, axis=0) / H\n=======\n    ss = tl.sum(x * x, axis=0)\n"
        "    var = ss / H\n>>>>>>> REPLACE\n\n"
        "<<<<<<< SEARCH\n    ss = tl.sum(x * x, axis=0)\n=======\n    ss = tl.sum(x * x, axis=0)  # fp32\n"
        ">>>>>>> REPLACE\n"
    )
    source = new_source(answer, PARENT_SOURCE, "triton")
    assert "    ss = tl.sum(x * x, axis=0)  # fp32\n    var = ss / H\n" in source


def test_whitespace_tolerant_match_reindents_the_replacement():
    # The model lost the function's indentation and added trailing spaces.
    answer = (
        "```python\n<<<<<<< SEARCH\nrow = tl.program_id(0)   \ncols = tl.arange(0, BLOCK)\n=======\n"
        "row = tl.program_id(0).to(tl.int64)\ncols = tl.arange(0, BLOCK)\n>>>>>>> REPLACE\n```\n"
    )
    source = new_source(answer, PARENT_SOURCE, "triton")
    assert "\n    row = tl.program_id(0).to(tl.int64)\n    cols = tl.arange(0, BLOCK)\n" in source
    assert "row = tl.program_id(0)\n" not in source


def test_trailing_whitespace_only_difference_matches():
    blocks = [EditBlock(search="def kernel(x, weight, eps):  \n", replace="def kernel(x, weight, eps):\n    pass\n")]
    assert "def kernel(x, weight, eps):\n    pass\n    out = " in apply_edits(PARENT_SOURCE, blocks).source


def test_a_search_block_that_does_not_match_names_the_block_and_the_others_still_apply():
    miss = "\n<<<<<<< SEARCH\n    y = tl.exp(x)\n=======\n    y = tl.exp2(x)\n>>>>>>> REPLACE\n"
    applied = apply_answer(EDIT_ANSWER + miss, PARENT_SOURCE, "triton")
    assert "num_warps=8" in applied.source
    (line,) = applied.failed
    assert re.search(r"edit block 2: .*do not match.*'y = tl.exp\(x\)'.*closest parent lines \d+-\d+", line)
    with pytest.raises(FormatError, match=r"edit block 1: .*do not match"):  # nothing fits: unusable
        new_source(miss, PARENT_SOURCE, "triton")


def test_unchanged_or_empty_results_are_format_errors():
    same = "<<<<<<< SEARCH\n    row = tl.program_id(0)\n=======\n    row = tl.program_id(0)\n>>>>>>> REPLACE\n"
    with pytest.raises(FormatError, match="identical to the parent"):
        new_source(same, PARENT_SOURCE, "triton")
    with pytest.raises(FormatError, match="empty"):
        new_source("```python\n\n```\n", PARENT_SOURCE, "triton")
    with pytest.raises(FormatError, match="SEARCH part is empty"):
        new_source("<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n", PARENT_SOURCE, "triton")


def test_whole_file_answer_takes_the_code_block_of_the_language():
    answer = "Rewrite:\n```bash\npip install nothing\n```\n```python\n" + PARENT_SOURCE.replace("4)", "16)") + "```\n"
    assert new_source(answer, PARENT_SOURCE, "triton") == PARENT_SOURCE.replace("4)", "16)")
    cuda = "```cuda\n#include <torch/extension.h>\ntorch::Tensor kernel(torch::Tensor x) { return x; }\n```"
    assert new_source(cuda, None, "cuda").startswith("#include <torch/extension.h>")


def test_prose_without_code_is_a_format_error():
    with pytest.raises(FormatError, match="no triton code block and no SEARCH/REPLACE blocks"):
        new_source("I would use more warps.", PARENT_SOURCE, "triton")
    with pytest.raises(FormatError, match="no parent to edit"):
        new_source(EDIT_ANSWER, None, "triton")


def test_parse_edit_blocks_reads_marker_variants():
    text = "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n<<<<<<<< SEARCH\nc\n========\nd\n>>>>>>>> REPLACE\n"
    assert parse_edit_blocks(text) == [EditBlock("a\n", "b\n"), EditBlock("c\n", "d\n")]


def test_json_is_found_in_fences_prose_and_nesting():
    assert find_json_object('Sure!\n```json\n{"a": {"b": [1, 2]}}\n```') == {"a": {"b": [1, 2]}}
    assert find_json_object('my answer: {"a": "}{"} and {"b": 2}') == {"a": "}{"}
    assert find_json_object('{broken  then {"ok": true}') == {"ok": True}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("I think we should vectorize.", "no JSON object"),
        ('```json\n{"items": [{"idea": "vectorize", "predicted_eff', "no valid JSON object"),
        ('{"items": "vectorize"}', r"does not match Plan: items: Input should be a valid list"),
        ('{"notes": "forgot the items"}', r"does not match Plan: items: Field required"),
    ],
    ids=["empty", "prose", "truncated", "wrong-type", "missing-field"],
)
def test_unusable_json_says_what_was_wrong(text, why):
    with pytest.raises(FormatError, match=why):
        parse_model(text, Plan)


def test_overrides_fill_fields_the_caller_owns_and_the_schema_hides_them():
    verdict = parse_model('{"bottleneck": "dram", "source_hash": "forged"}', Verdict, {"source_hash": "abc"})
    assert verdict.source_hash == "abc" and verdict.bottleneck == "dram"
    assert "source_hash" not in schema_text(Verdict, exclude={"source_hash"})


def test_the_block_tagged_with_the_runs_language_wins_over_a_longer_compatible_one():
    cuda = "#include <ATen/ATen.h>\n__global__ void k() {}\n"
    cpp = "// a host-side sketch, longer than the kernel\n" * 5
    answer = f"```cpp\n{cpp}```\nThe kernel:\n```cuda\n{cuda}```\n"
    assert new_source(answer, None, "cuda") == cuda
    assert new_source(f"```cpp\n{cpp}```\n", None, "cuda") == cpp  # a compatible tag when nothing better


def test_a_longer_fence_holds_three_backtick_lines_and_an_unclosed_cut_block_is_refused():
    body = 'DOC = """\n```\nexample\n```\n"""\n' + PARENT_SOURCE
    assert new_source("````python\n" + body + "````\n", None, "triton") == body
    with pytest.raises(FormatError, match="never closes and its code is incomplete"):
        new_source("```python\ndef kernel(x, w", None, "triton")
    assert new_source("```python\n" + PARENT_SOURCE, None, "triton") == PARENT_SOURCE  # forgot the fence only


def test_a_search_matching_twice_ignoring_whitespace_names_both_lines():
    twice = "def f():\n    a = 1\n    b = 2\n\ndef g():\n  a = 1\n  b = 2\n"
    with pytest.raises(FormatError, match=r"edit block 1: .* 2 times \(at lines 2 and 6\)"):
        apply_edits(twice, [EditBlock("a = 1\nb = 2\n", "a = 3\n")])


def test_a_fence_line_inside_a_cuda_comment_does_not_cut_the_file():
    cuda = (
        "#include <ATen/ATen.h>\n__global__ void k(float* x) { x[0] = 1.0f; }\n/* usage:\n```\n"
        "kernel(x)\n```\n*/\nat::Tensor kernel(const at::Tensor& x) { return at::empty_like(x); }\n"
    )
    assert new_source(f"Rewritten.\n```cuda\n{cuda}```\nDone.\n", None, "cuda") == cuda
