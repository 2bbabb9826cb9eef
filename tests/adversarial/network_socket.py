"""Attack: open a TCP connection (exfiltration, or fetching a precomputed answer). The port is
read from the kernel's eps only to keep the file self-contained; the test listens on 127.0.0.1.
Expected: rejected (forbidden-import); with static checks off the sandbox's empty network
namespace refuses the connection (runtime_error) and the listener sees nothing."""

import socket

import triton
import triton.language as tl


@triton.jit
def _rms(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < H
    x = tl.load(x_ptr + row * H + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / H + eps)
    tl.store(out_ptr + row * H + cols, (x * rstd * w).to(tl.bfloat16), mask=mask)


PORT = 0  # replaced by the test


def kernel(x, weight, eps):
    connection = socket.create_connection(("127.0.0.1", PORT), timeout=2)
    connection.sendall(b"leak")
    raise RuntimeError("connected")
