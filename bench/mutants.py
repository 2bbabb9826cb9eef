"""Hand-made mutants of the correctness core, for bench/mutation.py.

Each mutant is one exact snippet replaced in one file: the kind of slip that would let a wrong
kernel be judged `correct` (or an honest one refused) while the code still runs. The classes follow
issue 15: comparing only the first output, accepting extra outputs, sets instead of multisets, the
last routed row or expert_offsets[0] never checked, any value >= T*k taken as the pad sentinel,
tensor subclasses accepted, the structure check skipping dtype or device, check shapes from one
distribution, plus tolerances, clause coverage of the check shapes, the trial plan and the child's
report. A mutant whose old snippet no longer occurs exactly once stops the tool (update it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: int
    file: str
    old: str
    new: str
    why: str


CHECKING = "tasklib/checking.py"
COMMON = "tasklib/moe_common.py"
ROUTING = "tasklib/routing.py"
BASE = "tasklib/base.py"
DISPATCH = "tasklib/moe_dispatch/__init__.py"
ALIGN = "tasklib/moe_align_block_size/__init__.py"
COMBINE = "tasklib/moe_combine/__init__.py"
RMSNORM = "tasklib/rmsnorm/__init__.py"
CORRECTNESS = "evaluator/correctness.py"
ANTICHEAT = "evaluator/anticheat.py"
CHILD_REPORT = "evaluator/child_report.py"
TENSORS_IO = "evaluator/tensors_io.py"

_RAW: list[tuple[str, str, str, str]] = [
    # --- tasklib/checking.py ---------------------------------------------------------------------
    (CHECKING, "if len(got) != len(expected):", "if len(got) < len(expected):",
     "structure: extra outputs accepted"),
    (CHECKING, "for name, out, exp in zip(names, got, expected, strict=False):",
     "for name, out, exp in zip(names[:1], got[:1], expected[:1], strict=False):",
     "structure: only the first output's type, shape and dtype checked"),
    (CHECKING, "        if out.dtype != exp.dtype:\n            return f\"{name}: dtype",
     "        if False:\n            return f\"{name}: dtype", "structure: dtype not checked"),
    (CHECKING, "        if tuple(out.shape) != tuple(exp.shape):\n            return f\"{name}: shape",
     "        if out.numel() != exp.numel():\n            return f\"{name}: shape",
     "structure: a reshaped output of the right size accepted"),
    (CHECKING, "        if not isinstance(out, torch.Tensor):", "        if not hasattr(out, \"shape\"):",
     "structure: anything with a .shape (numpy arrays) taken for a tensor"),
    (CHECKING, "    torch.bfloat16: 1e-2,", "    torch.bfloat16: 5e-2,", "tolerance: bf16 five times looser"),
    (CHECKING, "    torch.float32: 1e-4,", "    torch.float32: 1e-3,", "tolerance: fp32 ten times looser"),
    (CHECKING, "        return 0.0\n", "        return 0.5\n", "tolerance: integers compared with slack"),
    (CHECKING, "diff <= tol + tol * exp.abs())", "diff <= tol + 2 * tol * exp.abs())", "allclose: rtol doubled"),
    (CHECKING, "    bad = ~close | torch.isnan(act) | (torch.isinf(act) & ~infinite)\n",
     "    bad = (~close | torch.isnan(act) | (torch.isinf(act) & ~infinite)).flatten()[:-1]\n",
     "allclose: the last element never compared"),
    (CHECKING, "    close = torch.where(infinite, act == exp, diff <= tol + tol * exp.abs())",
     "    close = diff <= tol + tol * exp.abs()", "allclose: a finite output passes where the reference holds inf"),
    (CHECKING, "    close = torch.where(infinite, act == exp, diff <= tol + tol * exp.abs())",
     "    close = torch.where(infinite, act.abs() == exp.abs(), diff <= tol + tol * exp.abs())",
     "allclose: the sign of an infinity ignored"),
    (CHECKING, "for n, o, e in zip(names, as_outputs(outputs), expected, strict=True)]",
     "for n, o, e in zip(names[:1], as_outputs(outputs)[:1], expected[:1], strict=True)]",
     "allclose_outputs: only the first output compared"),
    (CHECKING, "    differs = act.long() != expected.long()", "    differs = act.long()[1:] != expected.long()[1:]",
     "exact: element 0 never compared (expert_offsets[0], the first expert id)"),
    (CHECKING, "    differs = act.long() != expected.long()", "    differs = act.long()[:-1] != expected.long()[:-1]",
     "exact: the last element never compared"),
    (CHECKING, "    differs = (row_bytes != exp_bytes).any(dim=1)",
     "    differs = (row_bytes[:-1] != exp_bytes[:-1]).any(dim=1)", "bitwise: the last row never compared"),
    (CHECKING, "    differs = (row_bytes != exp_bytes).any(dim=1)",
     "    differs = (act.reshape(act.shape[0], -1).float() != exp.reshape(exp.shape[0], -1).float()).any(dim=1)",
     "bitwise: values compared instead of bits (-0.0 for 0.0 passes)"),
    (CHECKING, "    return CheckReport(ok=False, first_mismatch=first_mismatch",
     "    return CheckReport(ok=not details, first_mismatch=first_mismatch", "failed(): a report without details passes"),
    # --- tasklib/moe_common.py ---------------------------------------------------------------------
    (COMMON, "    valid = (flat >= 0) & (flat < num_experts)", "    valid = (flat >= 0) & (flat <= num_experts)",
     "reference: id == num_experts kept"),
    (COMMON, "    valid = (flat >= 0) & (flat < num_experts)", "    valid = flat < num_experts",
     "reference: negative ids kept"),
    (COMMON, "    differs = act_keys != exp_keys\n    if not bool(differs.any()):",
     "    differs = act_keys != exp_keys\n    if set(act_keys.tolist()) == set(exp_keys.tolist()):",
     "multiset: sets compared (duplicates accepted)"),
    (COMMON, "    segment = torch.repeat_interleave(torch.arange(seg_lengths.numel(), device=exp.device), seg_lengths.to(exp.device))",
     "    segment = torch.zeros(exp.numel(), dtype=torch.long, device=exp.device)",
     "multiset: segments ignored (a pair in the wrong expert accepted)"),
    (COMMON, "    if ep > 1:\n        ids = expert_parallel_view", "    if ep > 8:\n        ids = expert_parallel_view",
     "inputs: expert-parallel shapes never drop ids"),
    # --- tasklib/routing.py ---------------------------------------------------------------------
    (ROUTING, "        return _both_sides(shifted, is_local, local, num_experts, generator).to(torch.int32)",
     "        return shifted.to(torch.int32)", "inputs: whether both sides of out-of-range ids appear left to the seed"),
    (ROUTING, "    if not bool((out < -1).any()):", "    if not bool((out < 0).any()):",
     "inputs: -1 may be the only negative out-of-range id"),
    (ROUTING, "        _move_one(out, spare, num_experts, generator)", "        _move_one(out, spare, 0, generator)",
     "inputs: ids >= the local count not forced"),
    (ROUTING, "num_experts, generator, MIN_DROPPED)", "num_experts, generator, 0)",
     "inputs: an expert-parallel view may drop nothing"),
    # --- tasklib/base.py ---------------------------------------------------------------------------
    (BASE, "        if distribution is None:\n            return DISTRIBUTIONS[seed % len(DISTRIBUTIONS)]",
     "        if True:\n            return DISTRIBUTIONS[seed % len(DISTRIBUTIONS)]",
     "inputs: the requested distribution ignored"),
    (BASE, "        return allclose_outputs(self.output_names, outputs, expected)",
     "        return allclose_outputs(self.output_names, outputs, expected, tol=5e-2)",
     "default check: a looser tolerance than the dtype's"),
    # --- moe_dispatch ------------------------------------------------------------------------------
    (DISPATCH, "        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:",
     "        if False:", "dispatch: structure (dtype, count) not checked"),
    (DISPATCH, "exact_mismatch(\"expert_offsets\", offsets, exp_offsets)",
     "exact_mismatch(\"expert_offsets\", offsets[1:], exp_offsets[1:])", "dispatch: expert_offsets[0] never checked"),
    (DISPATCH, "exact_mismatch(\"expert_offsets\", offsets, exp_offsets)",
     "exact_mismatch(\"expert_offsets\", offsets[:-1], exp_offsets[:-1])", "dispatch: expert_offsets[E] never checked"),
    (DISPATCH, "bitwise_mismatch(\"permuted\", permuted[:n], rows)",
     "bitwise_mismatch(\"permuted\", permuted[:n - 1], rows[:-1])", "dispatch: the last routed row never checked"),
    (DISPATCH, "bitwise_mismatch(\"permuted\", permuted[:n], rows)",
     "bitwise_mismatch(\"permuted\", permuted[1:n], rows[1:])", "dispatch: the first routed row never checked"),
    (DISPATCH, "        rows = hidden.to(permuted.device)[src.long() // k]",
     "        rows = permuted[:n]", "dispatch: permuted never compared with hidden_states"),
    (DISPATCH, "exact_mismatch(\"inv_idx\", inv_idx.reshape(-1), want_inv)",
     "exact_mismatch(\"inv_idx\", inv_idx.reshape(-1)[src.long()], want_inv[src.long()])",
     "dispatch: inv_idx of dropped pairs never checked"),
    (DISPATCH, "expected[2][:n], torch.diff(exp_offsets), topk_ids.numel() - 1)",
     "expected[2][:n], torch.diff(exp_offsets).sum().view(1), topk_ids.numel() - 1)",
     "dispatch: src_idx compared as one multiset (experts mixed)"),
    (DISPATCH, "                moe_shape(\"T=1 E=8 k=2 H=96\", 1, 2, 8, H=96),",
     "                moe_shape(\"T=1 E=8 k=2 H=96\", 2, 2, 8, H=96),", "dispatch: no T=1 check shape"),
    (DISPATCH, "                          dropped=\"out_of_range\"),", "                          dropped=\"minus_one\"),",
     "dispatch: no out-of-range ids in the check suite"),
    (DISPATCH, "        valid, tokens = actual_local_work(topk_ids, num_experts)",
     "        valid, tokens = expected_local_work(shape)", "dispatch cost_of: the expectation, not the inputs' routing"),
    (DISPATCH, "        dist = self.pick_distribution(seed, distribution)",
     "        dist = self.pick_distribution(seed, None)", "dispatch: the trial's distribution ignored"),
    # --- moe_align_block_size ----------------------------------------------------------------------
    (ALIGN, "        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:",
     "        if False:", "align: structure (dtype, count) not checked"),
    (ALIGN, "exact_mismatch(\"expert_ids\", expert_ids[:num_blocks], expected[1][:num_blocks])",
     "exact_mismatch(\"expert_ids\", expert_ids[:num_blocks - 1], expected[1][:num_blocks - 1])",
     "align: the last block's expert id never checked"),
    (ALIGN, "            \"sorted_token_ids\", sorted_ids[:n], expected[0][:n], seg_lengths, topk_ids.numel()",
     "            \"sorted_token_ids\", sorted_ids[:n].clamp_max(topk_ids.numel()), expected[0][:n], seg_lengths, topk_ids.numel()",
     "align: any value >= T*k taken as the pad sentinel"),
    (ALIGN, "        seg_lengths = torch.bincount(block_experts, minlength=num_experts) * block_size",
     "        seg_lengths = torch.tensor([n])", "align: one multiset over all experts (a pair in the wrong expert passes)"),
    (ALIGN, "exact_mismatch(\"num_tokens_post_pad\", total, expected[2])",
     "exact_mismatch(\"num_tokens_post_pad\", total[:0], expected[2][:0])", "align: the padded total never checked"),
    (ALIGN, "                _align_shape(\"ep4 T=16 E=32 k=4 (out-of-range ids)\", 16, 4, 32, 8, ep=4, dropped=\"out_of_range\"),",
     "                _align_shape(\"ep4 T=16 E=32 k=4 (out-of-range ids)\", 16, 4, 32, 8, ep=4),",
     "align: no out-of-range ids in the check suite"),
    # --- moe_combine -------------------------------------------------------------------------------
    (COMBINE, "        return allclose_outputs(self.output_names, outputs, expected, tol=TOLERANCE)",
     "        return allclose_outputs(self.output_names, outputs, expected, tol=10 * TOLERANCE)",
     "combine: tolerance ten times looser"),
    (COMBINE, "        routed = inv_idx >= 0", "        routed = inv_idx >= -1",
     "combine reference: dropped pairs add row 0"),
    (COMBINE, "        dist = self.pick_distribution(seed, distribution)",
     "        dist = self.pick_distribution(seed, None)", "combine: the trial's distribution ignored"),
    # --- rmsnorm -----------------------------------------------------------------------------------
    (RMSNORM, "        rstd = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps)",
     "        rstd = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + 1e-6)", "rmsnorm reference: eps ignored"),
    (RMSNORM, "        dist = self.pick_distribution(seed, distribution)",
     "        dist = self.pick_distribution(seed, None)", "rmsnorm: the trial's distribution ignored"),
    (RMSNORM, "                _shape(\"T=3 H=96 eps=mean(x^2)\", 3, 96, 1.0, relative=True),",
     "                _shape(\"T=3 H=96 eps=mean(x^2)\", 3, 96),", "rmsnorm: no check shape where eps matters"),
    (RMSNORM, "        if shape.options.get(\"eps\") == EPS_TIMES_MEAN_SQUARE:", "        if False:",
     "rmsnorm: a fixed eps of 1.0 (negligible for large values)"),
    # --- evaluator/correctness.py --------------------------------------------------------------------
    (CORRECTNESS, "            distribution = DISTRIBUTIONS[(shape_index + j) % len(DISTRIBUTIONS)]",
     "            distribution = DISTRIBUTIONS[shape_index % len(DISTRIBUTIONS)]",
     "plan: each shape always drawn from one distribution"),
    (CORRECTNESS, "            seed = (secret + shape_index * SEED_STRIDE + base) % (2**31)",
     "            seed = (shape_index * SEED_STRIDE + base) % (2**31)", "plan: seeds without the secret"),
    (CORRECTNESS, "    if suite in (\"check\", \"bench\"):", "    if suite == \"bench\":",
     "plan: the check suite runs smoke shapes only"),
    (CORRECTNESS, "        groups += [(\"check\", shape, len(DISTRIBUTIONS)) for shape in task.shapes(\"check\")]",
     "        groups += [(\"check\", shape, 1) for shape in task.shapes(\"check\")]",
     "plan: one trial per check shape (the secret picks which distribution)"),
    (CORRECTNESS, "            if isinstance(out, str) or type(out) is not torch.Tensor:",
     "            if isinstance(out, str) or not isinstance(out, torch.Tensor):",
     "verify: tensor subclasses accepted as outputs"),
    (CORRECTNESS, "            if not tensors_io.values_equal(before, after):", "            if False:",
     "verify: a mutated input goes unnoticed"),
    (CORRECTNESS, "            elif tensors_io.shares_storage(out, args_after):", "            elif False:",
     "verify: an output aliasing an input accepted"),
    (CORRECTNESS, "            elif tag == \"b\" and tensors_io.shares_storage(out, list(saved[\"out_a\"])):",
     "            elif False:", "verify: the second call may return the first call's memory"),
    (CORRECTNESS, "    for tag, poison in ((\"a\", \"0xFF\"), (\"b\", \"0x7F\")):",
     "    for tag, poison in ((\"a\", \"0xFF\"),):", "verify: the second (0x7F-poisoned) call never judged"),
    (CORRECTNESS, "        if out.dtype != ref.dtype:\n            return f\"{name}: dtype",
     "        if False:\n            return f\"{name}: dtype", "verify: structure check skips dtype"),
    (TENSORS_IO, "    if t.device.type != device_type:", "    if False:",
     "verify: an output on another device accepted (tensors_io.layout_problem)"),
    (CORRECTNESS, "    if len(outputs) != len(expected):\n        return f\"returned",
     "    if len(outputs) < len(expected):\n        return f\"returned", "verify: extra outputs accepted"),
    (CORRECTNESS, "    if any(type(o) is not torch.Tensor for o in outputs):",
     "    if not all(isinstance(o, torch.Tensor) for o in outputs):", "verify_outputs: tensor subclasses accepted"),
    (CORRECTNESS, "    return None if report.ok else (report.details", "    return None if True else (report.details",
     "verify_outputs: timed outputs never judged"),
    # --- evaluator/anticheat.py ----------------------------------------------------------------------
    (ANTICHEAT, "    if forbidden_ops:\n", "    if len(forbidden_ops) > 1:\n",
     "runtime: a single forbidden op goes unreported"),
    (ANTICHEAT, "FLOOR_REJECT_FRACTION = 0.5", "FLOOR_REJECT_FRACTION = 0.25", "floor: rejects only below a quarter"),
    # --- evaluator/child_report.py --------------------------------------------------------------------
    (CHILD_REPORT, "    outputs_file: str = Field(pattern=r\"^outputs_\\d+\\.pt$\")",
     "    outputs_file: str = Field(pattern=r\"outputs_\\d+\\.pt$\")", "report: a path before outputs_N.pt accepted"),
    (CHILD_REPORT, "    if len(saved[\"args_after_a\"]) != input_count or len(saved[\"args_after_b\"]) != input_count:",
     "    if len(saved[\"args_after_a\"]) != input_count:", "trial file: the second call's inputs not counted"),
    (CHILD_REPORT, "    if not all(isinstance(saved[k], list) for k in TRIAL_FILE_KEYS):", "    if False:",
     "trial file: non-list entries accepted"),
    (CHILD_REPORT, "    model_config = ConfigDict(extra=\"forbid\")", "    model_config = ConfigDict(extra=\"ignore\")",
     "report: unknown keys (a forged timings list claiming cuda_events) accepted"),
]

MUTANTS: list[Mutant] = [Mutant(i + 1, *entry) for i, entry in enumerate(_RAW)]
