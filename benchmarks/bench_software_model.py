"""Benchmark the software model on every example route against plain Python.

For every route of every module under ``examples/``, this measures requests per
second of three ways to answer the same random requests:

- **python**: a per-request loop over the obvious hand-written Python
  implementation of the same function (below, in this file);
- **batch**: the route model's ``.batch`` on a list of request dicts (what a
  decorated handler's ``.batch`` does);
- **columns**: the route model's ``run_columns`` on one numpy column per
  request leaf (the batch path without converting requests and responses).

Each route's three answers are compared before any timing is reported. It
also measures, per example, the time from source to optimized IR
(``compile_source`` + ``optimize_program``) and the wall time of
``fpgac check`` in a fresh process.

Run ``python benchmarks/bench_software_model.py`` (1,000,000 requests per
route); ``--n 10000`` for a quick run, ``--only crc`` for one example.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from fpgac.driver import compile_source
from fpgac.ir import ArrayTy, BoolTy, IntTy, RecordTy, Ty, leaves, program_to_json
from fpgac.passes import optimize_program
from fpgac.runtime import model_from_ir

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

U32 = 0xFFFF_FFFF
U64 = 0xFFFF_FFFF_FFFF_FFFF

# --- the obvious plain-Python implementations, keyed by (app, route path) -------------------
# Each takes a request's parameters in their JSON shape (records as dicts, arrays as lists)
# and returns the response in its JSON shape, like the handler it mirrors.


def _luma(p):
    return ((66 * p["r"] + 129 * p["g"] + 25 * p["b"] + 128) >> 8) + 16


def _ycbcr(p):
    r, g, b = p["r"], p["g"], p["b"]
    return {"y": ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16,
            "cb": ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128,
            "cr": ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128}


def _grey(p):
    v = (77 * p["r"] + 150 * p["g"] + 29 * p["b"] + 128) >> 8
    return {"r": v, "g": v, "b": v}


def _crc32_bytes(data):
    crc = U32
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
    return crc ^ U32


def _crc32(data):
    return _crc32_bytes(data)


def _crc32_prefix(frame):
    return _crc32_bytes(frame["data"][:frame["length"]])


def _fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & U32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & U32
    return h ^ (h >> 16)


def _fmix64(k):
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & U64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & U64
    return k ^ (k >> 33)


def _rotl32(x, r):
    return ((x << r) | (x >> (32 - r))) & U32


def _murmur3_32(key, seed):
    k = _rotl32((key * 0xCC9E2D51) & U32, 15)
    k = (k * 0x1B873593) & U32
    h = _rotl32(seed ^ k, 13)
    h = (h * 5 + 0xE6546B64) & U32
    return _fmix32(h ^ 4)


def _ones_sum(hdr):
    total = 0
    for i in range(0, 20, 2):
        total += (hdr[i] << 8) | hdr[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _parse(hdr):
    return {
        "version": hdr[0] >> 4,
        "ihl": hdr[0] & 0xF,
        "total_length": (hdr[2] << 8) | hdr[3],
        "dont_fragment": (hdr[6] >> 6) & 1,
        "more_fragments": (hdr[6] >> 5) & 1,
        "fragment_offset": ((hdr[6] & 0x1F) << 8) | hdr[7],
        "ttl": hdr[8],
        "protocol": hdr[9],
        "checksum_ok": int(_ones_sum(hdr) == 0xFFFF),
        "src": int.from_bytes(bytes(hdr[12:16]), "big"),
        "dst": int.from_bytes(bytes(hdr[16:20]), "big"),
    }


def _checksum(hdr):
    return 0xFFFF - _ones_sum(hdr[:10] + [0, 0] + hdr[12:])


def _wrap(value, width, signed):
    value &= (1 << width) - 1
    return value - (1 << width) if signed and value >> (width - 1) else value


def _q16_mul(a, b):
    return _wrap((a * b + (1 << 15)) >> 16, 32, True)


def _lerp(a, b, t):
    return a + (((b - a) * t + 128) >> 8)


FIR_TAPS = (-1638, 18022, 18022, -1638)


def _fir4(x):
    acc = sum(c * s for c, s in zip(FIR_TAPS, x))
    return min(max((acc + (1 << 14)) >> 15, -32768), 32767)


def _sat16(v):
    return min(max(v, -32768), 32767)


def _gamma_table():
    return [round(255 * (i / 255) ** (1 / 2.2)) for i in range(256)]


def _sine_table():
    return [round(32767 * math.sin(2 * math.pi * p / 256)) for p in range(256)]


def _crc8_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        table.append(c)
    return table


GAMMA, SINE, CRC8 = _gamma_table(), _sine_table(), _crc8_table()


def _crc8(data):
    crc = 0
    for byte in data:
        crc = CRC8[crc ^ byte]
    return crc


def _isqrt(n):
    rem, root = n, 0
    for i in range(16):
        bit = 1 << (30 - 2 * i)
        if rem >= root + bit:
            rem -= root + bit
            root = (root >> 1) + bit
        else:
            root >>= 1
    return root


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _count_ones(x):
    count = 0
    for i in range(32):
        count += (x >> i) & 1
    return count


B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
B64_VALUE = {c: i for i, c in enumerate(B64)}


def _base64_encode(data):
    word = (data[0] << 16) | (data[1] << 8) | data[2]
    return [B64[(word >> shift) & 63] for shift in (18, 12, 6, 0)]


def _base64_decode(text):
    word, valid = 0, 1
    for c in text:
        value = B64_VALUE.get(c, 64)
        valid &= value < 64
        word = (word << 6) | (value & 63)
    return {"data": [word >> 16, (word >> 8) & 0xFF, word & 0xFF], "valid": valid}


def _rgb565_pack(p):
    return (p["r"] >> 3) << 11 | (p["g"] >> 2) << 5 | p["b"] >> 3


def _rgb565_unpack(v):
    r, g, b = v >> 11, (v >> 5) & 0x3F, v & 0x1F
    return {"r": r << 3 | r >> 2, "g": g << 2 | g >> 4, "b": b << 3 | b >> 2}


PLAIN: dict[tuple[str, str], Callable] = {
    ("imaging", "/luma"): _luma,
    ("imaging", "/ycbcr"): _ycbcr,
    ("imaging", "/grey"): _grey,
    ("crc", "/crc32"): _crc32,
    ("crc", "/crc32_prefix"): _crc32_prefix,
    ("hashing", "/fmix32"): _fmix32,
    ("hashing64", "/fmix64"): _fmix64,
    ("hashing", "/murmur3_32"): _murmur3_32,
    ("ipv4", "/parse"): _parse,
    ("ipv4", "/checksum"): _checksum,
    ("fixedpoint", "/q16_mul"): _q16_mul,
    ("fixedpoint", "/lerp"): _lerp,
    ("fixedpoint", "/fir4"): _fir4,
    ("saturating", "/add_i16"): lambda a, b: _sat16(a + b),
    ("saturating", "/sub_i16"): lambda a, b: _sat16(a - b),
    ("saturating", "/mul_q15"): lambda a, b: _sat16((a * b + (1 << 14)) >> 15),
    ("saturating", "/add_u8"): lambda a, b: min(a + b, 255),
    ("saturating", "/clamp"): lambda x, lo, hi: min(max(x, lo), hi),
    ("lookup", "/gamma"): lambda v: GAMMA[v],
    ("lookup", "/sine"): lambda phase: SINE[phase],
    ("lookup", "/crc8"): _crc8,
    ("intmath", "/isqrt"): _isqrt,
    ("gcd", "/gcd"): _gcd,
    ("intmath", "/count_ones"): _count_ones,
    ("intmath", "/count_ones_fast"): lambda x: bin(x).count("1"),
    ("intmath", "/bit_length"): lambda x: x.bit_length(),
    ("bitpack", "/base64_encode"): _base64_encode,
    ("bitpack", "/base64_decode"): _base64_decode,
    ("bitpack", "/rgb565_pack"): _rgb565_pack,
    ("bitpack", "/rgb565_unpack"): _rgb565_unpack,
}


# --- requests -------------------------------------------------------------------------------


def _scalar_range(ty) -> tuple[int, int]:
    ity = IntTy(1, False) if isinstance(ty, BoolTy) else ty
    return ity.min, ity.max


def random_columns(params: list[tuple[str, Ty]], n: int, rng: np.random.Generator):
    """Return one random column per request leaf, uniform over each leaf's type."""
    columns = {}
    for name, ty in params:
        for path, scalar in leaves(ty, name):
            lo, hi = _scalar_range(scalar)
            if -(1 << 63) <= lo and hi < (1 << 63):
                columns[path] = rng.integers(lo, hi, size=n, endpoint=True, dtype=np.int64)
            else:  # wider than int64: exact Python integers from 64-bit chunks
                width = (hi - lo).bit_length()
                chunks = [rng.integers(0, 1 << 32, size=n, dtype=np.uint64).tolist()
                          for _ in range((width + 31) // 32)]
                values = [lo + (sum(c << (32 * i) for i, c in enumerate(parts)) % (hi - lo + 1))
                          for parts in zip(*chunks)]
                columns[path] = np.array(values, dtype=object)
    return columns


def _build(ty: Ty, path: str, lists: dict[str, list], i: int):
    if isinstance(ty, RecordTy):
        return {f: _build(fty, f"{path}.{f}", lists, i) for f, fty in ty.fields}
    if isinstance(ty, ArrayTy):
        return [_build(ty.elem, f"{path}[{k}]", lists, i) for k in range(ty.length)]
    return lists[path][i]


def requests_from_columns(params: list[tuple[str, Ty]], columns: dict, n: int) -> list[dict]:
    """Return the requests of ``columns`` as JSON-shaped dicts keyed by parameter name."""
    lists = {path: col.tolist() for path, col in columns.items()}
    return [{name: _build(ty, name, lists, i) for name, ty in params} for i in range(n)]


def flatten(value, path: str, out: dict[str, int]) -> dict[str, int]:
    """Flatten a JSON-shaped response into ``{leaf path: int}`` (``return``, ``return.x``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{path}.{k}", out)
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            flatten(v, f"{path}[{k}]", out)
    elif hasattr(value, "_asdict"):
        flatten(value._asdict(), path, out)
    else:
        out[path] = int(value)
    return out


# --- measurement ----------------------------------------------------------------------------


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Run ``fn`` ``repeat`` times; return the best wall time and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def fpgac_command() -> list[str]:
    if importlib.util.find_spec("fpgac.__main__") is not None:
        return [sys.executable, "-m", "fpgac"]
    return [str(Path(sys.executable).with_name("fpgac"))]


def bench_route(app: str, route, route_model, n: int, rng, check: int,
                chunk: int = 100_000) -> dict:
    """Measure one route three ways on the same ``n`` random requests.

    The per-request paths run in chunks, so that a million request dicts never
    sit in memory at once; their time is the sum over chunks. Building the
    request dicts is not timed.
    """
    plain = PLAIN[(app, route.path)]
    columns = random_columns(route.params, n, rng)
    # Warm up: the model generates its code on first use; measure the steady state.
    warm = {path: col[:16] for path, col in columns.items()}
    route_model.run_columns(warm)
    route_model.batch(requests_from_columns(route.params, warm, len(next(iter(warm.values())))))
    t_python = t_batch = 0.0
    first_expected: list = []
    for start in range(0, n, chunk):
        part = {path: col[start:start + chunk] for path, col in columns.items()}
        requests = requests_from_columns(route.params, part, len(next(iter(part.values()))))
        t0 = time.perf_counter()
        expected = [plain(**r) for r in requests]
        t1 = time.perf_counter()
        batched = route_model.batch(requests)
        t2 = time.perf_counter()
        t_python += t1 - t0
        t_batch += t2 - t1
        # The ways must agree before their speeds mean anything.
        for request, want, got in zip(requests, expected, batched):
            if flatten(got, "return", {}) != flatten(want, "return", {}):
                raise AssertionError(f"{app}{route.path}: .batch differs from plain Python on "
                                     f"{request}: {got} != {want}")
        if not first_expected:
            first_expected = expected
    t_columns, outputs = best_time(lambda: route_model.run_columns(columns), 1)
    for i in range(min(check, len(first_expected))):
        want = flatten(first_expected[i], "return", {})
        got = {path: int(col[i]) for path, col in outputs.items()}
        if got != want:
            raise AssertionError(f"{app}{route.path}: run_columns differs from plain Python on "
                                 f"request {i}: {got} != {want}")
    return {"python": n / t_python, "batch": n / t_batch, "columns": n / t_columns}


def bench_compile(path: Path, repeat: int) -> dict:
    """Measure source to optimized IR in this process, and `fpgac check` in a fresh one."""
    source = path.read_text(encoding="utf-8")
    t_compile, program = best_time(
        lambda: optimize_program(compile_source(source, str(path))), repeat)
    command = [*fpgac_command(), "check", str(path)]
    t_check, result = best_time(
        lambda: subprocess.run(command, capture_output=True, text=True), repeat)
    if result.returncode != 0:
        raise AssertionError(f"`fpgac check {path}` failed:\n{result.stdout}{result.stderr}")
    nodes = sum(len(r.graph) for r in program.routes)
    return {"compile": t_compile, "check": t_check, "nodes": nodes, "program": program}


def _rate(x: float) -> str:
    return f"{x:,.0f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000,
                        help="requests per route (default 1,000,000)")
    parser.add_argument("--only", action="append", metavar="EXAMPLE",
                        help="benchmark only this example (repeatable), e.g. --only crc")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each compile-time measurement; the best counts")
    parser.add_argument("--check", type=int, default=10_000,
                        help="requests per route whose column outputs are compared")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    console = Console()
    if console.width < 132:
        console = Console(width=132)
    rng = np.random.default_rng(args.seed)
    paths = sorted(p for pattern in ("*.py", "ecp5/*.py") for p in EXAMPLES.glob(pattern)
                   if not p.stem.startswith("_"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]

    speed = Table(title=f"Software model, requests per second ({args.n:,} requests per route)")
    for col in ("route", "python loop", ".batch", "run_columns", ".batch / python",
                "columns / python"):
        speed.add_column(col, justify="left" if col == "route" else "right", no_wrap=True)
    compile_table = Table(title="Compile time per example")
    for col in ("example", "routes", "IR nodes", "source → optimized IR", "fpgac check"):
        compile_table.add_column(col, justify="left" if col == "example" else "right")

    for path in paths:
        c = bench_compile(path, args.repeat)
        program = c["program"]
        compile_table.add_row(path.name, str(len(program.routes)), str(c["nodes"]),
                              f"{c['compile'] * 1e3:.1f} ms", f"{c['check'] * 1e3:.0f} ms")
        model = model_from_ir(program_to_json(program))
        for route in program.routes:
            console.log(f"{program.app}{route.path}")
            r = bench_route(program.app, route, model.route(route.path), args.n, rng, args.check)
            speed.add_row(f"{program.app}{route.path}", _rate(r["python"]), _rate(r["batch"]),
                          _rate(r["columns"]), f"{r['batch'] / r['python']:.2f}×",
                          f"{r['columns'] / r['python']:.1f}×")

    console.print(speed)
    console.print(compile_table)


if __name__ == "__main__":
    main()
