"""Red-team attack: a generator's frame is reachable without any underscore name
(`gen.gi_frame.f_builtins`), which is the builtins dict: `__import__`, `getattr`, `open`... all by
string key. The candidate computes rmsnorm with plain torch, then empties the record of the active
TorchDispatchMode (the child's `OpRecorder`) before returning.
Expected: rejected (frame attributes are refused statically); never correct."""

import triton


def _frame_source():
    yield


BUILTINS = _frame_source().gi_frame.f_builtins
ATTR = BUILTINS["getattr"]
DISPATCH = BUILTINS["__import__"]("torch.utils._python_dispatch", fromlist=["x"])


@triton.jit
def _decoy(x_ptr):
    pass


def kernel(x, weight, eps):
    _decoy[(1,)](x)
    xf = ATTR(x, "float")()
    rstd = ATTR(ATTR(xf * xf, "mean")(-1, keepdim=True) + eps, "rsqrt")()
    out = ATTR(xf * rstd * ATTR(weight, "float")(), "to")(x.dtype)
    recorder = ATTR(DISPATCH, "_get_current_dispatch_mode")()
    if recorder is not None:  # None while the harness times the kernel: nobody records then
        recorder.forbidden.clear()
    return out
