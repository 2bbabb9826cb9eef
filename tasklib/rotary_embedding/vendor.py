"""rotary_embedding's vendor kernel, adapted to kernel(positions, q, k, cos_sin_cache, head_size,
is_neox) -> (q_out, k_out).

Owns: the adapter. sgl-kernel rotates q and k in place on the same layout as this task (q[T, Hq*D],
k[T, Hk*D], cos_sin_cache[max_pos, rot_dim] float32, cos half first; partial rotary from the cache's
width): sgl_kernel/elementwise.py `apply_rope_with_cos_sin_cache_inplace(positions, query, key,
head_size, cos_sin_cache, is_neox)`. The timing process hands every call fresh copies, so the
rotated q and k are the outputs. vllm's `torch.ops._C.rotary_embedding` reads the cache in q's dtype
(bf16 here), so it would need a cast of the whole float32 cache per call, which is not its kernel's
time: not declared. Does not own: detection, checking or timing (warpsmith.evaluator.vendor_baselines).
"""

from __future__ import annotations

from typing import Any

from warpsmith.tasklib.vendors import VendorKernel


def _sgl_kernel() -> Any:
    import sgl_kernel

    def kernel(positions: Any, q: Any, k: Any, cache: Any, head_size: int, is_neox: bool) -> tuple[Any, Any]:
        sgl_kernel.apply_rope_with_cos_sin_cache_inplace(positions, q, k, head_size, cache, bool(is_neox))
        return q, k

    return kernel


VENDOR_KERNELS = [
    VendorKernel("sgl-kernel", "sgl_kernel", "sgl_kernel.apply_rope_with_cos_sin_cache_inplace", _sgl_kernel),
]
