"""Attack on large trials (run with the static checks off: threads, os): return garbage, and from a
background thread write the right answer into the returned tensor as soon as the harness has
committed to its digests (before the parent names the leaves it wants): the leaves sent back are right,
but they are not what was committed. With REWRITE_COMMIT, once the leaves are named the thread also
rewrites the commitment file in place (same inode) with the digests of the right answer, hoping the
parent reads the commitment through a memory map.
Expected: rejected (sampled-commitment-mismatch), or incorrect when the thread loses the race; never correct."""

import os
import threading
import time

import torch
import triton
import triton.language as tl

REWRITE_COMMIT = False


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


PENDING = []


def _forge(name, good):
    from warpsmith.evaluator import leaf_digest

    fake = {"outputs": [{"dtype": str(good.dtype), "shape": list(good.shape), "aliases_input": False,
                         "leaves": torch.frombuffer(bytearray(leaf_digest.leaf_digests(good)), dtype=torch.uint8)}],
            "inputs_after": torch.load(name, weights_only=True)["inputs_after"]}
    import io

    buffer = io.BytesIO()
    torch.save(fake, buffer)
    with open(name, "r+b") as handle:  # in place: the same inode a memory map would show
        handle.write(buffer.getvalue())
        handle.truncate()


def _watch():
    seen = set()
    while True:
        for name in sorted(os.listdir(".")):
            if name.startswith("commit_") and name not in seen and PENDING:
                seen.add(name)
                out, good = PENDING.pop(0)
                out.copy_(good)  # the right answer, only after the digests were committed
                if REWRITE_COMMIT:
                    reveal = "reveal_" + name.removeprefix("commit_").removesuffix(".pt") + ".json"
                    while not os.path.exists(reveal):
                        time.sleep(0.00001)
                    _forge(name, good)
        time.sleep(0.00001)


threading.Thread(target=_watch, daemon=True).start()


def kernel(x):
    good = torch.empty_like(x)
    n = x.numel()
    _swish[(triton.cdiv(n, 4096),)](x, good, n, BLOCK=4096)
    out = torch.zeros_like(x)
    PENDING.append((out, good))
    return out
