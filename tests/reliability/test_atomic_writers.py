"""Every file the package writes goes through :mod:`geodecoupage._io`.

An AST pass over ``geodecoupage/`` finds every call that writes a file
(``to_file``, ``to_csv``, ``to_parquet``, ``savefig``, ``save``,
``write_text``/``write_bytes`` on a path, ``open(..., "w")``,
``pyogrio.write_dataframe``, ``json.dump``, ``shutil.copy*``/``move``,
``os.replace``/``rename``, ``pooch.retrieve``...) and accepts it only when its
target is

* the temporary path bound by an enclosing ``with atomic_path(...) as tmp``;
* an in-memory buffer (``io.BytesIO``/``StringIO``, or none: ``to_csv()``
  returning a string);
* a parameter of a helper function, and every call of that helper in the
  package passes an accepted target (checked recursively);
* a call to a package writer that takes ``overwrite=`` (its own body is checked);
* or an entry of :data:`ALLOWED`, with the reason.

``write_text``/``write_bytes``/``write_json`` called as plain names must be the
helpers imported from :mod:`geodecoupage._io`. Not covered (cannot be told from
``str.replace`` or ``DataFrame.rename`` without types): ``Path.replace`` and
``Path.rename``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import geodecoupage

PACKAGE = Path(geodecoupage.__file__).resolve().parent

#: (module path relative to the package, enclosing function, callee): why it is fine.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("layers/territory.py", "_extract", "open"): (
        "zip members are copied into a fresh tempfile.TemporaryDirectory that is "
        "deleted after reading; never a user output"
    ),
    ("layers/_fetch.py", "fetch_layer", "retrieve"): (
        "pooch downloads into a temporary file and moves it into place when "
        "complete (its own atomic write), inside the data directory"
    ),
}

# callee name -> how to find the target: "self" (the receiver), an int (positional
# index), or None for the first positional argument / path keywords
_METHOD_TARGET: dict[str, str | int] = {
    "write_text": "self",
    "write_bytes": "self",
    "touch": "self",
    "to_file": 0,
    "to_csv": 0,
    "to_parquet": 0,
    "to_feather": 0,
    "to_excel": 0,
    "to_json": 0,
    "to_html": 0,
    "to_xml": 0,
    "to_pickle": 0,
    "to_hdf": 0,
    "savefig": 0,
    "save": 0,
    "write_dataframe": 1,
    "write_arrow": 1,
    "retrieve": -1,  # keyword ``path`` only
    "dump": 1,
    "savetxt": 0,
    "savez": 0,
    "savez_compressed": 0,
}
_MODULE_ONLY = {  # only as attributes of these modules
    "copy": {"shutil"},
    "copy2": {"shutil"},
    "copyfile": {"shutil"},
    "copytree": {"shutil"},
    "move": {"shutil"},
    "replace": {"os"},
    "rename": {"os"},
    "ZipFile": {"zipfile"},
}
_PATH_KEYWORDS = {"path", "path_or_buf", "fname", "filename", "buf", "file", "fp"}
_IO_HELPERS = {"write_text", "write_bytes", "write_json"}
_BUFFERS = {"BytesIO", "StringIO"}


@dataclass
class Finding:
    module: str
    function: str
    callee: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.function}(): {self.callee} {self.why}"


@dataclass
class Helper:
    """A function that writes to one of its parameters."""

    module: str
    function: str
    param: str
    index: int  # positional index in a call (``self`` already removed)
    line: int


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    helpers: list[Helper] = field(default_factory=list)
    allowed_seen: set[tuple[str, str, str]] = field(default_factory=set)
    package_writers: set[str] = field(default_factory=set)  # names using _io
    calls: list[tuple[str, str, ast.Call, frozenset[str], frozenset[str]]] = field(
        default_factory=list
    )  # (module, caller, call, atomic names, buffer names)


def _callee(call: ast.Call) -> tuple[str, str | None]:
    """(name, receiver module name or None)."""
    f = call.func
    if isinstance(f, ast.Name):
        return f.id, None
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else None
        return f.attr, base
    return "", None


def _names(node: ast.AST | None) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_buffer_call(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Call) and _callee(node)[0] in _BUFFERS


def _write_mode(call: ast.Call, pos: int) -> bool:
    mode: ast.AST | None = call.args[pos] if len(call.args) > pos else None
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(ch in mode.value for ch in "wax+")
    return mode is not None  # a computed mode: treat as writing


def _method_open_writes(call: ast.Call) -> bool:
    """``x.open(...)``: Path.open(mode) or ZipFile.open(name, mode)."""
    first = call.args[0] if call.args else None
    is_mode = (
        isinstance(first, ast.Constant)
        and isinstance(first.value, str)
        and set(first.value) <= set("rwabxt+")
    )
    if any(kw.arg == "mode" for kw in call.keywords):
        return _write_mode(call, 99)
    if is_mode:
        return _write_mode(call, 0)
    return len(call.args) > 1 and _write_mode(call, 1)


def _target(call: ast.Call) -> tuple[bool, ast.AST | None]:
    """Whether *call* writes a file, and the expression naming where."""
    name, base = _callee(call)
    if name in _MODULE_ONLY:
        if base not in _MODULE_ONLY[name]:
            return False, None
        if name == "ZipFile":
            return _write_mode(call, 1), call.args[0] if call.args else None
        return True, call.args[1] if len(call.args) > 1 else None
    if name == "open":
        if isinstance(call.func, ast.Name) or base in ("io", "gzip", "bz2", "lzma"):
            if not _write_mode(call, 1):
                return False, None
            return True, call.args[0] if call.args else None
        if isinstance(call.func, ast.Attribute) and _method_open_writes(call):
            return True, call.func.value  # Path.open("wb"), ZipFile.open(m, "w")
        return False, None
    if name not in _METHOD_TARGET or not isinstance(call.func, ast.Attribute):
        return False, None
    where = _METHOD_TARGET[name]
    if where == "self":
        return True, call.func.value
    for kw in call.keywords:
        if kw.arg in _PATH_KEYWORDS:
            return True, kw.value
    if isinstance(where, int) and 0 <= where < len(call.args):
        return True, call.args[where]
    if name in ("to_csv", "to_json", "to_html", "to_xml", "to_parquet"):
        return False, None  # no target: returns the text (or bytes)
    return True, None


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, report: Report) -> None:
        self.module = module
        self.report = report
        self.func: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.atomic: list[set[str]] = [set()]
        self.buffers: list[set[str]] = [set()]
        self.io_imports: set[str] = set()

    # scopes -----------------------------------------------------------------------
    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "geodecoupage._io":
            self.io_imports |= {a.asname or a.name for a in node.names}

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.func.append(node)
        self.atomic.append(set())
        self.buffers.append(set())
        self.generic_visit(node)
        self.func.pop()
        self.atomic.pop()
        self.buffers.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_With(self, node: ast.With) -> None:
        bound = set()
        for item in node.items:
            ctx = item.context_expr
            if isinstance(ctx, ast.Call) and _callee(ctx)[0] == "atomic_path":
                bound |= _names(item.optional_vars)
                if self.func:
                    self.report.package_writers.add(self.func[-1].name)
            if _is_buffer_call(ctx):
                self.buffers[-1] |= _names(item.optional_vars)
        self.atomic[-1] |= bound
        self.generic_visit(node)
        self.atomic[-1] -= bound

    def visit_Assign(self, node: ast.Assign) -> None:
        if _is_buffer_call(node.value):
            for t in node.targets:
                self.buffers[-1] |= _names(t)
        self.generic_visit(node)

    # calls ------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return self.func[-1].name if self.func else "<module>"

    def visit_Call(self, node: ast.Call) -> None:
        name, _ = _callee(node)
        atomic = frozenset(set().union(*self.atomic))
        buffers = frozenset(set().union(*self.buffers))
        self.report.calls.append((self.module, self.where, node, atomic, buffers))
        if isinstance(node.func, ast.Name) and name in _IO_HELPERS:
            if name in self.io_imports:
                if self.func:
                    self.report.package_writers.add(self.func[-1].name)
            else:
                self._find(node, name, "is not the helper of geodecoupage._io")
        writes, target = _target(node)
        if writes:
            self._check(node, name, target, atomic, buffers)
        self.generic_visit(node)

    def _find(self, node: ast.Call, name: str, why: str) -> None:
        key = (self.module, self.where, name)
        if key in ALLOWED:
            self.report.allowed_seen.add(key)
            return
        self.report.findings.append(
            Finding(self.module, self.where, name, node.lineno, why)
        )

    def _check(
        self,
        node: ast.Call,
        name: str,
        target: ast.AST | None,
        atomic: frozenset[str],
        buffers: frozenset[str],
    ) -> None:
        used = _names(target)
        if used & atomic or used & buffers or _is_buffer_call(target):
            return
        if any(kw.arg == "overwrite" for kw in node.keywords):
            return  # a package writer; verified in the test below
        params = self._params()
        hit = [p for p in params if p in used]
        if hit:
            f = self.func[-1]
            self.report.helpers.append(
                Helper(self.module, f.name, hit[0], params.index(hit[0]), node.lineno)
            )
            return
        self._find(node, name, f"writes {ast.unparse(target) if target else '?'} "
                   "outside atomic_path")  # fmt: skip

    def _params(self) -> list[str]:
        if not self.func:
            return []
        a = self.func[-1].args
        names = [p.arg for p in [*a.posonlyargs, *a.args]]
        if names and names[0] in ("self", "cls"):
            names = names[1:]
        return names + [p.arg for p in a.kwonlyargs]


def scan(sources: dict[str, str]) -> Report:
    """Scan module sources (``{relative path: text}``) and resolve helpers."""
    report = Report()
    for module, text in sources.items():
        _Visitor(module, report).visit(ast.parse(text))
    _resolve_helpers(report)
    return report


def _arg_for(call: ast.Call, helper: Helper) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == helper.param:
            return kw.value
    return call.args[helper.index] if helper.index < len(call.args) else None


def _resolve_helpers(report: Report) -> None:
    pending = list(report.helpers)
    done: set[tuple[str, str]] = set()
    while pending:
        h = pending.pop()
        if (h.function, h.param) in done:
            continue
        done.add((h.function, h.param))
        sites = [c for c in report.calls if _callee(c[2])[0] == h.function]
        if not sites:
            report.findings.append(
                Finding(h.module, h.function, h.param, h.line,
                        "writes to a parameter and is never called in the package")
            )  # fmt: skip
        for module, caller, call, atomic, buffers in sites:
            arg = _arg_for(call, h)
            used = _names(arg)
            if used & atomic or used & buffers or _is_buffer_call(arg):
                continue
            report.findings.append(
                Finding(module, caller, h.function, call.lineno,
                        f"passes {ast.unparse(arg) if arg else '?'} to a writing "
                        "helper outside atomic_path")
            )  # fmt: skip


def _package_sources() -> dict[str, str]:
    return {
        str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8")
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "_io.py"
    }


@pytest.fixture(scope="module")
def package_report() -> Report:
    return scan(_package_sources())


def test_no_raw_writer_outside_the_atomic_helper(package_report: Report) -> None:
    assert not package_report.findings, "\n".join(map(str, package_report.findings))


def test_every_allowed_exception_still_exists(package_report: Report) -> None:
    assert set(ALLOWED) == package_report.allowed_seen


def test_package_writers_called_with_overwrite_exist_and_use_the_helper(
    package_report: Report,
) -> None:
    called = {
        _callee(call)[0]
        for _, _, call, _, _ in package_report.calls
        if _target(call)[0] and any(kw.arg == "overwrite" for kw in call.keywords)
    }
    missing = called - package_report.package_writers
    assert not missing, f"writers called with overwrite= but not using _io: {missing}"


# -- the checker itself can fail ---------------------------------------------------


def _findings(src: str) -> list[str]:
    return [f"{f.callee}@{f.line}" for f in scan({"m.py": src}).findings]


@pytest.mark.parametrize(
    "src",
    [
        "def f(df):\n    df.to_csv('out.csv')\n",
        "def f(gdf, p):\n    gdf.to_file(p / 'x.gpkg')\n",
        "from pathlib import Path\ndef f():\n    Path('x').write_text('a')\n",
        "def f(p):\n    with open(p / 'x', 'w') as fh:\n        fh.write('a')\n",
        "def f(p):\n    with p.open('wb') as fh:\n        pass\n",
        "import json\ndef f(o, fh):\n    json.dump(o, open('x.json', 'w'))\n",
        "import shutil\ndef f(a):\n    shutil.copy(a, '/tmp/b')\n",
        "def f(fig):\n    fig.savefig('fig.png')\n",
        "def w(df, path):\n    df.to_parquet(path)\n"
        "def g(df):\n    w(df, 'x.parquet')\n",
        "def w(df, path):\n    df.to_parquet(path)\n",
        "def f(t):\n    write_text('x', t)\n",  # not the _io helper
    ],
)
def test_the_checker_flags_raw_writers(src: str) -> None:
    assert _findings(src)


@pytest.mark.parametrize(
    "src",
    [
        "def f(df, p):\n    with atomic_path(p) as tmp:\n        df.to_csv(tmp)\n",
        "def f(df):\n    return df.to_csv(index=False)\n",
        "import io\ndef f(fig):\n    buf = io.BytesIO()\n    fig.savefig(buf)\n",
        "def w(df, path):\n    df.to_parquet(path)\n"
        "def g(df, p):\n    with atomic_path(p) as t:\n        w(df, t)\n",
        "from geodecoupage._io import write_text\ndef f(p):\n    write_text(p, 'a')\n",
        "def f(zf, m):\n    with zf.open(m) as src:\n        pass\n",
        "def f(env, out):\n    env.to_file(out / 'e.gpkg', overwrite=True)\n",
    ],
)
def test_the_checker_accepts_atomic_and_in_memory_writes(src: str) -> None:
    assert _findings(src) == []
