"""Test every example handler against an independent Python computation.

Each example route is checked three ways: on fixed cases (known vectors where
the world has them), on hypothesis-random inputs, and through ``.batch``.
Calling a decorated handler runs the compiled bit-exact software model, so
these tests exercise the whole path from source to model. The references use
the standard library where it has the function (``zlib.crc32``,
``math.isqrt``, ``math.gcd``, ``base64``, ``struct``, ``ipaddress``) and plain,
obvious Python otherwise.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import ipaddress
import json
import math
import random
import struct
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgac import Record

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = sorted(p.relative_to(EXAMPLES).with_suffix("").as_posix()
                       for p in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("ecp5/*.py")]
                       if not p.stem.startswith("_"))

FEW = settings(max_examples=60, deadline=None)


def load(name: str):
    """Import ``examples/NAME.py`` by path, as a user's script would be imported."""
    module_name = f"fpgac_example_{name.replace('/', '_')}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def plain(value):
    """Return a response as JSON-like data: records as dicts, arrays as lists, bools as ints."""
    if isinstance(value, Record):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return int(value)


def check_batch(handler, requests: list[dict], reference) -> None:
    """Run ``requests`` through ``handler.batch`` and compare each response with the reference."""
    responses = handler.batch(requests)
    assert len(responses) == len(requests)
    for request, response in zip(requests, responses):
        assert plain(response) == reference(**request), request


def fpgac_command() -> list[str]:
    """Return the command that runs the ``fpgac`` CLI of the installed package."""
    if importlib.util.find_spec("fpgac.__main__") is not None:
        return [sys.executable, "-m", "fpgac"]
    return [str(Path(sys.executable).with_name("fpgac"))]


u8s = st.integers(0, 0xFF)
u16s = st.integers(0, 0xFFFF)
u32s = st.integers(0, 0xFFFF_FFFF)
u64s = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)
i16s = st.integers(-0x8000, 0x7FFF)
i32s = st.integers(-0x8000_0000, 0x7FFF_FFFF)


def wrap(value: int, width: int, signed: bool = False) -> int:
    """Wrap ``value`` to ``width`` bits, as a store into ``u{width}``/``i{width}`` does."""
    value &= (1 << width) - 1
    if signed and value >> (width - 1):
        value -= 1 << width
    return value


def round_half_up(x: Fraction) -> int:
    """Round a rational to the nearest integer, halves towards +infinity."""
    return math.floor(x + Fraction(1, 2))


# --- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_fpgac_check_accepts_example(name):
    result = subprocess.run([*fpgac_command(), "check", str(EXAMPLES / f"{name}.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_at_least_eight_examples_with_valid_app_names():
    assert len(EXAMPLE_NAMES) >= 8
    for name in EXAMPLE_NAMES:
        app = load(name).app
        assert app.name.isidentifier() and app.name not in sys.stdlib_module_names
        assert app.routes, name


def test_fpgac_run_answers_every_line_and_refuses_bad_ones(tmp_path):
    requests = tmp_path / "pixels.jsonl"
    requests.write_text('{"p": {"r": 0, "g": 0, "b": 0}}\n'
                        '{"p": {"r": 300, "g": 0, "b": 0}}\n'
                        '{"p": {"r": 255, "g": 255, "b": 255}}\n')
    result = subprocess.run(
        [*fpgac_command(), "run", str(EXAMPLES / "imaging.py"), "--route", "/luma",
         "--input", str(requests)],
        capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert lines[0] == 16 and lines[2] == 235
    assert lines[1]["line"] == 2 and "p.r" in lines[1]["error"]


def test_out_of_range_argument_is_refused_not_wrapped():
    imaging = load("imaging")
    with pytest.raises(ValueError, match=r"p\.r"):
        imaging.luma(imaging.RGB(r=256, g=0, b=0))


# --- imaging --------------------------------------------------------------------------------


def ref_luma(p):
    return ((66 * p["r"] + 129 * p["g"] + 25 * p["b"] + 128) >> 8) + 16


def ref_ycbcr(p):
    r, g, b = p["r"], p["g"], p["b"]
    return {"y": ref_luma(p),
            "cb": ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128,
            "cr": ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128}


def ref_grey(p):
    v = (77 * p["r"] + 150 * p["g"] + 29 * p["b"] + 128) >> 8
    return {"r": v, "g": v, "b": v}


pixels = st.fixed_dictionaries({"r": u8s, "g": u8s, "b": u8s})


def test_imaging_fixed_points():
    m = load("imaging")
    black, white = m.RGB(r=0, g=0, b=0), m.RGB(r=255, g=255, b=255)
    assert m.luma(black) == 16 and m.luma(white) == 235
    assert plain(m.ycbcr(black)) == {"y": 16, "cb": 128, "cr": 128}
    assert plain(m.ycbcr(white)) == {"y": 235, "cb": 128, "cr": 128}
    # Saturated primaries reach the ends of the chroma range.
    assert plain(m.ycbcr(m.RGB(r=0, g=0, b=255)))["cb"] == 240
    assert plain(m.ycbcr(m.RGB(r=255, g=0, b=0)))["cr"] == 240
    assert plain(m.grey(white)) == {"r": 255, "g": 255, "b": 255}
    assert plain(m.grey(black)) == {"r": 0, "g": 0, "b": 0}


@FEW
@given(pixels)
def test_imaging_random(p):
    m = load("imaging")
    pixel = m.RGB(**p)
    assert m.luma(pixel) == ref_luma(p)
    assert plain(m.ycbcr(pixel)) == ref_ycbcr(p)
    assert plain(m.grey(pixel)) == ref_grey(p)


def test_imaging_batch():
    m = load("imaging")
    rng = random.Random(1)
    requests = [{"p": {c: rng.randrange(256) for c in "rgb"}} for _ in range(300)]
    check_batch(m.luma, requests, ref_luma)
    check_batch(m.ycbcr, requests, ref_ycbcr)
    check_batch(m.grey, requests, ref_grey)


# --- crc ------------------------------------------------------------------------------------


payload16 = st.lists(u8s, min_size=16, max_size=16)


def test_crc32_known_vectors():
    m = load("crc")
    assert m.crc32([0] * 16) == zlib.crc32(bytes(16)) == 0xECBB4B55
    text = b"123456789abcdefg"
    assert m.crc32(list(text)) == zlib.crc32(text)
    frame = m.Frame(data=list(b"123456789" + bytes(7)), length=9)
    assert m.crc32_prefix(frame) == 0xCBF43926  # the CRC-32 check value
    assert m.crc32_prefix(m.Frame(data=[7] * 16, length=0)) == 0


@FEW
@given(payload16, u8s)
def test_crc32_random(data, length):
    m = load("crc")
    assert m.crc32(data) == zlib.crc32(bytes(data))
    frame = m.Frame(data=data, length=length)
    assert m.crc32_prefix(frame) == zlib.crc32(bytes(data[:length]))


def test_crc32_batch():
    m = load("crc")
    rng = random.Random(2)
    datas = [[rng.randrange(256) for _ in range(16)] for _ in range(200)]
    check_batch(m.crc32, [{"data": d} for d in datas], lambda data: zlib.crc32(bytes(data)))
    frames = [{"frame": {"data": d, "length": rng.randrange(20)}} for d in datas]
    check_batch(m.crc32_prefix, frames,
                lambda frame: zlib.crc32(bytes(frame["data"][:frame["length"]])))


# --- hashing --------------------------------------------------------------------------------


def rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & 0xFFFF_FFFF


def ref_fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFF_FFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFF_FFFF
    return h ^ (h >> 16)


def ref_fmix64(k: int) -> int:
    mask = 0xFFFF_FFFF_FFFF_FFFF
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & mask
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & mask
    return k ^ (k >> 33)


def ref_murmur3_32(data: bytes, seed: int) -> int:
    """MurmurHash3_x86_32 of any byte string, transcribed from the reference C code."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed
    blocks = len(data) // 4
    for i in range(blocks):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = rotl32((k * c1) & 0xFFFF_FFFF, 15)
        h ^= (k * c2) & 0xFFFF_FFFF
        h = (rotl32(h, 13) * 5 + 0xE6546B64) & 0xFFFF_FFFF
    tail = data[4 * blocks:]
    if tail:
        k = int.from_bytes(tail, "little")
        h ^= (rotl32((k * c1) & 0xFFFF_FFFF, 15) * c2) & 0xFFFF_FFFF
    return ref_fmix32(h ^ len(data))


def test_hashing_known_vectors():
    m = load("hashing")
    # Published MurmurHash3_x86_32 test vectors for 4-byte keys.
    assert m.murmur3_32(int.from_bytes(b"\0\0\0\0", "little"), 0) == 0x2362F9DE
    assert m.murmur3_32(int.from_bytes(b"aaaa", "little"), 0x9747B28C) == 0x5A97808A
    assert m.murmur3_32(int.from_bytes(b"test", "little"), 0) == 0xBA6BD213
    assert m.fmix32(0) == 0 and load("ecp5/hashing64").fmix64(0) == 0
    assert m.fmix32(1) == ref_fmix32(1) and load("ecp5/hashing64").fmix64(1) == ref_fmix64(1)


@FEW
@given(u32s, u32s, u64s)
def test_hashing_random(key, seed, k64):
    m = load("hashing")
    assert m.fmix32(key) == ref_fmix32(key)
    assert load("ecp5/hashing64").fmix64(k64) == ref_fmix64(k64)
    assert m.murmur3_32(key, seed) == ref_murmur3_32(key.to_bytes(4, "little"), seed)


def test_hashing_batch():
    m = load("hashing")
    rng = random.Random(3)
    check_batch(m.fmix32, [{"h": rng.getrandbits(32)} for _ in range(300)], ref_fmix32)
    check_batch(load("ecp5/hashing64").fmix64, [{"k": rng.getrandbits(64)} for _ in range(300)], ref_fmix64)
    check_batch(m.murmur3_32,
                [{"key": rng.getrandbits(32), "seed": rng.getrandbits(32)} for _ in range(300)],
                lambda key, seed: ref_murmur3_32(key.to_bytes(4, "little"), seed))


# --- ipv4 -----------------------------------------------------------------------------------

#: The example header of the Wikipedia article on the IPv4 header checksum (checksum 0xB861).
WIKIPEDIA_HEADER = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")


def ref_checksum(hdr: bytes) -> int:
    """Return the IPv4 header checksum of ``hdr``, ignoring its checksum field."""
    words = list(struct.unpack("!10H", hdr))
    words[5] = 0
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return 0xFFFF - total


def ref_parse(hdr: bytes) -> dict:
    (ver_ihl, _tos, total_length, _ident, flags_frag, ttl, protocol, stored_checksum,
     src, dst) = struct.unpack("!BBHHHBBH4s4s", hdr)
    total = sum(struct.unpack("!10H", hdr))
    return {
        "version": ver_ihl >> 4,
        "ihl": ver_ihl & 0xF,
        "total_length": total_length,
        "dont_fragment": int(bool(flags_frag & 0x4000)),
        "more_fragments": int(bool(flags_frag & 0x2000)),
        "fragment_offset": flags_frag & 0x1FFF,
        "ttl": ttl,
        "protocol": protocol,
        # The end-around-carry sum is 0xFFFF exactly when the plain sum of the ten words
        # is a positive multiple of 0xFFFF.
        "checksum_ok": int(total > 0 and total % 0xFFFF == 0),
        "src": int(ipaddress.IPv4Address(src)),
        "dst": int(ipaddress.IPv4Address(dst)),
    }


def with_checksum(hdr: bytes) -> bytes:
    return hdr[:10] + ref_checksum(hdr).to_bytes(2, "big") + hdr[12:]


headers = st.binary(min_size=20, max_size=20)


def test_ipv4_known_header():
    m = load("ipv4")
    assert m.checksum(list(WIKIPEDIA_HEADER)) == 0xB861
    parsed = plain(m.parse(list(with_checksum(WIKIPEDIA_HEADER))))
    assert parsed == {
        "version": 4, "ihl": 5, "total_length": 0x73, "dont_fragment": 1,
        "more_fragments": 0, "fragment_offset": 0, "ttl": 64, "protocol": 17,
        "checksum_ok": 1,
        "src": int(ipaddress.IPv4Address("192.168.0.1")),
        "dst": int(ipaddress.IPv4Address("192.168.0.199")),
    }
    assert plain(m.parse(list(WIKIPEDIA_HEADER)))["checksum_ok"] == 0


@FEW
@given(headers, st.booleans())
def test_ipv4_random(hdr, fix_checksum):
    m = load("ipv4")
    if fix_checksum:
        hdr = with_checksum(hdr)
    assert m.checksum(list(hdr)) == ref_checksum(hdr)
    assert plain(m.parse(list(hdr))) == ref_parse(hdr)
    assert plain(m.parse(list(with_checksum(hdr))))["checksum_ok"] == 1


def test_ipv4_batch():
    m = load("ipv4")
    rng = random.Random(4)
    hdrs = [rng.randbytes(20) for _ in range(200)]
    hdrs = [with_checksum(h) if i % 2 else h for i, h in enumerate(hdrs)]
    requests = [{"hdr": list(h)} for h in hdrs]
    check_batch(m.parse, requests, lambda hdr: ref_parse(bytes(hdr)))
    check_batch(m.checksum, requests, lambda hdr: ref_checksum(bytes(hdr)))


# --- fixedpoint -----------------------------------------------------------------------------

FIR_TAPS = [-1638, 18022, 18022, -1638]


def ref_q16_mul(a: int, b: int) -> int:
    return wrap(round_half_up(Fraction(a, 1 << 16) * Fraction(b, 1 << 16) * (1 << 16)), 32, True)


def ref_lerp(a: int, b: int, t: int) -> int:
    return a + round_half_up(Fraction((b - a) * t, 256))


def ref_fir4(x: list[int]) -> int:
    y = round_half_up(sum(Fraction(c, 1 << 15) * s for c, s in zip(FIR_TAPS, x)))
    return max(-32768, min(32767, y))


def test_fixedpoint_fixed_cases():
    m = load("fixedpoint")
    one, half = 1 << 16, 1 << 15
    assert m.q16_mul(one, one) == one
    assert m.q16_mul(half, -3 * one) == -3 * half
    assert m.q16_mul(1, half) == 1  # 2**-17 rounds up to 2**-16
    assert m.q16_mul(-1, half) == 0  # -2**-17 rounds up to 0
    assert m.q16_mul(1 << 24, 1 << 24) == 0  # 2**32 wraps to 0 in i32
    assert m.lerp(10, 20, 0) == 10 and m.lerp(0, 255, 128) == 128 and m.lerp(255, 0, 255) == 1
    assert m.fir4([1000, 1000, 1000, 1000]) == 1000  # the taps sum to 1.0
    assert m.fir4([-32768, 32767, 32767, -32768]) == 32767  # saturates
    assert m.fir4([32767, -32768, -32768, 32767]) == -32768


@FEW
@given(i32s, i32s, u8s, u8s, u8s, st.lists(i16s, min_size=4, max_size=4))
def test_fixedpoint_random(a, b, la, lb, t, x):
    m = load("fixedpoint")
    assert m.q16_mul(a, b) == ref_q16_mul(a, b)
    assert m.lerp(la, lb, t) == ref_lerp(la, lb, t)
    assert m.fir4(x) == ref_fir4(x)


def test_fixedpoint_batch():
    m = load("fixedpoint")
    rng = random.Random(5)
    check_batch(m.q16_mul, [{"a": rng.randint(-2**31, 2**31 - 1),
                             "b": rng.randint(-2**31, 2**31 - 1)} for _ in range(300)],
                ref_q16_mul)
    check_batch(m.lerp, [{"a": rng.randrange(256), "b": rng.randrange(256),
                          "t": rng.randrange(256)} for _ in range(300)], ref_lerp)
    check_batch(m.fir4, [{"x": [rng.randint(-32768, 32767) for _ in range(4)]}
                         for _ in range(300)], ref_fir4)


# --- saturating -----------------------------------------------------------------------------


def clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


SATURATING_REFS = {
    "add_i16": lambda a, b: clamp(a + b, -32768, 32767),
    "sub_i16": lambda a, b: clamp(a - b, -32768, 32767),
    "mul_q15": lambda a, b: clamp(round_half_up(Fraction(a * b, 1 << 15)), -32768, 32767),
    "add_u8": lambda a, b: min(a + b, 255),
    "clamp": lambda x, lo, hi: min(max(x, lo), hi),
}


def test_saturating_fixed_cases():
    m = load("saturating")
    assert m.add_i16(32767, 1) == 32767 and m.add_i16(-32768, -1) == -32768
    assert m.add_i16(100, -300) == -200
    assert m.sub_i16(-32768, 1) == -32768 and m.sub_i16(0, -32768) == 32767
    assert m.mul_q15(-32768, -32768) == 32767  # -1.0 * -1.0 is just below 1.0
    assert m.mul_q15(16384, 16384) == 8192  # 0.5 * 0.5
    assert m.add_u8(200, 100) == 255 and m.add_u8(1, 2) == 3
    assert m.clamp(5, 0, 3) == 3 and m.clamp(-5, 0, 3) == 0 and m.clamp(5, 9, 3) == 3


@FEW
@given(i16s, i16s, u8s, u8s, i32s, i32s, i32s)
def test_saturating_random(a, b, ua, ub, x, lo, hi):
    m = load("saturating")
    assert m.add_i16(a, b) == SATURATING_REFS["add_i16"](a, b)
    assert m.sub_i16(a, b) == SATURATING_REFS["sub_i16"](a, b)
    assert m.mul_q15(a, b) == SATURATING_REFS["mul_q15"](a, b)
    assert m.add_u8(ua, ub) == SATURATING_REFS["add_u8"](ua, ub)
    assert m.clamp(x, lo, hi) == SATURATING_REFS["clamp"](x, lo, hi)


def test_saturating_batch():
    m = load("saturating")
    rng = random.Random(6)
    pairs = [{"a": rng.randint(-32768, 32767), "b": rng.randint(-32768, 32767)}
             for _ in range(300)]
    for name in ("add_i16", "sub_i16", "mul_q15"):
        check_batch(getattr(m, name), pairs, SATURATING_REFS[name])
    check_batch(m.add_u8, [{"a": rng.randrange(256), "b": rng.randrange(256)}
                           for _ in range(300)], SATURATING_REFS["add_u8"])
    # Positional tuples are accepted as well as dicts.
    triples = [tuple(rng.randint(-2**31, 2**31 - 1) for _ in range(3)) for _ in range(300)]
    assert m.clamp.batch(triples) == [SATURATING_REFS["clamp"](*t) for t in triples]


# --- lookup ---------------------------------------------------------------------------------


def ref_gamma(v: int) -> int:
    return round(255 * (v / 255) ** (1 / 2.2))


def ref_sine(phase: int) -> int:
    return round(32767 * math.sin(2 * math.pi * phase / 256))


def ref_crc8(data: list[int]) -> int:
    """CRC-8/SMBUS, bit by bit: polynomial 0x07, initial value 0, no reflection."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def test_lookup_exhaustive_tables():
    m = load("lookup")
    phases = list(range(256))
    assert m.gamma.batch([{"v": v} for v in phases]) == [ref_gamma(v) for v in phases]
    assert m.sine.batch([(p,) for p in phases]) == [ref_sine(p) for p in phases]
    assert m.sine(64) == 32767 and m.sine(192) == -32767 and m.sine(128) == 0


def test_crc8_known_vector():
    m = load("lookup")
    assert m.crc8(list(b"12345678")) == ref_crc8(list(b"12345678"))
    assert ref_crc8(list(b"123456789")) == 0xF4  # the CRC-8/SMBUS check value
    assert m.crc8([0] * 8) == 0


@FEW
@given(u8s, st.lists(u8s, min_size=8, max_size=8))
def test_lookup_random(v, data):
    m = load("lookup")
    assert m.gamma(v) == ref_gamma(v)
    assert m.sine(v) == ref_sine(v)
    assert m.crc8(data) == ref_crc8(data)


def test_lookup_batch():
    m = load("lookup")
    rng = random.Random(7)
    check_batch(m.crc8, [{"data": [rng.randrange(256) for _ in range(8)]} for _ in range(300)],
                ref_crc8)


# --- intmath --------------------------------------------------------------------------------


def test_intmath_fixed_cases():
    m = load("intmath")
    top = 0xFFFF_FFFF
    for n in (0, 1, 2, 3, 4, 15, 16, 17, 65535 ** 2, 65535 ** 2 - 1, top):
        assert m.isqrt(n) == math.isqrt(n), n
    # Consecutive Fibonacci numbers are Euclid's worst case; powers of two are Stein's.
    fib = [1, 1]
    while fib[-1] <= top:
        fib.append(fib[-1] + fib[-2])
    fib16 = [f for f in fib if f < 1 << 16]
    cases = [(0, 0), (0, 7), (7, 0), (fib16[-1], fib16[-2]), (1 << 15, 1 << 14),
             (0xFFFF, 0xFFFF), (0xFFFF, 1), (1, 0xFFFF), (3 << 10, 9 << 8), (2**15 - 1, 2**15 - 2)]
    for a, b in cases:
        assert load("gcd").gcd(a, b) == math.gcd(a, b), (a, b)
    for x in (0, 1, top, 0x8000_0000, 0x5555_5555):
        assert m.count_ones(x) == m.count_ones_fast(x) == x.bit_count()
        assert m.bit_length(x) == x.bit_length()


@FEW
@given(u32s, u32s, st.integers(0, 31))
def test_intmath_random(a, b, k):
    m = load("intmath")
    assert m.isqrt(a) == math.isqrt(a)
    assert load("gcd").gcd(a & 0xFFFF, b >> 16) == math.gcd(a & 0xFFFF, b >> 16)
    # Shared powers of two exercise the shift that Stein's algorithm restores at the end.
    a2, b2 = (a << k) & 0xFFFF, (b << k) & 0xFFFF
    assert load("gcd").gcd(a2, b2) == math.gcd(a2, b2)
    assert m.count_ones(a) == a.bit_count()
    assert m.count_ones_fast(a) == a.bit_count()
    assert m.bit_length(a) == a.bit_length()


def test_intmath_batch():
    m = load("intmath")
    rng = random.Random(8)
    # Random bit lengths, so small and large values are both common.
    values = [rng.getrandbits(rng.randrange(33)) for _ in range(300)]
    check_batch(m.isqrt, [{"n": v} for v in values], lambda n: math.isqrt(n))
    check_batch(load("gcd").gcd, [{"a": v & 0xFFFF, "b": rng.getrandbits(rng.randrange(17))}
                        for v in values],
                lambda a, b: math.gcd(a, b))
    check_batch(m.count_ones, [{"x": v} for v in values], lambda x: x.bit_count())
    check_batch(m.count_ones_fast, [{"x": v} for v in values], lambda x: x.bit_count())
    check_batch(m.bit_length, [{"x": v} for v in values], lambda x: x.bit_length())


# --- bitpack --------------------------------------------------------------------------------

def ref_base64_encode(data: list[int]) -> list[int]:
    return list(base64.b64encode(bytes(data)))


def ref_base64_decode(text: list[int]) -> dict:
    try:
        data = list(base64.b64decode(bytes(text), validate=True))
        valid = len(data) == 3  # padding (`=`) is not a digit here
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        data = None
    return {"data": data, "valid": int(valid)}


def ref_rgb565_pack(p: dict) -> int:
    return (p["r"] >> 3) << 11 | (p["g"] >> 2) << 5 | p["b"] >> 3


def ref_rgb565_unpack(v: int) -> dict:
    r, g, b = v >> 11, (v >> 5) & 0x3F, v & 0x1F
    return {"r": r << 3 | r >> 2, "g": g << 2 | g >> 4, "b": b << 3 | b >> 2}


base64_chars = st.lists(st.sampled_from(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), min_size=4, max_size=4)


def test_bitpack_fixed_cases():
    m = load("bitpack")
    assert bytes(m.base64_encode(list(b"Man"))) == b"TWFu"
    assert bytes(m.base64_encode([0xFB, 0xFF, 0xBF])) == b"+/+/"
    decoded = plain(m.base64_decode(list(b"TWFu")))
    assert decoded == {"data": list(b"Man"), "valid": 1}
    assert plain(m.base64_decode(list(b"TW=u")))["valid"] == 0
    assert m.rgb565_pack(m.RGB(r=255, g=255, b=255)) == 0xFFFF
    assert plain(m.rgb565_unpack(0xFFFF)) == {"r": 255, "g": 255, "b": 255}
    assert plain(m.rgb565_unpack(0)) == {"r": 0, "g": 0, "b": 0}


@FEW
@given(st.lists(u8s, min_size=3, max_size=3), base64_chars, st.lists(u8s, min_size=4,
       max_size=4), pixels, u16s)
def test_bitpack_random(data, text, any_bytes, p, v):
    m = load("bitpack")
    assert m.base64_encode(data) == ref_base64_encode(data)
    assert plain(m.base64_decode(text)) == ref_base64_decode(text)
    decoded = plain(m.base64_decode(any_bytes))
    assert decoded["valid"] == ref_base64_decode(any_bytes)["valid"]
    if decoded["valid"]:
        assert decoded == ref_base64_decode(any_bytes)
    assert m.rgb565_pack(m.RGB(**p)) == ref_rgb565_pack(p)
    assert plain(m.rgb565_unpack(v)) == ref_rgb565_unpack(v)
    # Unpacking then packing is lossless.
    assert m.rgb565_pack(m.RGB(**plain(m.rgb565_unpack(v)))) == v


def test_bitpack_batch():
    m = load("bitpack")
    rng = random.Random(9)
    check_batch(m.base64_encode, [{"data": list(rng.randbytes(3))} for _ in range(300)],
                ref_base64_encode)
    texts = [list(base64.b64encode(rng.randbytes(3))) for _ in range(300)]
    check_batch(m.base64_decode, [{"text": t} for t in texts], ref_base64_decode)
    check_batch(m.rgb565_pack, [{"p": {c: rng.randrange(256) for c in "rgb"}}
                                for _ in range(300)], ref_rgb565_pack)
    check_batch(m.rgb565_unpack, [{"v": rng.randrange(1 << 16)} for _ in range(300)],
                ref_rgb565_unpack)
