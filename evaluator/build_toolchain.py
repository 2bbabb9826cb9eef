"""Where the compilers and torch's headers are, and the exact commands a build runs.

Owns: locating nvcc / hipcc / g++ and torch's include and library folders (without
importing torch: a build in a sandbox child should not pay torch's import or
initialize a GPU), the target arch (`default_arch`), the compile and link command
lines (`compile_command`, `link_command`) and `toolchain_info`, which is part of the
build cache key. Does not own: running the commands (build.py) or caching (build.py).

Decisions (measured, see docs/builds.md):
- One target arch per build (`-gencode arch=compute_90a,code=sm_90a`, `--offload-arch=
  gfx90a`), -O3, never -G; torch's headers as -isystem so their warnings stay out of
  the log.
- The binding is registered with TORCH_LIBRARY (torch/library.h), not pybind11, and a
  shim makes `#include <torch/extension.h>` mean <torch/types.h> + <torch/library.h>:
  the Python-binding headers are most of a torch extension's compile time.
- nvcc compiles the .cu to an object and g++ links it against torch's libraries
  directly (no ninja, no setuptools).
- The GPU's own arch comes from `nvidia-smi` / `rocm_agent_enumerator`, never from
  torch.cuda (which would initialize CUDA in this process).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Literal

Language = Literal["cuda", "hip"]

# Bump when the commands below change meaningfully: part of the cache key.
BUILD_RECIPE = "4"
DEFAULT_ARCH: dict[str, str] = {"cuda": "sm_90a", "hip": "gfx90a"}
_ARCH_PATTERN = {"cuda": re.compile(r"^sm_\d{2,3}[af]?$"), "hip": re.compile(r"^gfx[0-9a-f]{3,4}(:[a-z+-]+)*$")}
# What torch's own cpp_extension passes to nvcc: candidates written for torch extensions
# expect at::Half / at::BFloat16 operators, not CUDA's.
TORCH_NVCC_DEFINES = (
    "-D__CUDA_NO_HALF_OPERATORS__",
    "-D__CUDA_NO_HALF_CONVERSIONS__",
    "-D__CUDA_NO_BFLOAT16_CONVERSIONS__",
    "-D__CUDA_NO_HALF2_OPERATORS__",
)
SHIM_HEADER = "// warpsmith: the lean torch extension header (no pybind11)\n#pragma once\n#include <torch/types.h>\n#include <torch/library.h>\n"
# A CPU torch wheel ships c10/cuda's headers but not this generated one; its content on a
# CUDA torch is this one line (it only matters for Windows DLL exports).
CUDA_MACROS_HEADER = "#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n"


def torch_dir() -> Path:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise RuntimeError("torch is not installed in this environment")
    return Path(spec.origin).parent


def torch_include_dirs() -> list[Path]:
    root = torch_dir() / "include"
    return [root, root / "torch" / "csrc" / "api" / "include"]


def torch_flavor() -> str:
    """'cuda', 'rocm' or 'cpu': which torch build the libraries are (decides linking)."""
    lib = torch_dir() / "lib"
    if (lib / "libtorch_cuda.so").exists():
        return "cuda"
    if (lib / "libtorch_hip.so").exists():
        return "rocm"
    return "cpu"


def shim_headers() -> dict[str, str]:
    """Headers put first on the include path: relative path -> content."""
    shims = {"torch/extension.h": SHIM_HEADER}
    macros = "c10/cuda/impl/cuda_cmake_macros.h"
    if not (torch_dir() / "include" / macros).exists():
        shims[macros] = CUDA_MACROS_HEADER
    return shims


def compiler_path(language: Language) -> Path | None:
    found = shutil.which("nvcc" if language == "cuda" else "hipcc")
    return Path(found) if found else None


def toolchain_problem(language: Language) -> str | None:
    """Why this machine cannot build `language` at all, or None."""
    if compiler_path(language) is None:
        return f"{'nvcc' if language == 'cuda' else 'hipcc'} is not installed on this machine"
    if language == "hip" and torch_flavor() != "rocm" and not Path("/usr/include/thrust/complex.h").exists():
        return "HIP builds against a non-ROCm torch need thrust/complex.h: apt-get install libthrust-dev"
    return None


def cuda_home() -> Path | None:
    for name in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(name):
            return Path(os.environ[name])
    if Path("/usr/local/cuda/bin/nvcc").exists():
        return Path("/usr/local/cuda")
    nvcc = compiler_path("cuda")
    return nvcc.resolve().parent.parent if nvcc else None


def validate_arch(language: Language, arch: str) -> str:
    if not _ARCH_PATTERN[language].match(arch):
        raise ValueError(f"arch {arch!r} is not a {language} target (e.g. {DEFAULT_ARCH[language]})")
    return arch


def arch_specific(arch: str) -> str:
    """The arch-specific CUDA target of a GPU's compute capability: sm_90 -> sm_90a (also 10.x,
    12.x). The 'a' targets unlock wgmma / TMA / tcgen05 and run only on that exact arch, which is
    what a build for the machine's own GPU wants. Other targets come back unchanged."""
    match = re.fullmatch(r"sm_(\d+)(\d)", arch)
    return f"{arch}a" if match and match.group(1) in ("9", "10", "12") else arch


@lru_cache(maxsize=4)  # the machine's GPU does not change while a process runs
def local_gpu_arch(language: Language) -> str | None:
    """The arch of this machine's first GPU, asked of the driver tools; None without one."""
    if language == "cuda" and shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"]
        done = subprocess.run(query, capture_output=True, text=True, timeout=30, check=False)
        lines = done.stdout.split()
        if done.returncode == 0 and lines and re.match(r"^\d+\.\d+$", lines[0]):
            major, minor = lines[0].split(".")
            return arch_specific(f"sm_{major}{minor}")
    if language == "hip" and shutil.which("rocm_agent_enumerator"):
        done = subprocess.run(["rocm_agent_enumerator"], capture_output=True, text=True, timeout=30, check=False)
        agents = [a for a in done.stdout.split() if a.startswith("gfx") and a != "gfx000"]
        if done.returncode == 0 and agents:
            return agents[0]
    return None


def default_arch(language: Language) -> str:
    return local_gpu_arch(language) or DEFAULT_ARCH[language]


@lru_cache(maxsize=8)  # keyed by the compiler's path: hipcc --version alone takes seconds
def _version_line(command: tuple[str, ...], pattern: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HIP_PLATFORM": "amd"})
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(0).strip() if match else "unknown"


def hip_env() -> dict[str, str]:
    """hipcc picks the CUDA platform when nvcc is on PATH; we always mean AMD."""
    return {"HIP_PLATFORM": "amd"}


def compile_command(language: Language, arch: str, source: Path, output: Path, shim_dir: Path) -> list[str]:
    """Source file -> object file, with the compiler's per-kernel resource report on."""
    includes = ["-I", str(shim_dir)]
    for folder in torch_include_dirs():
        includes += ["-isystem", str(folder)]
    common = ["-O3", "-D_GLIBCXX_USE_CXX11_ABI=1", "-DNDEBUG", *includes]
    if language == "cuda":
        common.insert(0, "-std=c++20")  # what torch's cpp_extension uses
        number = arch.removeprefix("sm_")
        return [str(compiler_path("cuda") or "nvcc"), "-c", str(source), "-o", str(output), *common,
                f"-gencode=arch=compute_{number},code=sm_{number}", "--resource-usage",
                "-Xcompiler", "-fPIC", "--expt-relaxed-constexpr", *TORCH_NVCC_DEFINES]
    hip_flags = [f"--offload-arch={arch}", "-fPIC", "-Rpass-analysis=kernel-resource-usage"]
    if torch_flavor() != "rocm":
        # Debian's clang-15 (HIP 5.2) crashes on torch 2.13's headers in C++20 mode, and a
        # CPU torch's headers want thrust/complex.h under __HIPCC__: NVIDIA's header-only
        # Thrust (libthrust-dev) on its CPP backend provides it. A ROCm torch needs neither.
        hip_flags += ["-std=c++17", "-DTHRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP"]
    else:
        hip_flags += ["-std=c++20", "-D__HIP_PLATFORM_AMD__=1", "-DUSE_ROCM=1"]
    return [str(compiler_path("hip") or "hipcc"), "-c", "-x", "hip", str(source), "-o", str(output), *common,
            *hip_flags]


def link_command(language: Language, arch: str, objects: list[Path], output: Path) -> list[str]:
    """Objects -> a shared library that torch.ops.load_library can load."""
    lib = torch_dir() / "lib"
    torch_libs = ["-lc10", "-ltorch_cpu", "-ltorch"]
    runtime: list[str] = []
    flavor = torch_flavor()
    if language == "cuda":
        torch_libs += ["-lc10_cuda", "-ltorch_cuda"] if flavor == "cuda" else []
        home = cuda_home()
        runtime = [f"-L{home}/lib64", f"-Wl,-rpath,{home}/lib64", "-lcudart"] if home else ["-lcudart"]
        linker = "g++"
    else:
        torch_libs += ["-lc10_hip", "-ltorch_hip"] if flavor == "rocm" else []
        runtime = ["-lamdhip64", f"--offload-arch={arch}"]  # the arch spares hipcc probing for a GPU
        linker = str(compiler_path("hip") or "hipcc")
    # --no-undefined: a symbol this torch lacks (e.g. c10::cuda on a CPU torch) fails
    # here, not later inside torch.ops.load_library. -Bsymbolic-functions: a function the
    # candidate defines binds to its own body, never to a same-named one elsewhere in the
    # process (defining `extern "C" int open(...)` or a libtorch method must not reach theirs).
    return [linker, "-shared", "-Wl,--no-undefined", "-Wl,-Bsymbolic-functions", "-o", str(output), *map(str, objects), f"-L{lib}", f"-Wl,-rpath,{lib}",
            *torch_libs, *runtime]


def toolchain_info(language: Language) -> dict[str, str]:
    """Compiler path and version, torch version and flavor, and a hash of the flags."""
    compiler = compiler_path(language)
    if compiler is None:
        version = "missing"
    elif language == "cuda":
        version = _version_line((str(compiler), "--version"), r"release [\d.]+, V[\d.]+")
    else:
        version = _version_line((str(compiler), "--version"), r"HIP version: \S+")
    probe = compile_command(language, DEFAULT_ARCH[language], Path("x"), Path("y"), Path("shim"))[1:]
    flags = " ".join([*probe, *link_command(language, DEFAULT_ARCH[language], [], Path("z"))[1:],
                      json.dumps(shim_headers(), sort_keys=True), BUILD_RECIPE])
    return {
        "compiler": str(compiler) if compiler else "missing",
        "compiler_version": version,
        "torch": importlib.metadata.version("torch"),
        "torch_flavor": torch_flavor(),
        "flags_sha256": hashlib.sha256(flags.encode()).hexdigest()[:16],
        "recipe": BUILD_RECIPE,
    }
