"""Hand-written Amaranth cores of example routes: the baselines of the QoR benchmark.

Each core is what an experienced Amaranth user would write for the route: the same
stream interface as fpgac's generated core (``i: In(stream.Signature(Request))``,
``o: Out(stream.Signature(Response))``, payloads laid out as docs/hardware.md says),
the same stalling pipeline (``advance = ~o.valid | o.ready`` enables every register,
valid bits reset, data registers reset-less), one request per clock, and a register
placement chosen by hand for both boards (iCE40 at 48 MHz, ECP5 at 150 MHz).

- :class:`LumaCore` (``/luma`` of examples/imaging.py): the three products, then
  their sum with both constants folded into one (``+ 128`` and ``+ 16 << 8``).
- :class:`Crc32Core` (``/crc32`` of examples/crc.py): the CRC of 16 bytes is affine
  in the 128 input bits, so each output bit is a constant XOR some input bits; the
  matrix is computed at elaboration time with :func:`zlib.crc32`, and each output
  bit's XOR is cut into 16-input chunks (two LUT levels) registered in stage 1.
- :class:`MulQ15Core` (``/mul_q15`` of examples/saturating.py): the signed product
  registered on its own (so synthesis can put it in one DSP with its registers),
  then rounding and saturation.
- :class:`Fmix32Core` (``/fmix32`` of examples/hashing.py): both 32-bit
  multiplications wrap to 32 bits, so each is three 16x16 products (one DSP each)
  in one stage and their sum in the next; the xor-shifts ride along.
"""

import zlib

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["HAND_CORES", "Crc32Core", "Fmix32Core", "LumaCore", "MulQ15Core"]

RGB = data.StructLayout({"r": unsigned(8), "g": unsigned(8), "b": unsigned(8)})


class _Pipeline(wiring.Component):
    """A stalling pipeline: ``stage(m, k, value)`` registers ``value`` at boundary ``k``."""

    def _start(self, m: Module) -> Signal:
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        self._advance = advance
        self._valid = self.i.valid
        return advance

    def _register(self, m: Module, value, name: str) -> Signal:
        reg = Signal(Value.cast(value).shape(), name=name, reset_less=True)
        with m.If(self._advance):
            m.d.sync += reg.eq(value)
        return reg

    def _next_valid(self, m: Module, k: int) -> Signal:
        valid = Signal(name=f"valid_s{k}")
        with m.If(self._advance):
            m.d.sync += valid.eq(self._valid)
        self._valid = valid
        return valid


class LumaCore(_Pipeline):
    """``/luma``: ``((66 r + 129 g + 25 b + 128) >> 8) + 16`` in two stages."""

    LATENCY = 2
    i: In(stream.Signature(data.StructLayout({"p": RGB})))
    o: Out(stream.Signature(unsigned(8)))

    def elaborate(self, platform):
        m = Module()
        self._start(m)
        p = self.i.payload.p
        # Stage 0: the products.
        r = self._register(m, 66 * p.r, "r66")
        g = self._register(m, 129 * p.g, "g129")
        b = self._register(m, 25 * p.b, "b25")
        self._next_valid(m, 1)
        # Stage 1: one sum; (x + 128 >> 8) + 16 == (x + 128 + 4096) >> 8.
        y = self._register(m, ((r + g + b + (128 + (16 << 8))) >> 8)[:8], "y")
        m.d.comb += [self.o.valid.eq(self._next_valid(m, 2)), self.o.payload.eq(y)]
        return m


def _crc32_affine(n_bytes: int) -> tuple[int, list[int]]:
    """Return ``(c, cols)`` with ``crc32(x) == c ^ XOR(cols[k] for each set bit k of x)``."""
    zero = bytes(n_bytes)
    c = zlib.crc32(zero)
    cols = [zlib.crc32((1 << k).to_bytes(n_bytes, "little")) ^ c for k in range(8 * n_bytes)]
    return c, cols


class Crc32Core(_Pipeline):
    """``/crc32``: zlib's CRC-32 of 16 bytes as an affine map, in two stages."""

    LATENCY = 2
    #: Input bits XORed in stage 0 per register: two levels of 4-input LUTs.
    CHUNK = 16
    i: In(stream.Signature(data.StructLayout({"data": data.ArrayLayout(unsigned(8), 16)})))
    o: Out(stream.Signature(unsigned(32)))

    def elaborate(self, platform):
        m = Module()
        self._start(m)
        x = self.i.payload.data.as_value()
        c, cols = _crc32_affine(16)
        partial = []
        for bit in range(32):
            taps = [x[k] for k in range(128) if cols[k] >> bit & 1]
            chunks = [Cat(*taps[j:j + self.CHUNK]).xor()
                      for j in range(0, len(taps), self.CHUNK)]
            partial.append(self._register(m, Cat(*chunks), f"crc{bit}_part"))
        self._next_valid(m, 1)
        crc = Cat(*(part.xor() for part in partial)) ^ Const(c, 32)
        y = self._register(m, crc, "crc")
        m.d.comb += [self.o.valid.eq(self._next_valid(m, 2)), self.o.payload.eq(y)]
        return m


class MulQ15Core(_Pipeline):
    """``/mul_q15``: ``saturate16((a * b + 2**14) >> 15)`` in three stages."""

    LATENCY = 3
    i: In(stream.Signature(data.StructLayout({"a": signed(16), "b": signed(16)})))
    o: Out(stream.Signature(signed(16)))

    def elaborate(self, platform):
        m = Module()
        self._start(m)
        # Stage 0: the operands, registered (a DSP's input registers).
        a = self._register(m, self.i.payload.a, "a")
        b = self._register(m, self.i.payload.b, "b")
        self._next_valid(m, 1)
        # Stage 1: the product (a DSP's output register).
        product = self._register(m, a * b, "product")
        self._next_valid(m, 2)
        # Stage 2: round and saturate; only -1 * -1 can exceed the range (to 2**15).
        rounded = (product + (1 << 14)) >> 15
        y = self._register(m, Mux(rounded > 32767, 32767, rounded)[:16].as_signed(), "y")
        m.d.comb += [self.o.valid.eq(self._next_valid(m, 3)), self.o.payload.eq(y)]
        return m


class Fmix32Core(_Pipeline):
    """``/fmix32``: MurmurHash3's 32-bit finalizer in five stages.

    Each ``x * c`` wrapped to 32 bits is three 16x16 products (the high x high one
    only reaches bits 32 and up), registered, then summed in the next stage; the
    xor-shifts ride along in front of the products and after the last sum.
    """

    LATENCY = 5
    i: In(stream.Signature(data.StructLayout({"h": unsigned(32)})))
    o: Out(stream.Signature(unsigned(32)))

    def _products(self, m: Module, x, c: int, name: str):
        lo, hi = x[:16], x[16:]
        return (self._register(m, lo * (c & 0xFFFF), f"{name}_ll"),
                self._register(m, lo * (c >> 16), f"{name}_lh"),
                self._register(m, hi * (c & 0xFFFF), f"{name}_hl"))

    @staticmethod
    def _sum(parts):
        ll, lh, hl = parts
        return (ll + ((lh + hl) << 16))[:32]

    def elaborate(self, platform):
        m = Module()
        self._start(m)
        h = self.i.payload.h
        p1 = self._products(m, h ^ (h >> 16), 0x85EBCA6B, "p1")
        self._next_valid(m, 1)
        x1 = self._register(m, self._sum(p1), "x1")
        self._next_valid(m, 2)
        p2 = self._products(m, x1 ^ (x1 >> 13), 0xC2B2AE35, "p2")
        self._next_valid(m, 3)
        x2 = self._register(m, self._sum(p2), "x2")
        self._next_valid(m, 4)
        y = self._register(m, x2 ^ (x2 >> 16), "y")
        m.d.comb += [self.o.valid.eq(self._next_valid(m, 5)), self.o.payload.eq(y)]
        return m


#: The hand cores by route: ``(example file, route path) -> component class``.
HAND_CORES = {
    ("imaging.py", "/luma"): LumaCore,
    ("crc.py", "/crc32"): Crc32Core,
    ("saturating.py", "/mul_q15"): MulQ15Core,
    ("hashing.py", "/fmix32"): Fmix32Core,
}
