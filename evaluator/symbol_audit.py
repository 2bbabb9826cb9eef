"""Audit a built CUDA / HIP candidate by what it links to, not by how its source is spelled.

Owns: `audit_library(path)`: read the dynamic symbol table of the built library (or, where
no library could be linked here, the object's symbol table) with binutils' `readelf` and
`c++filt`, and return one reject-level Violation per symbol that is
- imported (undefined, weak undefined included: a weak reference links despite
  `--no-undefined` and resolves at load time to whatever the process has, e.g. CPython's
  API) and not on the allow-list (symbol_allowlist.py), rule `native-symbol-not-allowed`;
- defined and exported under an unmangled name that libc or CPython also export (the
  dynamic linker resolves such a name to the first definition in the process, so
  `extern "C" int mkfifo(...) { return 0; }` would call libc's), rule `native-symbol-shadows`.
The link adds -Bsymbolic-functions, so a function defined in the library binds to itself
anyway; the shadow check also covers data (`environ`) and stays as defence in depth.
Does not own: the allow-list (symbol_allowlist.py), building (build.py) or the source text
checks (static_native.py, build_guard.py).

What this cannot see: addresses computed at run time (a pointer into libc found from an
allowed symbol's address plus an offset, or by walking the loader's tables in memory), raw
system-call instructions (static_native refuses `asm` that spells them) and device code.
The sandbox that runs the child is the boundary there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from warpsmith.evaluator.symbol_allowlist import classify, denial, kind_of
from warpsmith.records.evaluation import Violation

# readelf -W: "  12: 0000000000000000     0 FUNC    WEAK   DEFAULT  UND name@VER (3)"
_ROW = re.compile(r"^\s*\d+:\s+[0-9a-fA-F]+\s+\S+\s+(\w+)\s+(\w+)\s+(\w+)\s+(\S+)\s+(\S+)")
# Names every shared library defines (linker markers and init / fini sections).
LINKER_NAMES = frozenset({"_init", "_fini", "__bss_start", "_edata", "_end", "_DYNAMIC", "_GLOBAL_OFFSET_TABLE_"})
TOOL_TIMEOUT_S = 120


class AuditUnavailable(RuntimeError):
    """binutils is missing: the library cannot be audited, so it must not be loaded."""


@dataclass(frozen=True)
class Symbol:
    raw: str  # version suffix cut
    plain: str  # c++filt --no-params
    full: str  # c++filt, with parameters (for messages)
    kind: str  # FUNC, OBJECT, NOTYPE, ...
    bind: str  # GLOBAL, WEAK, UNIQUE
    visibility: str
    undefined: bool


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise AuditUnavailable(f"{name} (binutils) is not installed: the built library cannot be audited")
    return found


def _demangle(names: list[str], *, params: bool) -> list[str]:
    if not names:
        return []
    flags = [] if params else ["--no-params"]
    done = subprocess.run([_tool("c++filt"), *flags], input="\n".join(names) + "\n", capture_output=True,
                          text=True, timeout=TOOL_TIMEOUT_S, check=True)
    out = done.stdout.splitlines()
    return out if len(out) == len(names) else names


def read_symbols(path: Path) -> list[Symbol]:
    """The global and weak symbols of a shared library's dynamic table, or of an object's table."""
    dynamic = path.suffix != ".o"
    command = [_tool("readelf"), "--wide", "--dyn-syms" if dynamic else "--syms", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise AuditUnavailable(f"readelf could not read the built library: {done.stderr.strip()[:200]}")
    rows: list[tuple[str, str, str, str, bool]] = []
    for line in done.stdout.splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        kind, bind, visibility, section, name = match.groups()
        if bind not in ("GLOBAL", "WEAK", "UNIQUE") or not name:
            continue
        rows.append((name.split("@")[0], kind, bind, visibility, section == "UND"))
    raws = [r[0] for r in rows]
    plains, fulls = _demangle(raws, params=False), _demangle(raws, params=True)
    return [Symbol(raw, plain, full, kind, bind, vis, und)
            for (raw, kind, bind, vis, und), plain, full in zip(rows, plains, fulls, strict=True)]


@lru_cache(maxsize=1)
def libc_exports() -> frozenset[str]:
    """Names libc and libm export (read from the libraries this process has mapped)."""
    names: set[str] = set()
    for lib in _mapped_libraries(("libc.so", "libm.so")):
        done = subprocess.run([_tool("readelf"), "--wide", "--dyn-syms", str(lib)], capture_output=True,
                              text=True, timeout=TOOL_TIMEOUT_S, check=False)
        for line in done.stdout.splitlines():
            match = _ROW.match(line)
            if match and match.group(4) != "UND" and match.group(2) in ("GLOBAL", "WEAK"):
                names.add(match.group(5).split("@")[0])
    return frozenset(names)


def _mapped_libraries(stems: tuple[str, ...]) -> list[Path]:
    found: set[str] = set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1] if line.split() else ""
        if path.startswith("/") and Path(path).name.startswith(stems):
            found.add(path)
    return [Path(p) for p in sorted(found)]


def _shadows(symbol: Symbol) -> bool:
    if symbol.undefined or symbol.raw.startswith("_Z") or symbol.raw in LINKER_NAMES:
        return False
    if symbol.visibility not in ("DEFAULT", "PROTECTED"):
        return False  # not exported: nothing outside the library can be bound to it
    return symbol.raw.startswith(("Py", "_Py")) or symbol.raw in libc_exports()


def audit_symbols(symbols: list[Symbol]) -> list[Violation]:
    """One Violation per imported symbol off the allow-list and per exported libc / CPython name."""
    found: list[Violation] = []
    for symbol in symbols:
        weak = " (weak)" if symbol.bind == "WEAK" else ""
        if symbol.undefined and classify(symbol.raw, symbol.plain) is None:
            why = denial(symbol.raw) or kind_of(symbol.plain)
            name = symbol.full if symbol.full == symbol.raw else f"{symbol.full} [{symbol.raw}]"
            found.append(Violation(rule="native-symbol-not-allowed",
                                   message=f"the built library imports {name}{weak}: {why}"))
        elif _shadows(symbol):
            found.append(Violation(rule="native-symbol-shadows",
                                   message=f"the built library defines {symbol.raw}{weak}, a name libc or CPython "
                                           f"export: the loader could bind it to theirs"))
    return found


def audit_library(path: Path) -> list[Violation]:
    """Audit a built .so (dynamic symbols) or, where nothing was linked, its .o. Raises
    AuditUnavailable without binutils: the caller must then refuse to load the library."""
    return audit_symbols(read_symbols(path))


def imported_names(path: Path) -> list[str]:
    """The raw names a library imports (for the docs and the tests)."""
    return sorted({s.raw for s in read_symbols(path) if s.undefined})
