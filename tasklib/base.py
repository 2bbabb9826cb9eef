"""The `Task` contract: what a kernel must compute, on which shapes, and how it is judged.

Owns: the `Task` base class, `Shape`, `Cost`, `CheckReport` and the names of shape suites
and value distributions. Does not own: any concrete task (each lives in its own folder
beside this file), the registry (registry.py) or running candidates (the evaluator).

A task is trusted code: the evaluator's parent process calls `make_inputs`, `reference`
and `check`; a candidate never sees them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from warpsmith.records.tasks import TaskSpec

Suite = Literal["smoke", "check", "bench"]
SUITES: tuple[Suite, ...] = ("smoke", "check", "bench")
Language = Literal["triton", "cuda", "hip"]
SEED_FILES: dict[str, str] = {"triton": "triton.py", "cuda": "cuda.cu", "hip": "hip.hip"}

# Token counts of the bench shapes of the per-token tasks: decode (1, 16) to long prefill (8192).
BENCH_TOKENS: tuple[int, ...] = (1, 16, 128, 512, 2048, 8192)
# The row-wise edges every [T, H] task checks as (label, T, H), and its smoke shape: one token, a
# single column, an odd width, a width that no power-of-two block divides.
ROW_SMOKE: tuple[str, int, int] = ("tiny T=4 H=64", 4, 64)
ROW_EDGES: tuple[tuple[str, int, int], ...] = (
    ("T=1 H=128", 1, 128), ("H=1 T=3", 3, 1), ("H=7 T=5 (odd)", 5, 7), ("H=200 (not /128) T=5", 5, 200),
)

# Value distributions for float inputs; `make_inputs` picks one from the seed unless told.
DISTRIBUTIONS: tuple[str, ...] = ("normal", "uniform", "heavy_tailed", "offset_scaled")

# Torch calls any candidate may make: allocation, views and metadata, never arithmetic.
BASE_ALLOWED_TORCH_OPS: frozenset[str] = frozenset(
    {
        "empty", "empty_like", "empty_strided", "zeros", "zeros_like", "full", "full_like",
        "view", "reshape", "contiguous", "size", "stride", "numel", "dim", "is_contiguous",
        "data_ptr", "element_size", "device", "dtype", "shape", "new_empty", "new_zeros",
        "flatten", "unsqueeze", "squeeze", "expand", "as_strided", "t", "transpose",
        "int32", "int64", "float32", "float16", "bfloat16", "float8_e4m3fn", "bool", "uint8",
        "is_cuda", "Tensor", "Size", "cdiv",
    }
)


class Shape(BaseModel):
    """One problem size of a task: a label for tables and the named dimensions."""

    model_config = ConfigDict(frozen=True)

    label: str = Field(description="Short human name, e.g. 'deepseek-v3 T=512'.")
    dims: dict[str, int | float] = Field(description="Named sizes, e.g. {'T': 512, 'H': 7168}.")
    options: dict[str, str] = Field(
        default_factory=dict, description="Non-numeric knobs of the inputs, e.g. {'routing': 'zipf'}."
    )

    def __getitem__(self, key: str) -> int | float:
        return self.dims[key]


class Cost(BaseModel):
    """The least work any correct kernel must do for one shape (for % of peak)."""

    bytes: int = Field(description="Fewest bytes read plus written in global memory.")
    flops: int = Field(default=0, description="Fewest floating-point operations.")


class CheckReport(BaseModel):
    """The verdict of a task's checker on one set of outputs."""

    ok: bool
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    first_mismatch: str | None = Field(default=None, description="Where and how it first differs.")
    details: str = ""


class Task(BaseModel):
    """Base of every task. Subclasses set the class fields and implement the methods."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str = Field(description="What the kernel computes; shown to the agents.")
    signature: str = Field(description="The Python signature of kernel(...) with shapes and dtypes.")
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    allowed_torch_ops: frozenset[str] = BASE_ALLOWED_TORCH_OPS
    # Seeds of the random trials the evaluator runs per bench shape (the evaluator adds a
    # secret offset so a candidate cannot precompute them).
    trial_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    source_dir: Path | None = Field(default=None, description="Folder holding seeds/.")
    origin: TaskSpec | None = Field(default=None, description="How a worker rebuilds this task (registry.spec_of).")
    # KernelBench-style candidates: the class a candidate may define instead of kernel(...), and the
    # torch.nn classes it may build its parameters with (empty: only kernel(...) is accepted).
    module_class: str | None = None
    module_nn_classes: frozenset[str] = frozenset()
    # A candidate must launch at least one of its own kernels (a @triton.jit function launched).
    require_launch: bool = False
    seed_file: Path | None = Field(default=None, description="A Triton starting kernel the user gave (a task "
                                   "brought as a file ships none); used before seeds/.")

    languages: ClassVar[tuple[Language, ...]] = ("triton", "cuda", "hip")

    # --- what subclasses implement -------------------------------------------------
    def shapes(self, suite: Suite) -> list[Shape]:
        """The suite's shapes. Default: `smoke_shapes`, `check_shapes` or `bench_shapes`; a task whose
        suites come from one source (a file it was brought as) overrides this instead."""
        makers = {"smoke": self.smoke_shapes, "check": self.check_shapes, "bench": self.bench_shapes}
        if suite not in makers:
            raise ValueError(f"unknown suite {suite!r}")
        return makers[suite]()

    def smoke_shapes(self) -> list[Shape]:
        """One tiny shape: does the kernel run at all."""
        raise NotImplementedError

    def check_shapes(self) -> list[Shape]:
        """Small shapes that reach every edge and clause of the contract."""
        raise NotImplementedError

    def bench_shapes(self) -> list[Shape]:
        """The timed shapes, from real models."""
        raise NotImplementedError

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        """Inputs in `input_names` order: tensors and Python scalars."""
        raise NotImplementedError

    def reference(self, *inputs: Any) -> tuple[torch.Tensor, ...]:
        """The answer in plain PyTorch, outputs in `output_names` order, on the inputs' device."""
        raise NotImplementedError

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        """Default: each output allclose at its dtype's tolerance (fp32 1e-4, fp16/bf16 1e-2,
        fp8 5e-2); NaN never passes, +-inf only where the reference holds the same infinity; a wrong
        count, shape or dtype fails without raising."""
        from warpsmith.tasklib.checking import allclose_outputs  # checking imports this module

        return allclose_outputs(self.output_names, outputs, expected)

    def cost(self, shape: Shape) -> Cost:
        raise NotImplementedError

    def module_form(self, shapes: list[Shape]) -> dict[str, Any] | None:
        """For tasks with `module_class`: what the harness needs to build the candidate's module and
        load the parent's parameters into it (evaluator/module_form.py); None otherwise."""
        return None

    def cost_of(self, shape: Shape, inputs: tuple[Any, ...]) -> Cost:
        """The least work for these very inputs. Default: `cost(shape)`; tasks whose work depends on
        the values (MoE routing under expert parallelism) count it from the inputs."""
        return self.cost(shape)

    # --- shared behaviour ------------------------------------------------------------
    def seed_path(self, language: str) -> Path | None:
        """Where the shipped seed kernel for `language` lies, or None when there is none."""
        if self.seed_file is not None and language == "triton":
            return self.seed_file
        if self.source_dir is None or language not in SEED_FILES:
            return None
        path = self.source_dir / "seeds" / SEED_FILES[language]
        return path if path.is_file() else None

    def seeds(self) -> dict[str, Path]:
        return {lang: p for lang in SEED_FILES if (p := self.seed_path(lang)) is not None}

    def random_source(self, seed: int, distribution: str | None) -> tuple[torch.Generator, str]:
        """The CPU generator seeded with `seed` and the trial's value distribution: where every
        `make_inputs` starts, so CPU and GPU runs of one seed see identical inputs."""
        return torch.Generator().manual_seed(seed), self.pick_distribution(seed, distribution)

    def pick_distribution(self, seed: int, distribution: str | None) -> str:
        if distribution is None:
            return DISTRIBUTIONS[seed % len(DISTRIBUTIONS)]
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {distribution!r}; known: {', '.join(DISTRIBUTIONS)}")
        return distribution
