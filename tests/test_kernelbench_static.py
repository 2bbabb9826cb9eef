"""What allowing `class ModelNew(nn.Module)` opens, attacked one property at a time: only that class
shape, only on KernelBench tasks, only the torch.nn names the problem needs; and the meta-device
exemption of the run-time op guard never lets an op touch real data."""

from __future__ import annotations

import pytest
import torch

from tests._kernelbench_helpers import problem, solution
from warpsmith.evaluator.aten_guard import ForbiddenOp, OpRecorder
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.tasklib import get_task


def rules(source: str, number: int = 4) -> list[str]:
    task = problem(number)
    found = check_python_source(source, task.allowed_torch_ops, module_class=task.module_class,
                                nn_classes=task.module_nn_classes, require_launch=task.require_launch)
    return [v.rule for v in found]


def test_honest_modelnew_sources_pass() -> None:
    assert rules(solution("layernorm_modelnew")) == []
    assert rules(solution("gemm_relu_modelnew"), 3) == []
    assert rules(solution("swish_modelnew"), 1) == []


def test_modelnew_is_refused_on_a_task_without_module_form() -> None:
    task = get_task("rmsnorm")
    found = check_python_source(solution("layernorm_modelnew"), task.allowed_torch_ops)
    assert "class-definition" in [v.rule for v in found]


BASE = solution("layernorm_modelnew")


@pytest.mark.parametrize(("old", "new", "rule"), [
    ("class ModelNew(nn.Module):", "class Other(nn.Module):", "class-definition"),
    ("class ModelNew(nn.Module):", "class ModelNew(nn.Module, metaclass=type):", "module-class-shape"),
    ("class ModelNew(nn.Module):", "class ModelNew(nn.Linear):", "module-class-shape"),
    ("class ModelNew(nn.Module):", "class ModelNew(nn.Module):\n    scale = 2.0", "module-class-body"),
    ("    def forward(self, x):", "    def __getattr__(self, name):\n        return 1\n\n    def forward(self, x):",
     "module-method-name"),
    ("    def forward(self, x):", "    def __torch_function__(self, f, t, a=(), k=None):\n        return 1\n\n"
     "    def forward(self, x):", "module-method-name"),
    ("    def forward(self, x):", "    def named_parameters(self, prefix='', recurse=True):\n        return []\n\n"
     "    def forward(self, x):", "module-method-name"),
    ("        super().__init__()", "        super(ModelNew, self).__init__()", "forbidden-builtin"),
    ("        super().__init__()", "        super().__init__()\n        s = super()", "forbidden-builtin"),
    ("        self.eps = eps", "        self._parameters = {}", "private-attribute"),
    ("        self.eps = eps", "        self.register_forward_hook(print)", "module-attribute"),
    ("        self.eps = eps", "        self.training = False", "attribute-assignment"),
    ("        x = x.contiguous()", "        self.saved = x", "attribute-assignment"),
    ("        x = x.contiguous()", "        x = nn.functional.relu(x)", "torch-nn-not-allowed"),
    ("        self.eps = eps", "        self.act = nn.ReLU()", "torch-nn-not-allowed"),
    ("import torch.nn as nn", "import torch.nn as nn\nimport torch.nn.functional as F", "forbidden-import"),
    ("        x = x.contiguous()", "        x = x.contiguous()\n        self.load_state_dict({})", "module-attribute"),
    ("        x = x.contiguous()", "        x = x.contiguous()\n        y = self.to(x.device)", "module-attribute"),
])
def test_each_opening_is_only_that_shape(old: str, new: str, rule: str) -> None:
    assert old in BASE
    assert rule in rules(BASE.replace(old, new))


def test_calling_a_torch_layer_is_refused() -> None:
    source = solution("gemm_relu_modelnew", ).replace("        x = x.contiguous()", "        x = self.linear(x)")
    assert "torch-module-call" in rules(source, 3)


def test_a_class_with_no_launch_is_torch_only() -> None:
    assert rules(solution("swish_eager_modelnew"), 1)[0] == "torch-only"


def test_meta_only_ops_pass_the_guard_and_real_data_never_does() -> None:
    """The child builds a ModelNew on the meta device, so ops touching only meta tensors are not
    refused; anything touching a real tensor or its storage still is (called from this file, which
    the guard takes for the candidate)."""
    real = torch.randn(4, 4)
    meta = torch.empty(4, 4, device="meta")
    with OpRecorder(frozenset()) as recorder:
        torch.sigmoid(meta)
        torch.nn.init.kaiming_uniform_(torch.empty(3, 3, device="meta"))
        with pytest.raises(ForbiddenOp):
            torch.sigmoid(real)
        with pytest.raises(ForbiddenOp):
            meta.copy_(real)
        with pytest.raises(ForbiddenOp):
            torch.empty(0, device="meta").set_(real.untyped_storage())
        with pytest.raises(ForbiddenOp):
            meta.to("cpu")
    assert recorder.forbidden
