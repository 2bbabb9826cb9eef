"""Writing the exported package: a folder with pyproject.toml that pip installs, or that works
from PYTHONPATH as it is.

Owns: the folder's layout and filling the templates (templates/*.tmpl, string.Template). Does not
own: choosing the candidate (target.py) or the provenance text (readme.py).

Layout at DIR: pyproject.toml, README.md, bench.py, tests/test_op.py, and the package
`warpsmith_<task>_<hash8>/` with the kernel (_kernel.py, or csrc/ for CUDA/HIP), the op
registration (_op.py), the fake (_fake.py), provenance.json, and _tasklib/: a copy of
warpsmith.tasklib (every module but the other tasks' seeds) and of the warpsmith.records modules
it imports (in _tasklib/_records/) with their imports renamed, so the tests, the bench script and
the fake need the task definition but not warpsmith (tasklib imports nothing else of warpsmith and
records nothing at all: the layout test enforces both).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from string import Template

import warpsmith.records as records_package
import warpsmith.tasklib as tasklib_package
from warpsmith.export.readme import provenance, readme_text
from warpsmith.export.schema import OpSchema, op_schema
from warpsmith.export.target import ExportError, ExportTarget
from warpsmith.tasklib.base import Task

TEMPLATES = Path(__file__).resolve().parent / "templates"
EXPORT_KINDS = ("torch-op", "module")
NATIVE_SUFFIX = {"cuda": ".cu", "hip": ".hip"}


@dataclass
class ExportedPackage:
    path: Path
    package: str
    kind: str
    schema: OpSchema


def package_name(task: str, source_hash: str) -> str:
    return f"warpsmith_{task}_{source_hash[:8]}"


def write_package(target: ExportTarget, task: Task, out: Path, kind: str = "torch-op", force: bool = False) -> ExportedPackage:
    """Write the package for `target` at `out`; refuses an existing `out` unless `force`."""
    candidate = target.candidate
    if kind not in EXPORT_KINDS:
        raise ExportError(f"unknown export kind {kind!r}; use one of {', '.join(EXPORT_KINDS)}")
    if kind == "module" and candidate.language != "triton":
        raise ExportError(f"--as module exports a Triton kernel; this one is {candidate.language}: use --as torch-op")
    if out.exists() and not force:
        raise ExportError(f"{out} exists; choose another --out or pass --force to replace it")
    schema = op_schema(task)
    package = package_name(task.name, candidate.source_hash)
    values = _values(target, task, schema, package)
    staging = out.with_name(out.name + ".partial")  # a failed export leaves no half-written DIR
    shutil.rmtree(staging, ignore_errors=True)
    pkg_dir = staging / package
    pkg_dir.mkdir(parents=True)
    if candidate.language == "triton":
        (pkg_dir / "_kernel.py").write_text(candidate.source)
        _fill("op_triton.py.tmpl", pkg_dir / "_op.py", values)
    else:
        (pkg_dir / "csrc").mkdir()
        (pkg_dir / "csrc" / values["source_file"]).write_text(candidate.source + _registration(schema))
        _fill("op_native.py.tmpl", pkg_dir / "_op.py", values)
    _fill("init_module.py.tmpl" if kind == "module" else "init_op.py.tmpl", pkg_dir / "__init__.py", values)
    _fill("fake.py.tmpl", pkg_dir / "_fake.py", values)
    _vendor_tasklib(task.name, pkg_dir / "_tasklib", package)
    record = provenance(target, task, schema, package, kind)
    (pkg_dir / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    (staging / "tests").mkdir()
    _fill("test_op.py.tmpl", staging / "tests" / "test_op.py", values)
    _fill("bench.py.tmpl", staging / "bench.py", values)
    _fill("pyproject.toml.tmpl", staging / "pyproject.toml", values)
    (staging / "README.md").write_text(readme_text(record))
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    staging.rename(out)
    return ExportedPackage(path=out, package=package, kind=kind, schema=schema)


def _values(target: ExportTarget, task: Task, schema: OpSchema, package: str) -> dict[str, str]:
    candidate = target.candidate
    dependencies = ['"torch>=2.6"', '"pydantic>=2"'] + (['"triton>=3.0"'] if candidate.language == "triton" else [])
    source_file = task.name + NATIVE_SUFFIX.get(candidate.language, ".py")
    return {
        "task": task.name,
        "language": candidate.language,
        "package": package,
        "package_ext": package + "_ext",
        "distribution": package.replace("_", "-"),
        "source_hash": candidate.source_hash,
        "hash12": candidate.source_hash[:12],
        "names": schema.names,
        "python_params": schema.python_params,
        "python_return": schema.python_return,
        "schema": schema.schema,
        "outputs": str(schema.outputs),
        "source_file": source_file,
        "kernel_file": "_kernel.py" if candidate.language == "triton" else f"csrc/{source_file}",
        "dependencies": ", ".join(dependencies),
    }


def _fill(template: str, path: Path, values: dict[str, str]) -> None:
    path.write_text(Template((TEMPLATES / template).read_text()).substitute(values))


def _registration(schema: OpSchema) -> str:
    """The TORCH_LIBRARY block appended to a CUDA/HIP source: declares the op, binds `kernel`.
    A fragment, so several exported packages can live in one process."""
    return (
        "\n\n// ---- appended by `warpsmith export`: torch.ops.warpsmith." + schema.task + " ----\n"
        "#include <torch/library.h>\n"
        f'TORCH_LIBRARY_FRAGMENT(warpsmith, m) {{ m.def("{schema.schema}"); }}\n'
        f'TORCH_LIBRARY_IMPL(warpsmith, CUDA, m) {{ m.impl("{schema.task}", &kernel); }}\n'
    )


def _vendor_tasklib(task: str, dest: Path, package: str) -> None:
    """Copy warpsmith.tasklib's own modules and the task's folder (without seeds), renaming imports."""
    source = Path(tasklib_package.__file__).resolve().parent
    new_root = f"{package}._tasklib"
    files = list(source.glob("*.py")) + [p for p in (source / task).rglob("*.py") if "seeds" not in p.parts]
    for path in files:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text().replace("warpsmith.tasklib", new_root))
    for sibling in _imported_tasks(dest, new_root, task):  # a task built on another one's module
        shutil.copytree(source / sibling, dest / sibling, ignore=shutil.ignore_patterns("seeds", "__pycache__"))
        for path in (dest / sibling).rglob("*.py"):
            path.write_text(path.read_text().replace("warpsmith.tasklib", new_root))
    _vendor_records(dest, new_root)


_RECORDS_IMPORT = re.compile(r"warpsmith\.records\.(\w+)")


def _vendor_records(dest: Path, new_root: str) -> None:
    """Copy the warpsmith.records modules the vendored files import (and those they import) into
    _records/, renaming the imports: records import nothing of warpsmith but records."""
    source = Path(records_package.__file__).resolve().parent
    records_root = f"{new_root}._records"
    wanted: set[str] = set()
    pending = list(dest.rglob("*.py"))
    while pending:
        text = pending.pop().read_text()
        for name in set(_RECORDS_IMPORT.findall(text)) - wanted:
            if not (source / f"{name}.py").is_file():  # a docstring naming a record, not a module
                continue
            wanted.add(name)
            target = dest / "_records" / f"{name}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((source / f"{name}.py").read_text())
            pending.append(target)
    if wanted:
        (dest / "_records" / "__init__.py").write_text('"""warpsmith.records modules the task definition needs."""\n')
    for path in dest.rglob("*.py"):
        text = path.read_text()
        if "warpsmith.records" in text:
            path.write_text(text.replace("warpsmith.records", records_root))


def _imported_tasks(dest: Path, new_root: str, task: str) -> set[str]:
    text = "\n".join(p.read_text() for p in (dest / task).rglob("*.py"))
    present = {p.name for p in dest.iterdir() if p.is_dir()}
    source = Path(tasklib_package.__file__).resolve().parent
    return {
        d.name for d in source.iterdir()
        if d.is_dir() and d.name not in present and f"{new_root}.{d.name}" in text
    }
