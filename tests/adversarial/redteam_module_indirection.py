"""Red-team attack: the static check resolves attribute chains only when they start at an imported
name, so one assignment breaks the chain: `core = tl.core` is an allowed module, and `core.builtins`
(the builtins module that triton.language.core imported) is then just an attribute of a local name.
Through it: getattr/setattr/__import__. The candidate computes rmsnorm with plain torch, blinds the
aten recorder by replacing `aten_guard._called_by_candidate`, and forges its timings through
`timing._summary`. Its @triton.jit kernel is a decoy that does nothing.
Expected: rejected (forbidden-module-attribute or similar); never correct."""

import triton
import triton.language as tl

core = tl.core
BUILTINS = core.builtins
ATTR = BUILTINS.getattr
MODULES = core.typing.sys.modules
BUILTINS.setattr(MODULES["warpsmith.evaluator.aten_guard"], "_called_by_candidate", lambda: False)
TIMING = MODULES["importlib"].import_module("warpsmith.evaluator.timing")
BUILTINS.setattr(TIMING, "_summary", lambda samples: {"median_us": 0.123, "spread_us": 0.0})


@triton.jit
def _decoy(x_ptr):
    pass


def kernel(x, weight, eps):
    _decoy[(1,)](x)
    xf = ATTR(x, "float")()
    rstd = ATTR(ATTR(xf * xf, "mean")(-1, keepdim=True) + eps, "rsqrt")()
    return ATTR(xf * rstd * ATTR(weight, "float")(), "to")(x.dtype)
