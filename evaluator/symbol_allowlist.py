"""The one list of dynamic symbols a built CUDA / HIP candidate may import.

Owns: the allow-list, as data, one group per reason (`GROUPS`), the few names refused even
inside an allowed family (`DENIED`), and `classify(raw, plain)`: the group that allows a
symbol, or None. Does not own: reading symbol tables (symbol_audit.py) or turning a refusal
into a Violation (symbol_audit.py).

Names are matched in two spellings: `raw` is the symbol as the linker sees it (version suffix
cut: `memcpy`, `_ZN2at4_ops5empty4callE...`), `plain` is c++filt's `--no-params` spelling
(`at::_ops::empty::call`, `vtable for std::basic_ios<...>`, `operator new`). Derived from the
undefined symbols of the shipped CUDA seeds (tasklib/*/seeds/cuda.cu) and the build tests'
kernel built with nvcc 13 against torch 2.13 (docs/builds.md lists them); a name that an
honest kernel needs and this list lacks is a one-line change here, named in the rejection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Operators that allocate, reshape or describe: the native spelling of the tasks'
# BASE_ALLOWED_TORCH_OPS (at::_ops::<name>::call is what every at:: / Tensor method calls).
ALLOCATION_AND_VIEW_OPS = frozenset({
    "empty", "empty_memory_format", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
    "zeros", "zeros_like", "new_zeros", "full", "full_like", "new_full", "view", "view_dtype", "reshape",
    "_reshape_alias", "contiguous", "flatten_using_ints", "unsqueeze", "squeeze", "squeeze_dim", "squeeze_dims",
    "expand", "as_strided", "t", "transpose_int", "alias",
})


@dataclass(frozen=True)
class Group:
    """Symbols allowed for one reason: exact raw names, raw-name prefixes, plain-name prefixes
    (after 'vtable for ' and similar are cut), plain-name patterns."""

    name: str
    why: str
    raw: frozenset[str] = frozenset()
    raw_prefixes: tuple[str, ...] = ()
    plain_prefixes: tuple[str, ...] = ()
    plain_patterns: tuple[re.Pattern[str], ...] = ()


GROUPS: tuple[Group, ...] = (
    Group("compiler-runtime", "emitted by g++ / nvcc / hipcc themselves: static constructors, exceptions, "
          "unwinding, guard variables, stack protector, and the host stub of a __device__ function (exit)",
          raw=frozenset({
              "_GLOBAL_OFFSET_TABLE_", "__dso_handle", "__gxx_personality_v0", "_Unwind_Resume", "__cxa_atexit",
              "__cxa_finalize", "__cxa_guard_acquire", "__cxa_guard_release", "__cxa_guard_abort",
              "__cxa_begin_catch", "__cxa_end_catch", "__cxa_rethrow", "__cxa_throw", "__cxa_allocate_exception",
              "__cxa_free_exception", "__cxa_pure_virtual", "__cxa_deleted_virtual", "__cxa_bad_cast",
              "__cxa_bad_typeid", "__cxa_throw_bad_array_new_length", "__cxa_call_unexpected",
              "__cxa_get_exception_ptr", "__cxa_thread_atexit", "__cxa_thread_atexit_impl", "__libc_single_threaded",
              "__gmon_start__", "_ITM_registerTMCloneTable", "_ITM_deregisterTMCloneTable", "__stack_chk_fail",
              "__tls_get_addr", "atexit", "exit", "abort", "__assert_fail", "__errno_location",
          }),
          plain_prefixes=("__cxxabiv1::",)),
    Group("libc-memory-strings", "memory and string helpers that touch only the caller's own buffers "
          "(TORCH_CHECK messages, std::string, std::vector); no file, process or network call is here",
          raw=frozenset({
              "memcpy", "memmove", "memset", "memcmp", "memchr", "strlen", "strnlen", "strcmp", "strncmp", "strchr",
              "strrchr", "strstr", "strcpy", "strncpy", "malloc", "calloc", "realloc", "free", "posix_memalign",
              "aligned_alloc", "snprintf", "vsnprintf", "__snprintf_chk", "__vsnprintf_chk", "__memcpy_chk",
              "__memmove_chk", "__memset_chk", "__strcpy_chk", "__strncpy_chk", "__strlen_chk", "strtol", "strtoll",
              "strtoul", "strtoull", "strtod", "strtof", "__isoc23_strtol", "__isoc23_strtoll", "__isoc23_strtoul",
              "__isoc23_strtoull",
          })),
    Group("libc-threads-once", "what libstdc++'s call_once, function-local statics and std::mutex emit; "
          "no thread creation", raw=frozenset({
              "pthread_once", "pthread_mutex_lock", "pthread_mutex_unlock", "__pthread_key_create",
              "pthread_key_create", "pthread_getspecific", "pthread_setspecific",
          })),
    Group("libm", "host math the compiler may not inline",
          raw=frozenset(f"{name}{suffix}" for suffix in ("", "f") for name in (
              "sqrt", "cbrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "pow", "sin", "cos", "tan",
              "sinh", "cosh", "tanh", "asin", "acos", "atan", "atan2", "erf", "erfc", "fabs", "floor", "ceil", "round",
              "trunc", "rint", "nearbyint", "lround", "llround", "lrint", "llrint", "fmod", "fmin", "fmax", "hypot",
              "frexp", "ldexp", "modf", "remainder", "copysign", "nextafter"))),
    Group("libstdc++", "operator new / delete, std::__throw_*, and the string / stringstream / container "
          "internals that torch's headers (TORCH_CHECK, c10::str) and the candidate's std:: code emit; "
          "no file streams, threads, clocks or std::cout",
          plain_prefixes=(
              "operator new", "operator delete", "std::__throw_", "std::__cxx11::basic_string",
              "std::basic_string", "std::__cxx11::basic_ostringstream", "std::__cxx11::basic_istringstream",
              "std::__cxx11::basic_stringstream", "std::__cxx11::basic_stringbuf", "std::basic_ostream",
              "std::basic_istream", "std::basic_iostream", "std::basic_ios", "std::basic_streambuf", "std::ios_base",
              "std::locale", "std::__ostream_insert", "std::_Rb_tree_", "std::_Hash_bytes",
              "std::__detail::_Prime_rehash_policy", "std::__detail::_List_node_base", "std::bad_alloc",
              "std::bad_array_new_length", "std::exception", "std::runtime_error", "std::logic_error",
              "std::invalid_argument", "std::out_of_range", "std::length_error", "std::domain_error",
              "std::overflow_error", "std::range_error", "std::bad_cast", "std::bad_function_call",
              "std::bad_variant_access", "std::bad_optional_access", "std::type_info", "std::__once_call",
              "std::__once_callable", "std::_Sp_make_shared_tag", "std::terminate", "std::nothrow",
              "std::__glibcxx_assert_fail", "std::_V2::error_category", "std::__cxx11::to_string",
          )),
    Group("cuda-runtime", "the CUDA runtime (libcudart): nvcc's kernel registration and launch stubs "
          "(__cuda*) and the cuda* API that c10::cuda's guards and events call; the calls that reach past "
          "the runtime (driver entry points, IPC, host callbacks, graphs, new streams, loading code "
          "from files) are in DENIED", raw_prefixes=("cuda", "__cuda")),
    Group("hip-runtime", "the HIP runtime (libamdhip64), the same as cuda-runtime for hipcc",
          raw_prefixes=("hip", "__hip")),
    Group("c10-core", "c10's tensor metadata (TensorImpl, StorageImpl, SymInt), errors and warnings "
          "(TORCH_CHECK), the dtype table, device guards and the CUDA / HIP stream and device helpers "
          "(c10::cuda, c10::hip): what allocation, views and metadata need; not the dispatcher",
          plain_prefixes=(
              "c10::detail::torchCheckFail", "c10::detail::torchInternalAssertFail", "c10::detail::torchCheckMsgImpl",
              "c10::detail::maybe_wrap_dim_slow", "c10::detail::infer_schema::", "c10::Error", "c10::ValueError",
              "c10::TypeError", "c10::IndexError", "c10::NotImplementedError", "c10::OutOfMemoryError",
              "c10::Warning", "c10::warn", "c10::WarningUtils::", "c10::throwNullDataPtrError",
              "c10::warnDeprecatedDataPtr", "c10::get_backtrace", "c10::SourceLocation", "c10::operator<<",
              "c10::DeviceTypeName", "c10::Device::", "c10::toString", "c10::TensorImpl::", "c10::StorageImpl::",
              "c10::UndefinedTensorImpl::", "c10::SymInt::", "c10::SymBool::", "c10::SymFloat::",
              "c10::SymbolicShapeMeta::", "c10::SymNodeImpl", "c10::IValue::", "c10::Type::", "c10::Stream",
              "c10::impl::device_guard_impl_registry", "c10::impl::GPUTrace::", "c10::impl::DeviceGuardImplInterface",
              "c10::GetAllocator", "c10::cuda::", "c10::hip::", "caffe2::TypeMeta::",
          ),
          plain_patterns=(re.compile(r"^c10::\w*Type::get$"),)),
    Group("aten-allocation-views", "ATen's allocation, view and metadata entry points (the operators in "
          "ALLOCATION_AND_VIEW_OPS, data_ptr and contiguous); every other at::_ops operator is compute",
          plain_prefixes=(
              "at::TensorBase::__dispatch_contiguous", "at::TensorBase::const_data_ptr", "at::TensorBase::data_ptr",
              "at::TensorBase::mutable_data_ptr", "at::TensorBase::toString", "at::TensorBase::enforce_invariants",
              "at::Tensor::new_empty", "at::Tensor::new_zeros", "at::Tensor::new_full", "at::Tensor::expect_contiguous",
              "at::detail::empty_", "at::cuda::getCurrentDeviceProperties", "at::cuda::getDeviceProperties",
              "at::cuda::warp_size",
          ),
          plain_patterns=(re.compile(rf"^at::_ops::({'|'.join(sorted(ALLOCATION_AND_VIEW_OPS))})::call$"),)),
    Group("torch-op-registration", "the TORCH_LIBRARY glue the build appends: torch::Library, "
          "torch::CppFunction and schema parsing", plain_prefixes=(
              "torch::Library::", "torch::CppFunction::", "torch::jit::parseSchemaOrName", "torch::detail::TorchLibraryInit",
          )),
)

# Refused even where a group above would allow the family: each reaches past what a kernel needs.
DENIED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(cudaGetDriverEntryPoint|cuGetProcAddress|hipGetProcAddress)"), "driver entry points by name"),
    (re.compile(r"^(cuda|hip)Ipc"), "memory of other processes"),
    (re.compile(r"^(cuda|hip)(LaunchHostFunc|StreamAddCallback)"), "host callbacks"),
    (re.compile(r"^(cuda|hip)(Graph|StreamBeginCapture|StreamCreate|UserObject)"), "streams and graphs"),
    (re.compile(r"^(cudaLibraryLoad|cudaLibraryGet|hipModuleLoad|hipModuleGet)"), "loading code"),
)
# How an un-listed name is described in the rejection (first match wins).
KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^_?Py"), "the CPython API"),
    (re.compile(r"^at::(_ops|native|cpu|cuda|compositeexplicitautograd|\w+)::"), "an ATen operator (compute)"),
    (re.compile(r"^c10::(Dispatcher|OperatorHandle|impl::OperatorEntry|KernelFunction|BoxedKernel)"),
     "the operator dispatcher"),
)
# What c++filt prefixes to a data symbol's class name.
SPECIAL_PREFIXES = ("construction vtable for ", "vtable for ", "VTT for ", "typeinfo name for ", "typeinfo for ",
                    "guard variable for ", "TLS init function for ", "TLS wrapper function for ", "non-virtual thunk to ",
                    "virtual thunk to ")


def strip_special(plain: str) -> str:
    for prefix in SPECIAL_PREFIXES:
        if plain.startswith(prefix):
            return plain[len(prefix):]
    return plain


def denial(raw: str) -> str | None:
    """Why a name of an allowed family is refused anyway, or None."""
    return next((why for pattern, why in DENIED if pattern.match(raw)), None)


def classify(raw: str, plain: str) -> str | None:
    """The name of the group that allows this symbol, or None."""
    if denial(raw) is not None:
        return None
    name = strip_special(plain)
    for group in GROUPS:
        if raw in group.raw or raw.startswith(group.raw_prefixes):
            return group.name
        if group.plain_prefixes and name.startswith(group.plain_prefixes):
            return group.name
        if any(p.match(name) for p in group.plain_patterns):
            return group.name
    return None


def kind_of(plain: str) -> str:
    name = strip_special(plain)
    return next((kind for pattern, kind in KINDS if pattern.match(name)), "not on the allow-list")
