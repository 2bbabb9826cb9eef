"""The symbol audit on small real libraries built with gcc / g++ (fast), and the allow-list's edges.

Each library imports or defines exactly what a native attack would; the audit must name each
offending symbol and pass the ones an honest kernel's compiler emits.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from warpsmith.evaluator.symbol_allowlist import classify
from warpsmith.evaluator.symbol_audit import audit_library, imported_names, read_symbols

pytestmark = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("readelf") is None,
                                reason="g++ and binutils are needed")

# C: a call spelled `(open)(...)`, hand-declared prototypes, CPython declared weak (links with
# --no-undefined, resolves at load time inside a Python process), next to what an honest helper uses.
IMPORTS_C = r"""
#include <stddef.h>
extern int open(const char*, int, ...);
extern int mkfifo(const char*, unsigned int);
extern int renameat(int, const char*, int, const char*);
extern void Py_Initialize(void) __attribute__((weak));
extern int PyRun_SimpleString(const char*) __attribute__((weak));
extern void* memcpy(void*, const void*, size_t);
extern void* malloc(size_t);
extern double sqrt(double);

int attack(const char* path, char* buffer) {
  int fd = (open)(path, 0);
  mkfifo("fifo", 0600);
  renameat(-100, "a", -100, "b");
  if (Py_Initialize) Py_Initialize();
  if (PyRun_SimpleString) PyRun_SimpleString("import os");
  void* copy = malloc(16);
  memcpy(copy, buffer, 16);
  return fd + (int)sqrt((double)fd);
}
"""

# C: defining a libc name (function and data) instead of importing it; the dynamic linker could
# bind the name to libc's. A private helper with an unmangled name is fine.
SHADOWS_C = r"""
char** environ = 0;
int unlinkat(int dirfd, const char* path, int flags) { return dirfd + flags + (path != 0); }
int my_private_helper(int x) { return x * 2; }
"""

# C++: ATen compute through an operator entry point, next to the allocation entry point a kernel needs.
ATEN_CPP = r"""
namespace at { class Tensor; namespace _ops {
struct add_Tensor { static void call(const Tensor&, const Tensor&); };
struct empty_like { static void call(const Tensor&); };
} }
namespace c10 { struct Dispatcher { static Dispatcher& realSingleton(); }; }
void kernel(const at::Tensor& x) {
  at::_ops::empty_like::call(x);
  at::_ops::add_Tensor::call(x, x);
  c10::Dispatcher::realSingleton();
}
"""


def _shared(tmp_path: Path, name: str, source: str, *, cxx: bool = False) -> Path:
    suffix = ".cpp" if cxx else ".c"
    (tmp_path / f"{name}{suffix}").write_text(source)
    output = tmp_path / f"lib{name}.so"
    compiler = "g++" if cxx else "gcc"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-fno-builtin", "-o", str(output),
                    str(tmp_path / f"{name}{suffix}"), "-lm"], check=True, capture_output=True, timeout=120)
    return output


def _named(violations: list) -> dict[str, str]:
    """symbol -> rule, the symbol read from the message ('... imports NAME ...' / '... defines NAME, ...')."""
    return {re.search(r"(?:imports|defines) (\S+?)(?=\(|\s|: |,|$)", v.message).group(1): v.rule for v in violations}


def test_imports_off_the_allow_list_are_each_named(tmp_path: Path) -> None:
    library = _shared(tmp_path, "imports", IMPORTS_C)
    violations = audit_library(library)
    assert _named(violations) == {"open": "native-symbol-not-allowed", "mkfifo": "native-symbol-not-allowed",
                                  "renameat": "native-symbol-not-allowed",
                                  "Py_Initialize": "native-symbol-not-allowed",
                                  "PyRun_SimpleString": "native-symbol-not-allowed"}
    weak = {v.message for v in violations if "Py" in v.message}
    assert weak == {"the built library imports Py_Initialize (weak): the CPython API",
                    "the built library imports PyRun_SimpleString (weak): the CPython API"}
    # memcpy, malloc and sqrt are imported too, and allowed.
    assert {"memcpy", "malloc", "sqrt"} <= set(imported_names(library))


def test_weak_undefined_symbols_are_read_as_imports(tmp_path: Path) -> None:
    symbols = {s.raw: s for s in read_symbols(_shared(tmp_path, "imports", IMPORTS_C))}
    assert symbols["Py_Initialize"].undefined and symbols["Py_Initialize"].bind == "WEAK"


def test_defining_a_libc_name_is_refused_but_a_private_helper_is_not(tmp_path: Path) -> None:
    violations = audit_library(_shared(tmp_path, "shadows", SHADOWS_C))
    assert _named(violations) == {"environ": "native-symbol-shadows", "unlinkat": "native-symbol-shadows"}


def test_aten_compute_and_the_dispatcher_are_named_allocation_passes(tmp_path: Path) -> None:
    library = _shared(tmp_path, "aten", ATEN_CPP, cxx=True)
    messages = sorted(v.message for v in audit_library(library))
    assert messages == [
        "the built library imports at::_ops::add_Tensor::call(at::Tensor const&, at::Tensor const&) "
        "[_ZN2at4_ops10add_Tensor4callERKNS_6TensorES4_]: an ATen operator (compute)",
        "the built library imports c10::Dispatcher::realSingleton() [_ZN3c1010Dispatcher13realSingletonEv]: "
        "the operator dispatcher",
    ]


def test_the_object_file_is_audited_where_no_library_was_linked(tmp_path: Path) -> None:
    (tmp_path / "aten.cpp").write_text(ATEN_CPP)
    subprocess.run(["g++", "-c", "-fPIC", "-o", str(tmp_path / "aten.o"), str(tmp_path / "aten.cpp")],
                   check=True, capture_output=True, timeout=120)
    assert {v.message.split(" [")[0].split("imports ")[1] for v in audit_library(tmp_path / "aten.o")} == {
        "at::_ops::add_Tensor::call(at::Tensor const&, at::Tensor const&)", "c10::Dispatcher::realSingleton()"}


@pytest.mark.parametrize(("raw", "plain", "allowed"), [
    ("cudaMemcpyAsync", "cudaMemcpyAsync", "cuda-runtime"),
    ("__cudaRegisterFatBinary", "__cudaRegisterFatBinary", "cuda-runtime"),
    ("cudaGetDriverEntryPoint", "cudaGetDriverEntryPoint", None),
    ("cudaIpcOpenMemHandle", "cudaIpcOpenMemHandle", None),
    ("cudaLaunchHostFunc", "cudaLaunchHostFunc", None),
    ("cudaGraphLaunch", "cudaGraphLaunch", None),
    ("hipModuleLoad", "hipModuleLoad", None),
    ("hipLaunchKernel", "hipLaunchKernel", "hip-runtime"),
    ("_ZN2at4_ops5empty4callE", "at::_ops::empty::call", "aten-allocation-views"),
    ("_ZN2at4_ops6matmul4callE", "at::_ops::matmul::call", None),
    ("_ZN2at4_ops4view4callE", "at::_ops::view::call", "aten-allocation-views"),
    ("_ZN2at6native3addE", "at::native::add", None),
    ("_ZTVN10__cxxabiv117__class_type_infoE", "vtable for __cxxabiv1::__class_type_info", "compiler-runtime"),
    ("_ZTVSt9basic_iosIcSt11char_traitsIcEE", "vtable for std::basic_ios<char, std::char_traits<char> >",
     "libstdc++"),
    ("_ZSt4cout", "std::cout", None),
    ("_ZNSt13basic_filebufIcSt11char_traitsIcEE4openEPKcSt13_Ios_Openmode", "std::basic_filebuf<char>::open", None),
    ("_ZNSt6thread15_M_start_threadE", "std::thread::_M_start_thread", None),
    ("_ZN3c105utils7get_envE", "c10::utils::get_env", None),
    ("_ZN3c1013DynamicLibraryC1E", "c10::DynamicLibrary::DynamicLibrary", None),
    ("_ZN3c104cuda20getCurrentCUDAStreamEa", "c10::cuda::getCurrentCUDAStream", "c10-core"),
    ("_ZN3c1010TensorType3getEv", "c10::TensorType::get", "c10-core"),
    ("printf", "printf", None), ("system", "system", None), ("dlopen", "dlopen", None),
    ("memcpy", "memcpy", "libc-memory-strings"), ("expf", "expf", "libm"), ("exit", "exit", "compiler-runtime"),
])
def test_allow_list_edges(raw: str, plain: str, allowed: str | None) -> None:
    assert classify(raw, plain) == allowed


# A library that defines a libc name and calls it: which body runs depends on the link.
INTERPOSER_C = r"""
int getpid(void) { return -7; }
int call_it(void) { return getpid(); }
"""


def test_the_link_binds_a_candidates_own_function_to_itself(tmp_path: Path) -> None:
    """Without -Bsymbolic-functions the dynamic linker binds `getpid` to libc's (defining a name reaches
    the process's function of that name); with the flag the build's link uses, to the library's own."""
    import ctypes

    from warpsmith.evaluator.build_toolchain import link_command

    flag = "-Wl,-Bsymbolic-functions"
    assert flag in link_command("cuda", "sm_90a", [tmp_path / "k.o"], tmp_path / "k.so")
    (tmp_path / "interposer.c").write_text(INTERPOSER_C)
    results = {}
    for name, flags in (("plain", []), ("symbolic", [flag])):
        output = tmp_path / f"lib{name}.so"
        subprocess.run(["gcc", "-shared", "-fPIC", "-O0", *flags, "-o", str(output), str(tmp_path / "interposer.c")],
                       check=True, capture_output=True, timeout=120)
        results[name] = ctypes.CDLL(str(output)).call_it()
    assert results == {"plain": os.getpid(), "symbolic": -7}
