"""The trusted harness that runs inside the sandbox: import the candidate, call it, write outputs.

Owns: everything the child does for one evaluation batch, in this order: capture the
timer and torch functions it relies on, learn the allowed aten ops, import the candidate
(recorded), then per trial call it twice on fresh clones of the parent's inputs with a
different poison each time (recorded), and write the outputs and the inputs-after-call
to one file per trial (a large trial instead makes each call's inputs here from the parent's
seed and commits to its outputs by digest: device_inputs.py); finally, when asked, serve the timing blocks the parent commands
(timing.serve_blocks) and check that nothing it captured was replaced. Does not own: any
verdict or published number. It never sees expected outputs, never runs the reference, and
the parent re-checks everything it reads back (types, storages, values, times against its
own clock).

Entry for `warpsmith.sandbox.run_sandboxed`: "warpsmith.evaluator.child:run".
"""

from __future__ import annotations

import contextlib
import functools
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from warpsmith.evaluator import aten_guard, block_channel, device_inputs, leaf_digest, tensors_io, timing
from warpsmith.evaluator import module_form as module_form_shim

# Captured at harness import, before any candidate code exists in this process: what timing and
# comparison rely on, and every function of the harness's own modules (a candidate that reaches
# them through some escape and replaces one is reported as harness-tampering).
_OWNERS: dict[str, Any] = {
    "time": time, "torch": torch, "torch.Tensor": torch.Tensor, "torch.cuda": torch.cuda,
    "torch.cuda.Event": torch.cuda.Event, "OpRecorder": aten_guard.OpRecorder,
}
_WATCHED = {
    "time": ["perf_counter", "time"], "torch": ["save", "load", "equal", "allclose"],
    "torch.Tensor": ["clone", "fill_"], "torch.cuda": ["synchronize", "Event"],
    "torch.cuda.Event": ["record", "elapsed_time", "synchronize"], "OpRecorder": ["__torch_dispatch__"],
}
for _module in (aten_guard, block_channel, device_inputs, leaf_digest, tensors_io, timing, module_form_shim):
    _OWNERS[_module.__name__] = _module
    _WATCHED[_module.__name__] = [n for n, obj in vars(_module).items() if callable(obj) and not n.startswith("__")]
_CAPTURED: dict[str, Any] = {f"{owner}.{attr}": getattr(_OWNERS[owner], attr) for owner, attrs in _WATCHED.items()
                             for attr in attrs}
perf_counter = time.perf_counter
POISON_BYTES = (0xFF, 0x7F)  # NaN / -1 for the first call; large finite values for the second


def tampered_names() -> list[str]:
    """Names whose current object is not the one captured before the candidate was imported."""
    return [f"{owner}.{attr}" for owner, attrs in _WATCHED.items() for attr in attrs
            if getattr(_OWNERS[owner], attr, None) is not _CAPTURED[f"{owner}.{attr}"]]


def _import_triton_candidate(path: Path, module_form: dict | None = None) -> Any:
    """Run exactly the text the parent checked: the file's bytes decoded as strict UTF-8 (no coding
    cookie applies), compiled from that str into a fresh module; inspect/linecache get the same text
    under the code's filename, so Triton re-reads what was checked, never the file, which is deleted
    once read (a file that is also a pickle cannot be handed to any loader later). Under the
    interpreter, raw loads and stores are bounds-checked from here on (interpreter_bounds)."""
    import os
    import sys
    import types

    from warpsmith.evaluator import interpreter_bounds, static_python_source

    text = path.read_bytes().decode("utf-8")
    path.unlink()  # from here only the checked text exists: the candidate cannot read its own file back (a5)
    if os.environ.get("TRITON_INTERPRET") == "1":
        interpreter_bounds.install()
    filename = str(path)
    static_python_source.register_source(filename, text)
    code = compile(text, filename, "exec", dont_inherit=True)
    module = types.ModuleType(f"warpsmith_candidate_{path.stem}")
    module.__file__ = filename
    sys.modules[module.__name__] = module
    exec(code, module.__dict__)  # the candidate's checked text, in the sandboxed child
    if module_form is not None:  # a KernelBench ModelNew: the harness's shim calls it (module_form.py)
        return module_form_shim.ModuleCall(module.__dict__[module_form["class_name"]], module_form)
    return module.kernel


def _load_native_candidate(library_path: str, namespace: str, module_form: dict | None = None) -> Any:
    torch.ops.load_library(library_path)
    ops = getattr(torch.ops, namespace)
    if module_form is not None and "native_call" in module_form:  # a CUDA ModelNew: the harness's shim calls it
        return module_form_shim.NativeModuleCall(getattr(ops, module_form["native_call"]["function"]), module_form)
    return ops.kernel


def _clone(values: list[Any]) -> list[Any]:
    return [v.clone() if isinstance(v, torch.Tensor) else v for v in values]


def _as_outputs(result: Any) -> list[Any] | str:
    """The candidate's return value as a list; non-tensors become a marker string."""
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    return [
        item.detach() if type(item) is torch.Tensor else f"{tensors_io.NOT_A_TENSOR}{type(item).__qualname__}"
        for item in items
    ]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        _CAPTURED["torch.cuda.synchronize"]()


def _note_forbidden(recorder: aten_guard.OpRecorder, exc: BaseException) -> None:
    """A refused op counts even if the candidate's own bookkeeping was cleared on the way out."""
    if isinstance(exc, aten_guard.ForbiddenOp) and not recorder.forbidden.get(exc.packet):
        recorder.forbidden[exc.packet] += 1


def _failure(kind: str, where: str, exc: BaseException) -> dict[str, str]:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {"kind": kind, "where": where, "message": f"{type(exc).__name__}: {exc}"[:2000],
            "traceback": "".join(lines)[-4000:]}


def run(payload: dict, workdir: Path) -> dict:
    """Run one batch of trials (and optionally timing); see the module docstring."""
    workdir = Path(workdir)
    device = payload["device"]
    report: dict[str, Any] = {"trials": [], "forbidden_ops": {}, "tampered": [], "error": None}
    allowed = aten_guard.allowed_aten_packets(payload["allowed_torch_ops"], device)
    namespaces = frozenset([payload["op_namespace"]] if payload.get("op_namespace") else [])
    task = None
    if payload.get("timing") or any("seeds" in t for t in payload["trials"]):
        from warpsmith.tasklib.registry import task_from_spec  # trusted: before the candidate exists

        task = task_from_spec(payload["task_spec"])

    recorder = aten_guard.OpRecorder(allowed, namespaces)
    started = perf_counter()
    try:
        with recorder, aten_guard.DataGuard(recorder):
            if payload["language"] == "triton":
                fn = _import_triton_candidate(workdir / payload["candidate_file"], payload.get("module_form"))
            else:
                fn = _load_native_candidate(payload["library_path"], payload["op_namespace"], payload.get("module_form"))
    except BaseException as exc:  # the candidate's import failing is a verdict, not a harness error
        _note_forbidden(recorder, exc)
        report["error"] = _failure("import", "import", exc)
        report["forbidden_ops"] = dict(recorder.forbidden)
        report["tampered"] = tampered_names()
        return report
    report["import_s"] = perf_counter() - started
    fn = functools.partial(aten_guard.call_candidate, fn)  # every call, timed ones too (aten_guard: red team 5)

    seconds = [0.0]

    def call_once(where: str, index: int, args: list[Any]) -> list[Any]:
        """One call of the candidate, poisoned and recorded; raises _CallFailed with what it raised."""
        byte = POISON_BYTES[index]
        aten_guard.poison_cuda_cache(byte, device)
        call_recorder = aten_guard.OpRecorder(allowed, namespaces, poison_byte=byte)
        t0 = perf_counter()
        try:
            with call_recorder, aten_guard.DataGuard(call_recorder):
                result = fn(*args)
            _sync(device)
        except BaseException as exc:  # noqa: BLE001 - the candidate's exception is the verdict
            _note_forbidden(call_recorder, exc)
            recorder.forbidden.update(call_recorder.forbidden)
            raise _CallFailed(where, exc) from None
        seconds[0] += perf_counter() - t0
        recorder.forbidden.update(call_recorder.forbidden)
        return _as_outputs(result)

    for trial in payload["trials"]:
        try:
            if "seeds" in trial:  # a large trial: inputs made here from the seed, outputs committed by digest
                device_inputs.run_trial(trial, task, device, workdir,
                                        lambda tag, i, args, t=trial: call_once(f"trial {t['id']} call {tag}", i, args))
                report["trials"].append({"id": trial["id"], "outputs_file": device_inputs.sampled_file(trial["id"])})
                continue
            inputs = tensors_io.load(workdir / trial["inputs_file"])
            inputs = [v.to(device) if isinstance(v, torch.Tensor) else v for v in inputs]
            saved: dict[str, Any] = {}
            for index, tag in enumerate(("a", "b")):
                args = _clone(inputs)
                saved[f"out_{tag}"] = call_once(f"trial {trial['id']} call {tag}", index, args)
                saved[f"args_after_{tag}"] = args
        except _CallFailed as failed:
            report["error"] = _failure("call", failed.where, failed.exc)
        except Exception as exc:  # noqa: BLE001 - device inputs: the harness's wait or the task's generation
            report["error"] = _failure("call", f"trial {trial['id']} (inputs made in the child)", exc)
        if report["error"]:
            report["forbidden_ops"] = dict(recorder.forbidden)
            report["tampered"] = tampered_names()
            return report
        outputs_file = f"outputs_{trial['id']}.pt"
        tensors_io.save(workdir / outputs_file, saved)
        report["trials"].append({"id": trial["id"], "outputs_file": outputs_file})
    report["correctness_s"] = seconds[0]
    report["forbidden_ops"] = dict(recorder.forbidden)

    if payload.get("timing") and not recorder.forbidden:
        t0 = perf_counter()

        def guard() -> contextlib.ExitStack:
            stack = contextlib.ExitStack()
            stack.enter_context(recorder)
            stack.enter_context(aten_guard.DataGuard(recorder))
            return stack

        try:
            report["timing_blocks"] = timing.serve_blocks(fn, task, device, workdir, _CAPTURED, guard,
                                                          payload["timing"].get("l2_bytes"))
        except BaseException as exc:  # noqa: BLE001 - the candidate's exception is the verdict
            _note_forbidden(recorder, exc)
            report["error"] = _failure("call", "timing", exc)
        report["forbidden_ops"] = dict(recorder.forbidden)
        report["timing_s"] = perf_counter() - t0
    report["tampered"] = tampered_names()
    return report


class _CallFailed(Exception):
    """The candidate raised (or an op was refused) during a call: `exc` is what it raised."""

    def __init__(self, where: str, exc: BaseException) -> None:
        super().__init__(where)
        self.where, self.exc = where, exc
