"""Static checks for native (CUDA / HIP) candidates: text rules on comment- and string-free source.

Owns: the rules a `.cu` / `.hip` candidate must pass, read on the text that the one C++
lexer (static_cpp_lexer.py) leaves without comments and literals. Does not own: compiling it (build.py) or running it (child.py).

What text checks cannot catch, and why the sandbox is the line there: token pasting
(`##`) and macros that assemble a forbidden name, function pointers fetched at run time
(e.g. from a table the source builds), inline PTX / GCN assembly that does anything the
hardware allows, out-of-bounds reads and writes on the device, and any libc function not
named here. The child that runs the library has no network, a scrubbed environment, a
private working directory, rlimits and (where Landlock exists) no view of the store.
"""

from __future__ import annotations

import re

from warpsmith.evaluator.static_cpp_lexer import strip_comments, strip_literals
from warpsmith.records.evaluation import Violation

# Host functions that reach files, processes, the network, the environment or raw memory of other
# processes: refused wherever the identifier appears (a call, `&system`, `#define RUN system`).
FORBIDDEN_IDENTIFIERS = frozenset(
    {
        "fopen", "freopen", "fdopen", "popen", "system", "execl", "execlp", "execle", "execv", "execvp",
        "execvpe", "execve", "fexecve", "dlopen", "dlsym", "dlmopen", "socket", "socketpair", "getenv",
        "secure_getenv", "setenv", "putenv", "unsetenv", "environ", "__environ", "ptrace", "fork", "vfork",
        "syscall", "mmap", "mmap64", "mprotect", "unlink", "unlinkat", "posix_spawn", "posix_spawnp",
        "dup", "dup2", "dup3", "ioctl", "prctl", "process_vm_readv", "process_vm_writev", "sendto", "sendmsg",
        "recvfrom", "recvmsg", "chmod", "fchmod", "chown", "creat", "openat", "pthread_create", "atexit",
        "at_quick_exit", "getaddrinfo", "gethostbyname", "inotify_init", "memfd_create", "pipe", "pipe2",
        "mkfifo", "mkfifoat", "mknod", "mknodat", "renameat", "renameat2", "linkat", "symlink", "symlinkat",
        "readlink", "readlinkat", "ftruncate", "opendir", "fdopendir", "open64", "openat64", "fopen64", "creat64",
        "execveat", "dlvsym", "mount", "umount", "umount2", "chdir", "fchdir", "chroot", "setuid", "setgid",
    }
)
# Ordinary words that are only refused when called (a variable may be called `read`).
FORBIDDEN_CALLS = frozenset(
    {
        "open", "read", "write", "remove", "rename", "kill", "signal", "sigaction", "exit", "_exit", "abort",
        "sleep", "usleep", "nanosleep", "connect", "bind", "listen", "accept", "clone", "send", "recv",
        "quick_exit", "raise", "link", "truncate",
    }
)
FORBIDDEN_HEADERS = re.compile(
    r"^(unistd\.h|dlfcn\.h|spawn\.h|fcntl\.h|netdb\.h|pthread\.h|signal\.h|csignal|fstream|filesystem|thread|"
    r"future|sys/.*|netinet/.*|arpa/.*|linux/.*)$"
)
FORBIDDEN_TYPES = re.compile(r"\b(std::)?(ifstream|ofstream|fstream|filebuf|thread|jthread|async|filesystem|FILE)\b")
# `using namespace at;` or `namespace A = torch;` make every ATen op callable without the prefix.
NAMESPACE_ESCAPE = re.compile(r"\busing\s+namespace\s+(at|torch|c10|aten)\b|\bnamespace\s+\w+\s*=\s*(::)?(at|torch|c10)\b"
                              r"|\busing\s+(::)?(at|torch)::\w+\s*;")
# Streams and graphs: work that the device-wide timing sync may not see, or replayed results.
FORBIDDEN_STREAM_API = re.compile(
    r"\b(cudaStreamCreate\w*|hipStreamCreate\w*|cudaGraph\w*|hipGraph\w*|cudaStreamBeginCapture\w*|"
    r"hipStreamBeginCapture\w*|getStreamFromPool|setCurrentCUDAStream|setCurrentHIPStream|"
    r"cudaLaunchHostFunc|hipLaunchHostFunc|CUDAStreamGuard|HIPStreamGuard|cudaMallocHost|cudaHostAlloc)\b"
)
# at:: / torch:: names a candidate may use: types, allocation, stream and device helpers.
ALLOWED_NAMESPACED = frozenset(
    {
        "Tensor", "TensorOptions", "ScalarType", "Scalar", "Device", "DeviceType", "IntArrayRef", "Half",
        "BFloat16", "Layout", "MemoryFormat", "TensorAccessor", "PackedTensorAccessor32",
        "PackedTensorAccessor64", "RestrictPtrTraits", "DefaultPtrTraits", "empty", "empty_like",
        "empty_strided", "zeros", "zeros_like", "full", "full_like", "dtype", "device", "cuda", "hip",
        "kCUDA", "kHIP", "kCPU", "kFloat", "kHalf", "kBFloat16", "kInt", "kLong", "kByte", "kChar", "kBool",
        "kShort", "kDouble", "kFloat32", "kFloat16", "kInt32", "kInt64", "kFloat8_e4m3fn", "kStrided",
        "Float8_e4m3fn", "OptionalCUDAGuard", "CUDAGuard", "getCurrentCUDAStream", "getCurrentHIPStream",
        "OptionalHIPGuard", "HIPGuard", "Generator", "check", "detail", "native",
    }
)
# Tensor methods that only describe or allocate; any other `.method(` of torch's is compute.
ALLOWED_METHODS = frozenset(
    {
        "size", "sizes", "stride", "strides", "numel", "dim", "data_ptr", "const_data_ptr",
        "mutable_data_ptr", "options", "device", "dtype", "scalar_type", "is_contiguous", "is_cuda",
        "element_size", "itemsize", "nbytes", "view", "reshape", "contiguous", "new_empty", "new_zeros",
        "get_device", "defined", "storage_offset", "packed_accessor32", "packed_accessor64", "accessor",
        "flatten", "unsqueeze", "squeeze", "expand", "as_strided", "t", "transpose", "layout", "stream",
        "index", "value", "has_value", "str", "c_str", "data", "begin", "end", "push_back", "emplace_back",
        "at", "front", "back", "empty", "resize", "reserve", "min", "max", "x", "y", "z", "w",
    }
)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"\n]*)[>\"]", re.MULTILINE)
CALL = re.compile(r"(?<!\.)(?<!->)\b([A-Za-z_]\w*)\s*\(")
# `(open)(...)`, `(::open)(...)`: a parenthesized name called. (`auto f = open;` still passes: the
# symbol audit of the built library is the check that sees every import.)
PAREN_CALL = re.compile(r"\(\s*(?:::\s*)?([A-Za-z_]\w*)\s*\)\s*\(")
# CPython's API (Py_Initialize, PyRun_SimpleString, _PyRuntime): Python inside the child.
PYTHON_API = re.compile(r"\b_?Py[A-Z_]\w*")
# A C-linkage declaration can name any library function by hand (`extern "C" int mkfifo(...)`), and a
# weak one links even where nothing defines it; only `extern "C" __global__` kernels have a reason.
EXTERN_C = re.compile(r"\bextern\s*\"\"\s*(\{|[^;{]*)")
WEAK = re.compile(r"\b(?:__)?weak(?:ref)?(?:__)?\b|\balias\s*\(\s*\"\"")
IDENTIFIER = re.compile(r"(?<!\.)(?<!->)\b([A-Za-z_]\w*)\b")
NAMESPACED = re.compile(r"\b(?:at|torch)::(\w+)(?:::(\w+))?")
METHOD_CALL = re.compile(r"(?:\.|->)\s*([A-Za-z_]\w*)\s*(?:<[^<>;()]*>)?\s*\(")
ASM = re.compile(r"\b(?:asm|__asm__|__asm)\b[^;]*", re.DOTALL)
# An asm label (`int run(const char*) __asm__("system");`, `extern char** e asm("environ");`) binds a
# harmless name to any symbol: a declarator (`)`, `]` or a name) directly followed by asm(...).
# Inline assembly is a statement (`asm volatile(...)`, or `asm(...)` after `;`, `{`, `}`).
ASM_LABEL = re.compile(r"(?:[)\]]|\b(?!else\b|do\b)[A-Za-z_]\w*)\s*\b(?:asm|__asm__|__asm)\s*\(")


def check_native_source(source: str, compute_methods: frozenset[str]) -> list[Violation]:
    """Reject-level violations of a CUDA / HIP candidate. `compute_methods`: torch.Tensor method names
    that compute (the caller passes dir(torch.Tensor) minus the task's allowed ops)."""
    found: list[Violation] = []
    without_comments = strip_comments(source)
    for match in INCLUDE.finditer(without_comments):
        path = match.group(2).strip()
        if path.startswith("/") or ".." in path or "\\" in path:
            found.append(_v("forbidden-include", f"#include of {path!r} (absolute or parent path)", without_comments, match))
        elif FORBIDDEN_HEADERS.match(path):
            found.append(_v("forbidden-include", f"#include <{path}>: files, processes or threads", without_comments, match))
    for match in re.finditer(r"^[ \t]*#[ \t]*include\b(?![ \t]*[<\"])", without_comments, re.MULTILINE):
        found.append(_v("forbidden-include", "#include must name a file in <...> or \"...\"", without_comments, match))
    code = strip_literals(without_comments)
    if "##" in code:
        found.append(_v("token-pasting", "## token pasting can assemble forbidden names", code, code.index("##")))
    for match in CALL.finditer(code):
        if match.group(1) in FORBIDDEN_CALLS:
            found.append(_v("forbidden-call", f"call of {match.group(1)}()", code, match))
    for match in PAREN_CALL.finditer(code):
        if match.group(1) in FORBIDDEN_CALLS:
            found.append(_v("forbidden-call", f"call of ({match.group(1)})()", code, match))
    for match in IDENTIFIER.finditer(code):
        if match.group(1) in FORBIDDEN_IDENTIFIERS:
            found.append(_v("forbidden-call", f"use of {match.group(1)}", code, match))
    for match in PYTHON_API.finditer(code):
        found.append(_v("forbidden-call", f"use of {match.group(0)}: the CPython API", code, match))
    for match in EXTERN_C.finditer(code):
        if match.group(1) == "{" or "__global__" not in match.group(1):
            found.append(_v("forbidden-call", 'extern "C" declarations are refused (except __global__ kernels)',
                            code, match))
    for match in WEAK.finditer(code):
        found.append(_v("forbidden-call", "weak symbols and aliases are refused", code, match))
    for match in NAMESPACE_ESCAPE.finditer(code):
        found.append(_v("torch-op-not-allowed", f"{match.group(0).strip()}: name ATen ops with at::/torch::", code, match))
    for match in FORBIDDEN_TYPES.finditer(code):
        found.append(_v("forbidden-call", f"use of {match.group(0)}", code, match))
    for match in FORBIDDEN_STREAM_API.finditer(code):
        found.append(_v("stream", f"{match.group(1)}: streams and graphs are not allowed", code, match))
    for match in ASM.finditer(without_comments):
        # adjacent literals concatenate ("sys" "call"); raw bytes (.byte 0x0f, 0x05) are a syscall too
        text = "".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"', match.group(0))) + match.group(0)
        if re.search(r"syscall|sysenter|int\s*\$?0x80|\bsvc\b|\.byte|\.inst|\.word|\.long|\.quad", text):
            found.append(_v("forbidden-call", "inline assembly making a system call or raw bytes", without_comments, match))
        for name in re.findall(r"[A-Za-z_]\w*", text):
            if name in FORBIDDEN_IDENTIFIERS:
                found.append(_v("forbidden-call", f"inline assembly naming {name}", without_comments, match))
    for match in ASM_LABEL.finditer(code):
        found.append(_v("forbidden-call", "asm labels (a declaration followed by asm(\"symbol\")) can bind any "
                        "library symbol: refused; inline assembly is written `asm volatile(...)`", code, match))
    for match in NAMESPACED.finditer(code):
        name = match.group(1)
        if name not in ALLOWED_NAMESPACED:
            found.append(_v("torch-op-not-allowed", f"at::/torch::{name} is not allowed in a kernel", code, match))
    for match in METHOD_CALL.finditer(code):
        name = match.group(1)
        if name in compute_methods and name not in ALLOWED_METHODS:
            found.append(_v("torch-op-not-allowed", f".{name}(...) computes with torch", code, match))
    return found


def _v(rule: str, message: str, text: str, where: re.Match[str] | int) -> Violation:
    pos = where if isinstance(where, int) else where.start()
    return Violation(rule=rule, message=message, severity="reject", line=_line_of(text, pos))
