"""Fuzz the territory readers and the layer loader for a bounded time.

Targets (``--target``):

``geojson``
    :func:`geodecoupage.read_territory` on a GeoJSON file;
``zip``
    ``read_territory`` on a zip archive (a Shapefile or a GeoJSON inside);
``shapefile``
    ``read_territory`` on a Shapefile whose ``.shp``, ``.shx`` or ``.dbf`` is
    mutated (the first byte of the input picks which);
``gpkg`` / ``fgb``
    ``read_territory`` on a GeoPackage / FlatGeobuf file;
``loader``
    :func:`geodecoupage.read_layer` of the catalogue layer ``cs_anglo`` from a
    data directory holding the mutated GeoJSON (checksum not verified, so the
    parser and the standardisation run);
``all`` (default)
    every target in turn, each in its own process, sharing ``--seconds``.

A *crash* is any exception that is not a
:class:`~geodecoupage.errors.GeodecoupageError`, or a warning that is not one of
geodecoupage's warning classes (the test suite turns warnings into errors).
Crashes are not fatal: each new one (deduplicated by exception type and the
innermost geodecoupage frame) is saved in ``--findings`` (default
``out/fuzz-findings/``, ignored by git) as the input file plus a ``.txt`` with
the traceback, and fuzzing goes on; libFuzzer's own artifacts (a Python-level
hang over 30 s: ``<target>-timeout-*``, a native crash: ``<target>-crash-*``)
land there too. The corpus grows in ``--corpus`` (default
``out/fuzz-corpus/<target>/``), so each run resumes the search. The exit code is
1 when the run left new files in ``--findings``. Turn each finding into a
generated case of ``tests/badinputs/`` (see
``tests/badinputs/test_fuzz_cases.py``).

With atheris installed (dependency group ``fuzz``: ``pip install --group fuzz``)
the search is coverage-guided (libFuzzer) with structure-aware mutators for
GeoJSON and zip; without it, the same mutators run in a plain random loop.

Examples
--------
``python fuzz/fuzz_readers.py --seconds 60``
``GEODECOUPAGE_FUZZ_SECONDS=300 python fuzz/fuzz_readers.py --target zip``
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import hashlib
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

TARGETS = ("geojson", "zip", "shapefile", "gpkg", "fgb", "loader")
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FINDINGS = ROOT / "out" / "fuzz-findings"
DEFAULT_CORPUS = ROOT / "out" / "fuzz-corpus"
DEFAULT_SECONDS = float(os.environ.get("GEODECOUPAGE_FUZZ_SECONDS", "60"))

try:  # coverage-guided when available: instrument geodecoupage as it is imported
    import atheris

    with atheris.instrument_imports(include=["geodecoupage"]):
        from geodecoupage.errors import GeodecoupageError
        from geodecoupage.layers import read_layer, read_territory
    HAVE_ATHERIS = True
except ImportError:  # pragma: no cover - plain random loop instead
    atheris = None
    from geodecoupage.errors import GeodecoupageError
    from geodecoupage.layers import read_layer, read_territory

    HAVE_ATHERIS = False

_OURS = "geodecoupage.errors"

# ---------------------------------------------------------------------------
# seeds: small valid files, built in code


def _squares(n: int = 4) -> list[shapely.Polygon]:
    lon0, lat0, step = -72.6, 46.1, 0.05
    return [
        shapely.box(
            lon0 + (k % 2) * step,
            lat0 + (k // 2) * step,
            lon0 + (k % 2 + 1) * step,
            lat0 + (k // 2 + 1) * step,
        )
        for k in range(n)
    ]


def _frame(code: str = "code", nom: str = "nom") -> gpd.GeoDataFrame:
    geoms = _squares()
    return gpd.GeoDataFrame(
        {code: [f"{k:02d}" for k in range(1, 5)], nom: ["Québec", "Lévis", "A", "B"]},
        geometry=geoms,
        crs="EPSG:4326",
    )


def _write(gdf: gpd.GeoDataFrame, path: Path, **kw: Any) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gdf.to_file(path, **kw)
    return path.read_bytes()


def _shapefile_members(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / "secteurs.shp"
    _write(_frame(), shp)
    return {
        f"secteurs{ext}": shp.with_suffix(ext).read_bytes()
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")
        if shp.with_suffix(ext).exists()
    }


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def seeds(target: str, folder: Path) -> list[bytes]:
    """Valid inputs of *target* (options byte first, see :func:`_options`)."""
    folder.mkdir(parents=True, exist_ok=True)
    opts = bytes([0b0001])  # repair, tiling check, name column
    if target in ("geojson", "loader"):
        cols = ("CD_CS_ANG", "NOM_OFFCL_CS_ANG") if target == "loader" else ()
        gdf = _frame(*cols) if cols else _frame()
        one = _write(gdf, folder / "a.geojson", driver="GeoJSON")
        multi = gdf.copy()
        multi["geometry"] = [shapely.MultiPolygon([g]) for g in multi.geometry]
        two = _write(multi, folder / "b.geojson", driver="GeoJSON")
        return [opts + one, opts + two]
    if target == "zip":
        shp = _zip(_shapefile_members(folder))
        gj = _zip({"dossier/secteurs.geojson": _write(_frame(), folder / "z.geojson")})
        return [opts + shp, opts + gj]
    if target == "shapefile":
        members = _shapefile_members(folder)
        return [
            opts + bytes([i]) + members[f"secteurs{ext}"]
            for i, ext in enumerate((".shp", ".shx", ".dbf"))
        ]
    if target == "gpkg":
        return [opts + _write(_frame(), folder / "a.gpkg", driver="GPKG")]
    if target == "fgb":
        return [opts + _write(_frame(), folder / "a.fgb", driver="FlatGeobuf")]
    raise ValueError(target)


# ---------------------------------------------------------------------------
# structure-aware mutators

_ODD_NUMBERS: list[Any] = [
    math.nan, math.inf, -math.inf, 1e308, -1e308, 0, -0.0, 5e-324, 2**70, 1e20,
    "12", None, True, [], {},
]  # fmt: skip
_ODD_STRINGS: list[Any] = [
    "", " ", "\x00", "é" * 300, "QuÃ©bec", "..", "EPSG:32198", 7, None, [], {},
    "Polygon", "GeometryCollection", "\ud800",
]  # fmt: skip
_TYPES = [
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
    "MultiPolygon", "GeometryCollection", "Feature", "FeatureCollection", "Nope",
]  # fmt: skip
_CRS_NAMES = [
    "urn:ogc:def:crs:EPSG::32198", "EPSG:2154", "urn:ogc:def:crs:OGC:1.3:CRS84",
    "EPSG:4269", "EPSG:99999", "LOCAL_CS[\"x\"]", "",
]  # fmt: skip


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(path, doc)]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return doc


def mutate_json(doc: Any, rng: random.Random) -> Any:
    """One structural mutation of a JSON document (a deep copy is changed)."""
    doc = copy.deepcopy(doc)
    nodes = _nodes(doc)
    path, node = rng.choice(nodes)
    op = rng.randrange(10)
    if op == 0 and isinstance(node, int | float) and not isinstance(node, bool):
        return _set(doc, path, rng.choice(_ODD_NUMBERS))
    if op == 1 and isinstance(node, str):
        return _set(doc, path, rng.choice(_ODD_STRINGS))
    if op == 2 and isinstance(node, dict) and node:
        node.pop(rng.choice(list(node)))
        return doc
    if op == 3 and isinstance(node, list) and node:
        i = rng.randrange(len(node))
        node.insert(i, copy.deepcopy(node[i]))
        return doc
    if op == 4 and isinstance(node, list) and node:
        del node[rng.randrange(len(node))]
        return doc
    if op == 5 and isinstance(node, dict) and "type" in node:
        node["type"] = rng.choice(_TYPES)
        return doc
    if op == 6 and path:
        return _set(
            doc, path, [node] if rng.random() < 0.5 else rng.choice(_ODD_NUMBERS)
        )
    if op == 7 and isinstance(doc, dict):
        doc["crs"] = {"type": "name", "properties": {"name": rng.choice(_CRS_NAMES)}}
        return doc
    if op == 8 and len(nodes) > 2:
        path2, node2 = rng.choice(nodes)
        if (
            path
            and path2
            and path[: len(path2)] != path2
            and path2[: len(path)] != path
        ):
            _set(doc, path, copy.deepcopy(node2))
        return doc
    if op == 9 and isinstance(node, dict):
        node[rng.choice(["code", "nom", "CD_CS_ANG", "bbox", "id", "properties"])] = (
            rng.choice(_ODD_STRINGS + _ODD_NUMBERS)
        )
        return doc
    return doc


def _encode_json(doc: Any, rng: random.Random) -> bytes:
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.3, allow_nan=True)
    enc = rng.choice(["utf-8", "utf-8", "utf-8", "cp1252", "utf-16", "utf-8-sig"])
    try:
        return text.encode(enc)
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


_LIBFUZZER = {"running": False}  # atheris.Mutate only works inside atheris.Fuzz


def _byte_mutate(data: bytes, max_size: int, rng: random.Random) -> bytes:
    if atheris is not None and _LIBFUZZER["running"]:
        return bytes(atheris.Mutate(data, max_size))
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and b:
            i = rng.randrange(len(b))
            del b[i : i + rng.randint(1, 16)]
        elif op == 2:
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif b:
            i, j = sorted(rng.randrange(len(b)) for _ in range(2))
            b[i:i] = b[i : min(j, i + 64)]
    return bytes(b[:max_size])


def mutate_zip(data: bytes, rng: random.Random) -> bytes | None:
    """Rebuild a zip with one member renamed, changed, duplicated or dropped."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [(i, zf.read(i)) for i in zf.infolist()]
    except Exception:  # not a readable zip: let the byte mutator work
        return None
    if not members:
        return None
    k = rng.randrange(len(members))
    info, blob = members[k]
    op = rng.randrange(6)
    new = zipfile.ZipInfo(info.filename, info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    if op == 0:
        new.filename = rng.choice(
            ["../x.shp", "/abs.geojson", "a\\..\\b.shp", "", "SECTEURS.SHP",
             "x/" * 50 + "s.geojson", "é.geojson", "secteurs.geojson", "dir/"]
        )  # fmt: skip
    elif op == 1:
        blob = _byte_mutate(blob, max(len(blob) * 2, 64), rng)
    elif op == 2 and blob[:1] in (b"{", b"["):
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            blob = _encode_json(mutate_json(json.loads(blob), rng), rng)
    elif op == 3:
        members.append((copy.copy(info), blob))
    elif op == 4 and len(members) > 1:
        del members[k]
        return _rebuild(members)
    elif op == 5:
        new.external_attr = rng.choice([0o120777 << 16, 0o040755 << 16, 0])
        new.compress_type = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
    members[k] = (new, blob)
    return _rebuild(members)


def _rebuild(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buf, "w") as zf:
            for info, blob in members:
                zf.writestr(info, blob)
    return buf.getvalue()


def mutate(target: str, data: bytes, max_size: int, seed: int) -> bytes:
    """The custom mutator: structure-aware half of the time, else byte-level."""
    rng = random.Random(seed)
    head, body = data[:1] or b"\x01", data[1:]
    if rng.random() < 0.1:
        head = bytes([rng.randrange(16)])
    if rng.random() < 0.5:
        if target in ("geojson", "loader"):
            with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
                doc = json.loads(body)
                for _ in range(rng.randint(1, 3)):
                    doc = mutate_json(doc, rng)
                return (head + _encode_json(doc, rng))[:max_size]
        if target == "zip":
            out = mutate_zip(body, rng)
            if out is not None:
                return (head + out)[:max_size]
    if target == "shapefile" and body:
        return head + body[:1] + _byte_mutate(body[1:], max_size - 2, rng)
    return head + _byte_mutate(body, max_size - 1, rng)


# ---------------------------------------------------------------------------
# running one input


def _options(flags: int) -> dict[str, Any]:
    return {
        "repair": not flags & 0b0010,
        "dissolve": bool(flags & 0b0100),
        "tiles": not flags & 0b1000,
    }


class Runner:
    """Run inputs of one target and keep the new crashes."""

    def __init__(self, target: str, findings: Path, base: Path) -> None:
        self.target = target
        self.findings = findings
        self.base = base
        self.seen: set[str] = set()
        self.count = 0
        self.crashes = 0
        self.shp_members = _shapefile_members(base / "shp-seed")

    def _file(self, body: bytes, work: Path) -> Path:
        t = self.target
        if t == "geojson":
            p = work / "territoire.geojson"
        elif t == "zip":
            p = work / "territoire.zip"
        elif t == "gpkg":
            p = work / "territoire.gpkg"
        elif t == "fgb":
            p = work / "territoire.fgb"
        elif t == "loader":
            p = work / "data" / "school" / "cs_anglophone_2022.geojson"
            p.parent.mkdir(parents=True)
        else:  # shapefile: first byte picks the member replaced
            which = (".shp", ".shx", ".dbf")[body[0] % 3] if body else ".shp"
            for name, blob in self.shp_members.items():
                (work / name).write_bytes(blob)
            p = work / "secteurs.shp"
            p.with_suffix(which).write_bytes(body[1:])
            return p
        p.write_bytes(body)
        return p

    def run(self, data: bytes) -> None:
        self.count += 1
        flags, body = (data[0], data[1:]) if data else (0, b"")
        with tempfile.TemporaryDirectory(dir=self.base) as tmp:
            work = Path(tmp)
            path = self._file(body, work)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    if self.target == "loader":
                        read_layer("cs_anglo", data_dir=work / "data", verify=False)
                    else:
                        name_col = "nom" if flags & 0b0001 else None
                        read_territory(
                            path, code_col="code", name_col=name_col, **_options(flags)
                        )
                except GeodecoupageError:
                    pass
                except Exception as err:
                    self._record(data, err, "exception")
            for w in caught:
                if w.category.__module__ != _OURS:
                    self._record(data, w, "warning")

    def _record(self, data: bytes, what: Any, kind: str) -> None:
        if kind == "warning":
            name = w_name = what.category.__name__
            where = f"{Path(what.filename).name}:{what.lineno}"
            text = f"{w_name}: {what.message}\n  at {what.filename}:{what.lineno}\n"
        else:
            name = type(what).__name__
            frames = traceback.extract_tb(what.__traceback__)
            ours = [f for f in frames if "geodecoupage" in f.filename]
            last = (ours or frames)[-1] if (ours or frames) else None
            where = f"{Path(last.filename).name}:{last.lineno}" if last else "?"
            text = "".join(traceback.format_exception(what))
        key = f"{self.target}|{kind}|{name}|{where}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:10]  # same bug, same name
        stem = f"{self.target}-{kind}-{name}-{digest}"
        if key in self.seen or (self.findings / f"{stem}.txt").exists():
            return
        self.seen.add(key)
        self.crashes += 1
        self.findings.mkdir(parents=True, exist_ok=True)
        (self.findings / f"{stem}.bin").write_bytes(data)
        header = f"target: {self.target}\noptions: {_options(data[0] if data else 0)}\n"
        (self.findings / f"{stem}.txt").write_text(header + text, encoding="utf-8")
        sys.stderr.write(f"\n*** new {kind}: {name} at {where} -> {stem}\n")
        sys.stderr.flush()


# ---------------------------------------------------------------------------
# drivers


def fuzz_one(
    target: str, seconds: float, findings: Path, corpus_root: Path | None = None
) -> int:
    """Fuzz one target for *seconds*; return the number of new crashes.

    The corpus (seeds, then every input libFuzzer found interesting) is kept in
    ``<corpus_root>/<target>`` so a later run starts where this one stopped.
    """
    root = corpus_root or DEFAULT_CORPUS
    # scratch space, emptied at each start: libFuzzer ends the process with exit(),
    # so atexit clean-up does not run under atheris
    base = root.parent / f"{root.name}-scratch" / target
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    corpus = root / target
    corpus.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seeds(target, base / "seeds")):
        (corpus / f"seed{i}").write_bytes(s)
    runner = Runner(target, findings, base)
    start = time.monotonic()
    if HAVE_ATHERIS:

        def custom(data: bytes, max_size: int, seed: int) -> bytes:
            return mutate(target, data, max_size, seed)

        args = [
            sys.argv[0],
            str(corpus),
            f"-max_total_time={max(int(seconds), 1)}",
            "-timeout=30",
            "-rss_limit_mb=6144",
            f"-artifact_prefix={findings}/{target}-",
            "-max_len=200000",
            "-print_final_stats=1",
        ]
        findings.mkdir(parents=True, exist_ok=True)
        atheris.Setup(args, runner.run, custom_mutator=custom)
        _LIBFUZZER["running"] = True
        atheris.Fuzz()  # libFuzzer exits the process when the time is up
    rng = random.Random(0)
    pool = [p.read_bytes() for p in sorted(corpus.iterdir()) if p.is_file()]
    while time.monotonic() - start < seconds:
        child = mutate(target, rng.choice(pool), 200_000, rng.randrange(2**31))
        runner.run(child)
        if rng.random() < 0.05:
            pool.append(child)
    took = time.monotonic() - start
    sys.stderr.write(
        f"\n{target}: {runner.count} inputs in {took:.0f} s, "
        f"{runner.crashes} new crash(es) in {findings}\n"
    )
    return runner.crashes


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--target``, ``--seconds``, ``--findings``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        help="total fuzzing time (default $GEODECOUPAGE_FUZZ_SECONDS or 60)",
    )
    parser.add_argument("--findings", type=Path, default=DEFAULT_FINDINGS)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--one", choices=TARGETS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # the child process of one target
        fuzz_one(args.one, args.seconds, args.findings, args.corpus)
        return 0
    before = set(args.findings.glob("*")) if args.findings.is_dir() else set()
    targets = TARGETS if args.target == "all" else (args.target,)
    for target in targets:  # libFuzzer runs once per process: one process each
        subprocess.run(
            [sys.executable, __file__, "--one", target,
             "--seconds", f"{args.seconds / len(targets)}",
             "--findings", str(args.findings), "--corpus", str(args.corpus)],
            check=False,
        )  # fmt: skip
    after = set(args.findings.glob("*")) if args.findings.is_dir() else set()
    new = sorted(p.name for p in after - before)
    sys.stderr.write(
        f"\nfuzz: {len(new)} new finding file(s) in {args.findings}\n"
        + "".join(f"  {n}\n" for n in new)
    )
    return 1 if new else 0


if __name__ == "__main__":
    raise SystemExit(main())
