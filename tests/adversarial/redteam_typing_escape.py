"""Red-team attack: `typing` is an allowed import and the static check looks at attribute chains
only under torch and triton, so `typing.sys.modules` hands over every loaded module (builtins,
the harness itself). The candidate computes rmsnorm with plain torch, blinds the aten recorder by
replacing `aten_guard._called_by_candidate`, and forges its interpreter timings through
`timing._summary`. Its @triton.jit kernel is a decoy that does nothing.
Expected: rejected (forbidden-import / forbidden-module-attribute); never correct."""

import typing

import triton

MODULES = typing.sys.modules
BUILTINS = MODULES["builtins"]
ATTR = BUILTINS.getattr
BUILTINS.setattr(MODULES["warpsmith.evaluator.aten_guard"], "_called_by_candidate", lambda: False)
TIMING = MODULES["importlib"].import_module("warpsmith.evaluator.timing")
BUILTINS.setattr(TIMING, "_summary", lambda samples: {"median_us": 0.123, "spread_us": 0.0})


@triton.jit
def _decoy(x_ptr):
    pass


def kernel(x, weight, eps):
    _decoy[(1,)](x)
    xf = ATTR(x, "float")()
    rstd = ATTR(ATTR(ATTR(xf * xf, "mean")(-1, keepdim=True) + eps, "rsqrt")(), "float")()
    return ATTR(xf * rstd * ATTR(weight, "float")(), "to")(x.dtype)
