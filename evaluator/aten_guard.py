"""Run-time torch-op guard, used in the child around the candidate's import and calls.

Owns: turning a task's allowed Python-level torch names ('empty', 'view', ...) into aten
op packets, an `OpRecorder` (a TorchDispatchMode) that refuses every aten op the
candidate itself tries outside that set (it records the op and raises `ForbiddenOp`
instead of running it), and filling fresh allocations with a poison byte. Does not own: deciding the verdict (the parent does, from what the child
reports) or the static rules (static_python.py).

Who executed an op is read from the Python stack: the first frame that is neither torch's
nor this module's decides. A frame inside the triton package is the launcher or the
interpreter copying arguments, one inside this package is the harness (both allowed; the
candidate's file lives in the sandbox's work directory, never here); anything else is the candidate (a grid lambda or
an autotune hook counts as the candidate too). An op on the meta device only (no data) is never refused. A native extension's own op is allowed by
its namespace; what it does inside is invisible here (the static text checks cover it).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_THIS_FILE = str(Path(__file__).resolve())
_EVALUATOR_DIR = str(Path(__file__).resolve().parent) + "/"
_TRITON_DIR: str | None
try:
    import triton

    _TRITON_DIR = str(Path(triton.__file__).resolve().parent)
except ImportError:  # a CUDA-only install: no triton frames can occur
    _TRITON_DIR = None

# One small call per allowed Python name, to learn which aten ops it dispatches on this build.
_EXAMPLES: dict[str, Callable[[torch.Tensor], Any]] = {
    "empty": lambda x: torch.empty(3, device=x.device),
    "empty_like": lambda x: torch.empty_like(x),
    "empty_strided": lambda x: torch.empty_strided((2, 2), (2, 1), device=x.device),
    "zeros": lambda x: torch.zeros(3, dtype=torch.int32, device=x.device),
    "zeros_like": lambda x: torch.zeros_like(x),
    "full": lambda x: torch.full((2,), 1.0, device=x.device),
    "full_like": lambda x: torch.full_like(x, 2.0),
    "view": lambda x: x.view(-1),
    "reshape": lambda x: (x.reshape(-1), x.t().reshape(-1)),
    "contiguous": lambda x: x.t().contiguous(),
    "new_empty": lambda x: x.new_empty(2),
    "new_zeros": lambda x: x.new_zeros(2),
    "flatten": lambda x: x.flatten(),
    "unsqueeze": lambda x: x.unsqueeze(0),
    "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "expand": lambda x: x.unsqueeze(0).expand(2, -1, -1),
    "as_strided": lambda x: x.as_strided((2,), (1,)),
    "t": lambda x: x.t(),
    "transpose": lambda x: x.transpose(0, 1),
}

FACTORY_PACKETS = frozenset(
    {"aten.empty", "aten.empty_like", "aten.empty_strided", "aten.new_empty", "aten.new_empty_strided",
     "aten.empty_permuted"}
)


class _Mode(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # True (torch's default) wraps __torch_dispatch__ in dynamo.disable, which imports
        # torch._dynamo: seconds per child. Candidates cannot reach torch.compile anyway.
        return False


class _Collect(_Mode):
    def __init__(self) -> None:
        super().__init__()
        self.packets: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.packets.add(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def allowed_aten_packets(python_names: Iterable[str], device: str) -> frozenset[str]:
    """aten packets ('aten.empty', ...) the allowed Python names dispatch on this torch build."""
    sample = torch.ones(4, 4, device=device)
    packets: set[str] = set()
    for name in python_names:
        if hasattr(torch.ops.aten, name):
            packets.add(f"aten.{name}")
        example = _EXAMPLES.get(name)
        if example is not None:
            with _Collect() as collect:
                example(sample)
            packets |= collect.packets
    return frozenset(packets)


def fill_storage(t: torch.Tensor, byte: int) -> None:
    """Overwrite every byte of `t`'s storage with `byte` (a poison pattern)."""
    storage = t.untyped_storage()
    if storage.nbytes():
        torch.empty(0, dtype=torch.uint8, device=t.device).set_(storage).fill_(byte)


def poison_cuda_cache(byte: int, device: str) -> None:
    """Fill the CUDA caching allocator's free blocks with `byte`, so memory a native kernel
    allocates and never writes shows the poison instead of an earlier result."""
    if not device.startswith("cuda"):
        return
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    free, _total = torch.cuda.mem_get_info()
    large = torch.empty(max(min(free // 4, 1 << 30), 1 << 20), dtype=torch.uint8, device=device)
    small = [torch.empty((1 << 20) - 512, dtype=torch.uint8, device=device) for _ in range(16)]
    for block in [large, *small]:
        block.fill_(byte)
    torch.cuda.synchronize()
    del large, small  # back to the allocator's cache, poisoned


class ForbiddenOp(BaseException):
    """Raised in place of an aten op the candidate may not run. A BaseException, so that code
    catching Exception (Triton's interpreter wraps kernel errors so) lets it through."""

    def __init__(self, packet: str) -> None:
        super().__init__(f"{packet} is not allowed for this task")
        self.packet = packet


class OpRecorder(_Mode):
    """Record aten ops the candidate runs that the task does not allow; poison fresh allocations."""

    def __init__(self, allowed: frozenset[str], allowed_namespaces: frozenset[str] = frozenset(),
                 poison_byte: int | None = None) -> None:
        super().__init__()
        self.allowed = allowed
        self.allowed_namespaces = allowed_namespaces
        self.poison_byte = poison_byte
        self.forbidden: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        packet = str(func.overloadpacket)
        namespace = packet.split(".", 1)[0]
        if packet not in self.allowed and namespace not in self.allowed_namespaces and not _only_meta(args, kwargs) \
                and _called_by_candidate():
            self.forbidden[packet] += 1
            raise ForbiddenOp(packet)  # the op never runs, so the answer cannot come from torch
        result = func(*args, **(kwargs or {}))
        if self.poison_byte is not None and packet in FACTORY_PACKETS and isinstance(result, torch.Tensor):
            fill_storage(result, self.poison_byte)
        return result


def _only_meta(args: Any, kwargs: Any) -> bool:
    """True when an op touches nothing but the meta device (shapes without data: a module-form
    candidate's class is built there, module_form.py): every tensor and device it names is meta, it
    names at least one, and it names no storage (which could tie a meta tensor to real memory)."""
    from torch.utils._pytree import tree_leaves

    leaves = tree_leaves((args, kwargs or {}))
    seen = False
    for leaf in leaves:
        if isinstance(leaf, (torch.UntypedStorage, torch.TypedStorage)):
            return False
        if isinstance(leaf, torch.Tensor):
            if leaf.device.type != "meta":
                return False
            seen = True
        elif isinstance(leaf, torch.device):
            if leaf.type != "meta":
                return False
            seen = True
    return seen


# Tensor methods that hand the data to Python without dispatching any aten op (so OpRecorder
# cannot see them): a candidate could compute the whole answer in Python from them.
DATA_EXTRACTION = frozenset({"tolist", "numpy", "__array__", "__float__", "__int__", "__index__", "__bool__",
                             "__complex__", "__reduce_ex__", "__dlpack__", "__array_interface__"})


class DataGuard(TorchFunctionMode):
    """Refuse (record in `recorder` and raise ForbiddenOp) tensor-to-Python data extraction by the candidate."""

    def __init__(self, recorder: OpRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = getattr(func, "__name__", "")
        if name in DATA_EXTRACTION and _called_by_candidate():
            label = f"torch.Tensor.{name}"
            self.recorder.forbidden[label] += 1
            raise ForbiddenOp(label)
        return func(*args, **(kwargs or {}))


def call_candidate(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The harness's way into the candidate's callable. An op whose first frame outside torch is this
    one ran with no frame of the candidate's own (its callable is torch's: `kernel = F.silu`, a forward
    that is a torch function), so it is the candidate's, not the harness's (red team 5)."""
    return fn(*args, **kwargs)


_CALL_CANDIDATE = call_candidate.__code__


def _called_by_candidate() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is _CALL_CANDIDATE:
            return True
        filename = frame.f_code.co_filename
        if filename.startswith(_TORCH_DIR) or filename == _THIS_FILE:
            frame = frame.f_back
            continue
        # The launcher/interpreter (triton) and the harness itself (this package: poisoning outputs
        # between timed calls) are not the candidate.
        internal = filename.startswith(_EVALUATOR_DIR) or (_TRITON_DIR is not None and filename.startswith(_TRITON_DIR))
        return not internal
    return True
