"""A KernelBench problem as a task, in functional form.

Owns: `KernelBenchTask` and `load_kernelbench` / `kernelbench_task_from_spec`. The functional form:
kernel(*forward_inputs, *parameters_and_buffers) -> Model.forward's outputs, where the parameters and
buffers of Model(*get_init_inputs()) (named_parameters, then named_buffers, by name with dots as
underscores) are explicit inputs the trusted parent draws from the trial's secret seed. A candidate
may instead define KernelBench's `class ModelNew(nn.Module)`: the harness builds it and loads the
parent's tensors into it by name, strictly (evaluator/module_form.py).

Inputs: get_inputs() and Model's own initialisation run on the target device under the trial's seed
(inputs are made on the device, never written by this module), then each float tensor is rescaled
by the trial's distribution: `normal` keeps the problem's own draw; `uniform` scales it; `offset_scaled`
scales it and, for signed draws, offsets it (a memcpy "LayerNorm" then misses by the offset);
`heavy_tailed` scales it up. Float parameters are perturbed (x * U(0.5, 1.5) + noise; nonnegative
buffers such as running variances only scaled), so a LayerNorm's weight of ones or a bias of zeros
is never the value a candidate that drops it would need. Integer tensors keep the problem's values.
Suites: `bench` is the problem's own sizes; `smoke` and `check` scale its size constants down
(kernelbench.scaled_constants); `check` also makes them odd where the problem allows.
Tolerance: atol = rtol = 1e-2 for float outputs unless the spec says otherwise (KernelBench's own).
Cost: the bytes of every input, parameter and output (a lower bound for memory-bound problems);
flops unknown (0): fraction-of-floor numbers for compute-bound problems are not derived.
Does not own: reading and scaling problem files (kernelbench.py).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import torch

from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.base import BASE_ALLOWED_TORCH_OPS, Cost, Shape, Suite, Task
from warpsmith.tasklib.checking import ElementwiseChecked
from warpsmith.tasklib.kernelbench import (
    KernelBenchError,
    input_key,
    problem_namespace,
    problem_number,
    scaled_constants,
    size_constants,
    trace_meta,
)

DEFAULT_TOLERANCE = 1e-2
# Random initialisation a ModelNew's __init__ may call (built on the meta device; values are the evaluator's).
INIT_OPS = frozenset({"randn", "rand", "ones", "ones_like", "randn_like", "rand_like"})


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _dims(t: torch.Tensor) -> str:
    return f"[{','.join(str(d) for d in t.shape)}] {str(t.dtype).removeprefix('torch.')}"


class KernelBenchTask(ElementwiseChecked, Task):
    """One KernelBench problem file; see the module docstring."""

    problem_source: str
    constants_by_suite: dict[str, list[dict[str, int]]]
    n_forward: int
    param_names: tuple[str, ...]
    tolerance: float = DEFAULT_TOLERANCE
    module_class: str | None = "ModelNew"
    require_launch: bool = True

    def shapes(self, suite: Suite) -> list[Shape]:
        if suite not in self.constants_by_suite:
            raise ValueError(f"unknown suite {suite!r}")
        original = size_constants(self.problem_source)
        shapes = []
        for constants in self.constants_by_suite[suite]:
            changed = [f"{k}={v}" for k, v in constants.items() if v != original.get(k)] or ["as written"]
            shapes.append(Shape(label=f"{suite} {' '.join(changed)}", dims=dict(constants)))
        return shapes

    def _constants(self, shape: Shape) -> dict[str, int]:
        return {k: int(v) for k, v in shape.dims.items()}

    def make_inputs(self, shape: Shape, seed: int, device: str | torch.device = "cpu",
                    distribution: str | None = None) -> tuple[Any, ...]:
        namespace = problem_namespace(self.problem_source, self._constants(shape))
        device = torch.device(device)
        dist = self.pick_distribution(seed, distribution)
        knobs = torch.rand(8, generator=torch.Generator().manual_seed(seed * 7 + 3)).tolist()
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.device(device), torch.no_grad():
            torch.manual_seed(seed)
            raw = tuple(namespace["get_inputs"]())
            model = namespace["Model"](*namespace["get_init_inputs"]())
            inputs = tuple(_rescale(v, dist, knobs) for v in raw)
            buffers = {n for n, _ in model.named_buffers()}
            named = [*model.named_parameters(), *model.named_buffers()]
            params = tuple(_perturb(t.detach(), n in buffers) for n, t in named)
        return (*inputs, *params)

    def reference(self, *inputs: Any) -> tuple[torch.Tensor, ...]:
        forward, tensors = inputs[: self.n_forward], inputs[self.n_forward:]
        model = _module_for(self, inputs)
        # clones: a training-mode BatchNorm updates its running stats in place, never the inputs
        state = {n: t.clone() for n, t in zip(self.param_names, tensors, strict=True)}
        with torch.no_grad():
            out = torch.func.functional_call(model, state, tuple(forward), strict=True)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    def constants_for(self, inputs: tuple[Any, ...]) -> dict[str, int]:
        """The size constants of the shape these inputs were made for."""
        key = input_key(inputs)
        for suite in ("smoke", "check", "bench"):
            for constants in self.constants_by_suite[suite]:
                trace = trace_meta(self.problem_source, constants)
                if input_key((*trace.inputs, *[t for _, t in trace.params])) == key:
                    return constants
        raise ValueError(f"inputs {key} match none of the task's shapes")

    def cost(self, shape: Shape) -> Cost:
        trace = trace_meta(self.problem_source, self._constants(shape))
        tensors = [*[v for v in trace.inputs if isinstance(v, torch.Tensor)], *[t for _, t in trace.params],
                   *trace.outputs]
        return Cost(bytes=sum(t.numel() * t.element_size() for t in tensors))

    def module_form(self, shapes: list[Shape]) -> dict[str, Any] | None:
        init: list[list[Any]] = []
        for shape in shapes:
            trace = trace_meta(self.problem_source, self._constants(shape))
            init.append([input_key((*trace.inputs, *[t for _, t in trace.params])), list(trace.init_inputs)])
        return {"class_name": self.module_class, "n_inputs": self.n_forward, "param_names": list(self.param_names),
                "init_inputs": init}


_MODULES: dict[tuple[str, str, str], torch.nn.Module] = {}


@torch.compiler.disable  # torch.compile of the reference compiles the forward, not this lookup
def _module_for(task: KernelBenchTask, inputs: tuple[Any, ...]) -> torch.nn.Module:
    """Model(*get_init_inputs()) for these inputs' sizes, as a container only (every parameter and buffer
    is replaced by the inputs): built on the meta device, or on the inputs' device when it keeps a plain
    tensor attribute that forward reads. Cached per problem, sizes and device."""
    device = next((t.device for t in inputs if isinstance(t, torch.Tensor)), torch.device("cpu"))
    key = (task.problem_source, input_key(inputs), str(device))
    if key not in _MODULES:
        namespace = problem_namespace(task.problem_source, task.constants_for(inputs))
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            model = namespace["Model"](*namespace["get_init_inputs"]())
        if any(isinstance(v, torch.Tensor) for m in model.modules() for v in vars(m).values()):
            with torch.random.fork_rng(devices=[]), torch.device(device):
                model = namespace["Model"](*namespace["get_init_inputs"]())
        _MODULES[key] = model
    return _MODULES[key]


def _rescale(value: Any, dist: str, knobs: list[float]) -> Any:
    if not isinstance(value, torch.Tensor) or not value.dtype.is_floating_point or dist == "normal":
        return value
    signed = bool((value < 0).any())
    if dist == "uniform":
        return value * (0.5 + 1.5 * knobs[0])
    if dist == "heavy_tailed":
        return value * (2.0 + 2.0 * knobs[1])
    scale, offset = 0.5 + 2.5 * knobs[2], (knobs[3] * 4 - 2) if signed else 0.0
    return (value * scale + offset).to(value.dtype)


def _perturb(t: torch.Tensor, is_buffer: bool) -> torch.Tensor:
    if not t.dtype.is_floating_point:
        return t.clone()
    scaled = t * (0.5 + torch.rand_like(t))
    if is_buffer and bool((t >= 0).all()):
        return scaled  # running variances and counts stay nonnegative
    noise = 0.5 * max(float(t.abs().mean()) if t.numel() else 0.0, 0.2)
    return scaled + noise * torch.randn_like(t)


def kernelbench_task_from_spec(spec: TaskSpec) -> KernelBenchTask:
    """Build the task for a KernelBench spec (its `source` holds the problem's text)."""
    if spec.source is None:
        raise KernelBenchError(f"the spec of {spec.name!r} carries no problem text")
    source = spec.source
    bench = size_constants(source)
    smoke = scaled_constants(source, spec.smoke_elements)
    check = scaled_constants(source, spec.check_elements, odd=True)
    trace = trace_meta(source, bench)
    forward = list(inspect.signature(problem_namespace(source)["Model"].forward).parameters)[1:]
    tensor_inputs = [f"{n}{_dims(v)}" if isinstance(v, torch.Tensor) else f"{n}: {type(v).__name__}"
                     for n, v in zip(_names(forward, len(trace.inputs)), trace.inputs, strict=True)]
    params = [f"{_ident(n)}{_dims(t)}" for n, t in trace.params]
    outputs = ["out" if len(trace.outputs) == 1 else f"out{i}" for i in range(len(trace.outputs))]
    signature = f"kernel({', '.join(tensor_inputs + params)}) -> " + \
        ", ".join(f"{n}{_dims(t)}" for n, t in zip(outputs, trace.outputs, strict=True))
    where = f"KernelBench level {spec.level} problem {spec.problem_id}" if spec.level else "KernelBench problem"
    description = (
        f"{where} ({Path(spec.path).name if spec.path else spec.name}). Compute Model.forward below with your own "
        "kernel(s). Either write kernel(*inputs) in functional form: the forward inputs, then every parameter and "
        f"buffer of Model by name ({', '.join(n for n, _ in trace.params) or 'none'}), returning the forward's "
        "outputs; or write KernelBench's `class ModelNew(nn.Module)` with Model's constructor arguments and exactly "
        "Model's parameter and buffer names (the evaluator loads its own values into them; build them with "
        "torch.empty / nn.Parameter / the same torch.nn layers, on any device). Launch at least one @triton.jit "
        "kernel; torch may only allocate and view. Sizes in bench are the problem's own; float inputs are "
        f"rescaled and offset per trial. Tolerance atol=rtol={spec.tolerance or DEFAULT_TOLERANCE}.\n\n"
        f"```python\n{source.strip()}\n```")
    return KernelBenchTask(
        name=spec.name, description=description, signature=signature,
        input_names=tuple(_names(forward, len(trace.inputs))) + tuple(_ident(n) for n, _ in trace.params),
        output_names=tuple(outputs),
        allowed_torch_ops=BASE_ALLOWED_TORCH_OPS | INIT_OPS | frozenset(spec.allowed_torch_ops),
        problem_source=source, constants_by_suite={"smoke": [smoke], "check": [check, smoke], "bench": [bench]},
        n_forward=len(trace.inputs), param_names=tuple(n for n, _ in trace.params),
        tolerance=spec.tolerance or DEFAULT_TOLERANCE, module_nn_classes=trace.nn_classes, origin=spec,
        # the harness hands ModelNew's constructor arguments to the child as JSON
        module_class="ModelNew" if _plain(trace.init_inputs) else None,
    )


def _plain(value: Any) -> bool:
    """True when `value` survives JSON as what the constructor expects (tuples arrive as lists)."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _names(forward: list[str], count: int) -> list[str]:
    names = [n for n in forward if n not in ("args", "kwargs")][:count]
    return names + [f"x{i}" for i in range(len(names), count)]


def load_kernelbench(path: str | Path, *, level: int | None = None, tolerance: float | None = None,
                     allowed_torch_ops: tuple[str, ...] = ()) -> KernelBenchTask:
    """The task for one KernelBench problem file; a one-line KernelBenchError when it cannot be one."""
    path = Path(path).expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise KernelBenchError(f"KernelBench problem file {path} does not exist or is not a .py file")
    if level is None and (match := re.fullmatch(r"level(\d)", path.parent.name)):
        level = int(match.group(1))
    if level == 4:
        raise KernelBenchError("level 4 is out of scope: its problems download model weights")
    number = problem_number(path)
    stem = _ident(path.stem.lower())
    name = f"kernelbench_l{level}_{stem}" if level else f"kernelbench_{stem}"
    spec = TaskSpec(kind="kernelbench", name=name, path=str(path), source=path.read_text(), level=level,
                    problem_id=number, tolerance=tolerance, allowed_torch_ops=tuple(allowed_torch_ops))
    return kernelbench_task_from_spec(spec)
