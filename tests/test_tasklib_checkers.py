"""Each task's checker accepts the reference and legitimately different outputs, and refuses corruptions."""

from __future__ import annotations

import torch

from warpsmith.tasklib import get_task
from warpsmith.tasklib.checking import allclose_report

DISPATCH = get_task("moe_dispatch")
ALIGN = get_task("moe_align_block_size")
COMBINE = get_task("moe_combine")
RMSNORM = get_task("rmsnorm")


def _case(task, label_part: str, seed: int = 0):
    shape = next(s for s in task.shapes("check") if label_part in s.label)
    inputs = task.make_inputs(shape, seed)
    expected = task.reference(*inputs)
    return inputs, tuple(t.clone() for t in expected), expected


def _ok(task, inputs, outputs, expected) -> bool:
    return task.check(inputs, tuple(outputs), expected).ok


# --- moe_dispatch --------------------------------------------------------------------------


def _dispatch_rows(offsets: torch.Tensor) -> list[tuple[int, int]]:
    return [(int(offsets[e]), int(offsets[e + 1])) for e in range(offsets.numel() - 1)]


def _apply_row_permutation(outputs, perm: torch.Tensor):
    """Move rows: new row r holds old row perm[r]; inv_idx follows."""
    permuted, offsets, src, inv = outputs
    n = perm.numel()
    new_permuted, new_src = permuted.clone(), src.clone()
    new_permuted[:n] = permuted[perm]
    new_src[:n] = src[perm]
    new_inv = inv.clone().view(-1)
    new_inv[new_src[:n].long()] = torch.arange(n, dtype=torch.int32)
    return new_permuted, offsets.clone(), new_src, new_inv.view(inv.shape)


def test_dispatch_accepts_reference_and_another_order_within_each_expert() -> None:
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    assert _ok(DISPATCH, inputs, outputs, expected)
    perm = torch.cat([torch.arange(a, b).flip(0) for a, b in _dispatch_rows(expected[1])])
    reordered = _apply_row_permutation(outputs, perm)
    assert not torch.equal(reordered[2], expected[2]), "the test needs an expert with two or more rows"
    assert _ok(DISPATCH, inputs, reordered, expected)


def test_dispatch_ignores_rows_past_the_last_offset() -> None:
    inputs, outputs, expected = _case(DISPATCH, "ep8")
    n = int(expected[1][-1])
    assert n < outputs[0].shape[0], "expert parallelism drops pairs"
    outputs[0][n:] = 7.0
    outputs[2][n:] = 12345
    assert _ok(DISPATCH, inputs, outputs, expected)


def test_dispatch_refuses_a_row_swapped_across_experts() -> None:
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    rows = [(a, b) for a, b in _dispatch_rows(expected[1]) if b > a]
    perm = torch.arange(int(expected[1][-1]))
    perm[rows[0][0]], perm[rows[1][0]] = rows[1][0], rows[0][0]
    swapped = _apply_row_permutation(outputs, perm)  # self-consistent, but in the wrong experts
    report = DISPATCH.check(inputs, swapped, expected)
    assert not report.ok and "src_idx" in report.first_mismatch


def test_dispatch_refuses_an_off_by_one_offset() -> None:
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    outputs[1][3] += 1
    report = DISPATCH.check(inputs, outputs, expected)
    assert not report.ok and "expert_offsets" in report.first_mismatch


def test_dispatch_refuses_one_changed_element_and_nan() -> None:
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    changed = tuple(t.clone() for t in outputs)
    changed[0][5, 3] = changed[0][5, 3] * 2 + 1
    assert not _ok(DISPATCH, inputs, changed, expected)
    with_nan = tuple(t.clone() for t in outputs)
    with_nan[0][0, 0] = float("nan")
    assert not _ok(DISPATCH, inputs, with_nan, expected)


def test_dispatch_refuses_negative_zero_for_zero() -> None:
    """The copy is bitwise: -0.0 where the input holds 0.0 is a different value."""
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    hidden = inputs[0]
    hidden[int(expected[2][0]) // inputs[1].shape[1], 0] = 0.0
    expected = DISPATCH.reference(*inputs)
    outputs = tuple(t.clone() for t in expected)
    outputs[0][0, 0] = -0.0
    assert not _ok(DISPATCH, inputs, outputs, expected)


def test_dispatch_refuses_a_wrong_inverse_index() -> None:
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    flat = outputs[3].view(-1)
    flat[0], flat[1] = flat[1].item(), flat[0].item()
    report = DISPATCH.check(inputs, outputs, expected)
    assert not report.ok and "inv_idx" in report.first_mismatch


def test_dispatch_refuses_a_row_given_to_a_dropped_pair() -> None:
    inputs, outputs, expected = _case(DISPATCH, "ep8")
    hidden, topk_ids, num_experts = inputs
    k = topk_ids.shape[1]
    flat_ids = topk_ids.view(-1)
    dropped = int(((flat_ids < 0) | (flat_ids >= num_experts)).nonzero()[0])
    permuted, offsets, src, inv = outputs
    row = 0
    inv.view(-1)[src[row].long()] = -1
    src[row] = dropped
    inv.view(-1)[dropped] = row
    permuted[row] = hidden[dropped // k]
    assert not _ok(DISPATCH, inputs, outputs, expected)


def test_dispatch_refuses_a_dropped_pair_without_minus_one() -> None:
    inputs, outputs, expected = _case(DISPATCH, "ep4")
    flat_ids = inputs[1].view(-1)
    dropped = int(((flat_ids < 0) | (flat_ids >= inputs[2])).nonzero()[0])
    outputs[3].view(-1)[dropped] = 0
    assert not _ok(DISPATCH, inputs, outputs, expected)


def test_dispatch_reports_wrong_structure_without_crashing() -> None:
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    wrong_dtype = (outputs[0], outputs[1].to(torch.int32), outputs[2], outputs[3])
    assert "dtype" in DISPATCH.check(inputs, wrong_dtype, expected).first_mismatch
    wrong_shape = (outputs[0][:-1], *outputs[1:])
    assert "shape" in DISPATCH.check(inputs, wrong_shape, expected).first_mismatch
    assert not DISPATCH.check(inputs, outputs[:3], expected).ok
    assert not DISPATCH.check(inputs, (outputs[0], outputs[1], outputs[2], [1, 2]), expected).ok
    out_of_range = tuple(t.clone() for t in outputs)
    out_of_range[2][0] = 10**6
    assert not DISPATCH.check(inputs, out_of_range, expected).ok


# --- moe_align_block_size ---------------------------------------------------------------------


def test_align_reproduces_the_vllm_docstring_example() -> None:
    """vLLM's moe_align_block_size docstring: topk_ids [[2,3,4],[1,2,4],[1,3,4],[1,2,3]], block_size 4.

    The docstring says "num_experts = 4" counting the experts that receive tokens (ids 1..4); with
    ids up to 4 the kernel's num_experts is 5, and expert 0, with no tokens, gets no block.
    """
    topk_ids = torch.tensor([[2, 3, 4], [1, 2, 4], [1, 3, 4], [1, 2, 3]], dtype=torch.int32)
    sorted_ids, expert_ids, total = ALIGN.reference(topk_ids, 5, 4)
    assert total.tolist() == [16]
    assert sorted_ids[:16].tolist() == [3, 6, 9, 12, 0, 4, 10, 12, 1, 7, 11, 12, 2, 5, 8, 12]
    assert expert_ids[:4].tolist() == [1, 2, 3, 4]
    assert sorted_ids.numel() == 12 + 5 * 3 and expert_ids.numel() == (12 + 5 * 3) // 4
    inputs = (topk_ids, 5, 4)
    assert ALIGN.check(inputs, (sorted_ids, expert_ids, total), (sorted_ids, expert_ids, total)).ok


def _segments(expert_ids: torch.Tensor, total: int, block: int) -> list[tuple[int, int]]:
    blocks = expert_ids[: total // block].tolist()
    bounds, start = [], 0
    for b in range(1, len(blocks) + 1):
        if b == len(blocks) or blocks[b] != blocks[b - 1]:
            bounds.append((start * block, b * block))
            start = b
    return bounds


def test_align_accepts_another_order_within_segments_and_ignores_the_tail() -> None:
    inputs, outputs, expected = _case(ALIGN, "zipf")
    n = int(expected[2][0])
    for a, b in _segments(expected[1], n, inputs[2]):
        outputs[0][a:b] = outputs[0][a:b].flip(0)  # pads move to the front of each segment
    assert not torch.equal(outputs[0], expected[0])
    outputs[0][n:] = -5
    outputs[1][n // inputs[2]:] = 99
    assert _ok(ALIGN, inputs, outputs, expected)


def test_align_refuses_off_by_one_total_and_wrong_block_expert() -> None:
    inputs, outputs, expected = _case(ALIGN, "zipf")
    bad_total = (outputs[0], outputs[1], outputs[2] + 1)
    assert "num_tokens_post_pad" in ALIGN.check(inputs, bad_total, expected).first_mismatch
    outputs[1][1] += 1
    assert "expert_ids" in ALIGN.check(inputs, outputs, expected).first_mismatch


def test_align_refuses_a_sentinel_inside_a_segment_and_a_swap_across_experts() -> None:
    inputs, outputs, expected = _case(ALIGN, "zipf")
    sentinel = inputs[0].numel()
    with_sentinel = tuple(t.clone() for t in outputs)
    real = int((with_sentinel[0][: int(expected[2][0])] != sentinel).nonzero()[0])
    with_sentinel[0][real] = sentinel
    assert not _ok(ALIGN, inputs, with_sentinel, expected)
    segs = _segments(expected[1], int(expected[2][0]), inputs[2])
    swapped = tuple(t.clone() for t in outputs)
    a, b = segs[0][0], segs[1][0]
    swapped[0][a], swapped[0][b] = swapped[0][b].item(), swapped[0][a].item()
    assert not _ok(ALIGN, inputs, swapped, expected)


def test_align_skips_dropped_ids() -> None:
    for label in ("ep8", "ep4"):
        inputs, outputs, expected = _case(ALIGN, label)
        topk_ids, num_experts, _ = inputs
        valid = int(((topk_ids >= 0) & (topk_ids < num_experts)).sum())
        n = int(expected[2][0])
        real = expected[0][:n]
        assert int((real != topk_ids.numel()).sum()) == valid
        given_dropped = tuple(t.clone() for t in outputs)
        dropped = int(((topk_ids.view(-1) < 0) | (topk_ids.view(-1) >= num_experts)).nonzero()[0])
        given_dropped[0][int((real != topk_ids.numel()).nonzero()[0])] = dropped
        assert not _ok(ALIGN, inputs, given_dropped, expected)


# --- moe_combine and rmsnorm ------------------------------------------------------------------


def test_combine_tolerance_nan_and_dropped_pairs() -> None:
    inputs, outputs, expected = _case(COMBINE, "ep8")
    assert _ok(COMBINE, inputs, outputs, expected)
    nudged = (expected[0].float() * (1 + 4e-3)).to(torch.bfloat16)
    assert _ok(COMBINE, inputs, (nudged,), expected)
    changed = expected[0].clone()
    changed[2, 5] = changed[2, 5] * 1.5 + 1.0
    assert not _ok(COMBINE, inputs, (changed,), expected)
    nan = expected[0].clone()
    nan[0, 0] = float("nan")
    assert not _ok(COMBINE, inputs, (nan,), expected)
    # A kernel that treats -1 as "row -1" (the last row) instead of nothing is wrong.
    expert_out, weights, inv = inputs
    wrong = COMBINE.reference(expert_out, weights, torch.where(inv < 0, torch.full_like(inv, expert_out.shape[0] - 1), inv))
    assert not _ok(COMBINE, inputs, wrong, expected)


def test_rmsnorm_tolerance_nan_inf_and_structure() -> None:
    inputs, outputs, expected = _case(RMSNORM, "H=200")
    assert _ok(RMSNORM, inputs, outputs, expected)
    for bad in (float("nan"), float("inf")):
        out = expected[0].clone()
        out[3, 7] = bad
        report = RMSNORM.check(inputs, (out,), expected)
        assert not report.ok and "[3, 7]" in report.first_mismatch
    unscaled = (inputs[0].float() * torch.rsqrt(inputs[0].float().pow(2).mean(-1, keepdim=True) + inputs[2]))
    assert not _ok(RMSNORM, inputs, (unscaled.to(torch.bfloat16),), expected)  # forgot the weight
    assert "dtype" in RMSNORM.check(inputs, (expected[0].float(),), expected).first_mismatch
    assert "shape" in RMSNORM.check(inputs, (expected[0][:, :-1],), expected).first_mismatch


# --- one clause broken at a time (issue 15: each must be refused) -----------------------------------


def test_dispatch_refuses_a_wrong_first_offset_and_a_wrong_first_or_last_routed_row() -> None:
    inputs, outputs, expected = _case(DISPATCH, "zipf")
    first = tuple(t.clone() for t in outputs)
    first[1][0] = 1  # an inclusive scan's off-by-one shows only in offsets[0]
    assert "expert_offsets[0]" in DISPATCH.check(inputs, first, expected).first_mismatch
    last = tuple(t.clone() for t in outputs)
    last[1][-1] += 1  # claims one more row than there are pairs
    assert "expert_offsets" in DISPATCH.check(inputs, last, expected).first_mismatch
    n = int(expected[1][-1])
    for row in (0, n - 1):
        changed = tuple(t.clone() for t in outputs)
        changed[0][row, -1] = changed[0][row, -1] + 1
        report = DISPATCH.check(inputs, changed, expected)
        assert not report.ok and f"permuted[{row}]" in report.first_mismatch


def test_dispatch_refuses_a_pair_written_twice_in_its_expert() -> None:
    inputs, outputs, expected = _case(DISPATCH, "hot")
    a, b = next((a, b) for a, b in _dispatch_rows(expected[1]) if b - a >= 2)
    permuted, offsets, src, inv = outputs
    src[a + 1], permuted[a + 1] = src[a], permuted[a]  # a duplicate in place of another pair of the expert
    assert not _ok(DISPATCH, inputs, (permuted, offsets, src, inv), expected)


def _align_case(label: str = "zipf"):
    inputs, outputs, expected = _case(ALIGN, label)
    n, block, sentinel = int(expected[2][0]), inputs[2], inputs[0].numel()
    return inputs, outputs, expected, n, block, sentinel


def test_align_refuses_a_sentinel_spelled_as_another_large_value() -> None:
    inputs, outputs, expected, n, _, sentinel = _align_case()
    pad = int((outputs[0][:n] == sentinel).nonzero()[0])
    for spelled in (sentinel + 5, 2**31 - 1):
        wrong = tuple(t.clone() for t in outputs)
        wrong[0][pad] = spelled
        assert not _ok(ALIGN, inputs, wrong, expected), spelled


def test_align_refuses_a_pair_duplicated_over_a_pad_slot() -> None:
    inputs, outputs, expected, n, block, sentinel = _align_case()
    for a, b in _segments(expected[1], n, block):
        seg = outputs[0][a:b]
        if bool((seg == sentinel).any()) and bool((seg != sentinel).any()):
            pad, real = int((seg == sentinel).nonzero()[0]), int((seg != sentinel).nonzero()[0])
            outputs[0][a + pad] = seg[real]  # same set of values in the segment, different multiset
            break
    assert not _ok(ALIGN, inputs, outputs, expected)


def test_align_refuses_a_wrong_last_block_expert_and_wider_integers() -> None:
    inputs, outputs, expected, n, block, _ = _align_case()
    last = tuple(t.clone() for t in outputs)
    last[1][n // block - 1] -= 1
    assert "expert_ids" in ALIGN.check(inputs, last, expected).first_mismatch
    wide = (outputs[0], outputs[1].long(), outputs[2])
    assert "dtype" in ALIGN.check(inputs, wide, expected).first_mismatch


def test_tolerances_are_the_contracts() -> None:
    for task, label in ((RMSNORM, "H=200"), (COMBINE, "zipf")):
        inputs, outputs, expected = _case(task, label)
        off = (expected[0].float() * 1.03 + 0.025).to(torch.bfloat16)  # outside 1e-2 and 2e-2, inside 5e-2
        assert not _ok(task, inputs, (off,), expected), task.name
    exp32 = torch.linspace(-2, 2, 9)
    assert allclose_report("o", exp32 * (1 + 5e-5), exp32).ok
    assert not allclose_report("o", exp32 * (1 + 5e-4), exp32).ok
    assert not allclose_report("o", exp32 * (1 + 2e-4), exp32).ok  # at |2|: 4e-4 > atol + rtol * 2
    last = exp32.clone()
    last[-1] += 1.0
    assert "o[8]" in allclose_report("o", last, exp32).first_mismatch


def test_infinities_compare_as_values_and_nan_never_passes() -> None:
    inf = float("inf")
    expected = torch.tensor([1.0, inf, -inf], dtype=torch.bfloat16)
    assert allclose_report("o", expected.clone(), expected).ok
    for wrong in ([1.0, 3.0e38, -inf], [1.0, inf, inf], [1.0, inf, -1.0e4], [inf, inf, -inf]):
        assert not allclose_report("o", torch.tensor(wrong, dtype=torch.bfloat16), expected).ok, wrong
    nan = torch.tensor([float("nan")])
    assert not allclose_report("o", nan, nan).ok
