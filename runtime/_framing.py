"""The host-link framing: how requests and responses travel over a board's UART.

This module is the protocol's reference, shared by the host driver and by the
tests of the board's gateware (which must agree with it byte for byte). The
protocol is described for users in ``docs/link.md``; in short:

- A frame's *content* is ``kind (1 byte) | tag (2 bytes, little-endian) | body |
  crc (2 bytes, big-endian)``. The CRC is CRC-16/CCITT-FALSE (polynomial
  0x1021, initial value 0xFFFF, no reflection, no final XOR) over kind, tag and
  body, so running the CRC over the whole content gives 0.
- On the line the content is SLIP-escaped (RFC 1055: ``0xC0`` becomes
  ``0xDB 0xDC``, ``0xDB`` becomes ``0xDB 0xDD``) and followed by one ``0xC0``
  (END). Every END closes a frame; a frame that is empty is ignored; a frame
  with a bad escape, a bad CRC, a wrong length or an unknown kind is dropped
  and counted. Any byte stream therefore resynchronises at the next END.
- ``kind`` 0..253 is a route, by its index in the bundle's manifest; the body
  of a request is the route's input payload and the body of its response the
  output payload, packed as ``signature.json`` says (first leaf least
  significant) into ``ceil(width / 8)`` little-endian bytes, padding bits zero.
- ``kind`` 255 is a status query (empty body); the board answers with the
  :class:`Status` body below (60 bytes). ``kind`` 254 is reserved.
- Responses carry the request's kind and tag. Each route answers its requests
  in order; responses of different routes may interleave.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["END", "ESC", "ESC_END", "ESC_ESC", "KIND_STATUS", "MAX_ROUTES", "PROTOCOL_VERSION",
           "MAGIC", "HEADER_BYTES", "TRAILER_BYTES", "crc16", "escape", "encode_frame", "Frame",
           "FrameDecoder", "Status", "STATUS_BODY_BYTES", "payload_bytes", "pack_body",
           "unpack_body"]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
KIND_STATUS = 0xFF
#: Route kinds are 0 .. MAX_ROUTES - 1.
MAX_ROUTES = 254
PROTOCOL_VERSION = 1
MAGIC = b"FPGC"
HEADER_BYTES = 3   # kind, tag (2)
TRAILER_BYTES = 2  # crc


def crc16(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """Return the CRC-16/CCITT-FALSE of ``data`` (``crc`` continues an earlier one)."""
    return binascii.crc_hqx(data, crc)


def escape(content: bytes) -> bytes:
    """Return ``content`` SLIP-escaped (without the closing END)."""
    return content.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")


def encode_frame(kind: int, tag: int, body: bytes = b"") -> bytes:
    """Return the bytes on the line for one frame: escaped content, then END."""
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"frame kind must be a byte, not {kind}")
    if not 0 <= tag <= 0xFFFF:
        raise ValueError(f"frame tag must fit 16 bits, not {tag}")
    content = bytes((kind, tag & 0xFF, tag >> 8)) + bytes(body)
    content += crc16(content).to_bytes(2, "big")
    return escape(content) + b"\xc0"


@dataclass(frozen=True)
class Frame:
    """One received frame whose CRC checked out."""

    kind: int
    tag: int
    body: bytes


class FrameDecoder:
    """Split a byte stream into frames, dropping and counting the bad ones.

    ``body_bytes(kind)`` gives the body length a frame of that kind must have,
    or None when the kind is unknown (the frame is then dropped). Without it
    any length is accepted. ``max_content`` bounds the bytes kept while
    waiting for an END, so noise cannot grow the buffer without limit.
    """

    def __init__(self, body_bytes=None, *, max_content: int = 4096) -> None:
        self._body_bytes = body_bytes
        self._max = max_content
        self._buffer = bytearray()
        self._escaped = False
        self._bad = False
        #: Frames dropped: bad escape, overlong, too short, bad CRC, wrong length, unknown kind.
        self.dropped = 0
        #: Frames accepted.
        self.frames = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Consume ``data``; return the frames it completed, in order."""
        frames: list[Frame] = []
        buffer = self._buffer
        for byte in bytes(data):
            if byte == END:
                if buffer or self._bad or self._escaped:
                    frame = None if (self._bad or self._escaped) else self._check(buffer)
                    if frame is None:
                        self.dropped += 1
                    else:
                        self.frames += 1
                        frames.append(frame)
                buffer.clear()
                self._escaped = self._bad = False
                continue
            if self._bad:
                continue
            if self._escaped:
                self._escaped = False
                if byte == ESC_END:
                    byte = END
                elif byte == ESC_ESC:
                    byte = ESC
                else:
                    self._bad = True
                    continue
            elif byte == ESC:
                self._escaped = True
                continue
            if len(buffer) >= self._max:
                self._bad = True
                buffer.clear()
                continue
            buffer.append(byte)
        return frames

    def _check(self, content: bytearray) -> Frame | None:
        if len(content) < HEADER_BYTES + TRAILER_BYTES or crc16(content) != 0:
            return None
        kind = content[0]
        body = bytes(content[HEADER_BYTES:-TRAILER_BYTES])
        if self._body_bytes is not None:
            expected = self._body_bytes(kind)
            if expected is None or expected != len(body):
                return None
        return Frame(kind, content[1] | content[2] << 8, body)


# --- the status body ---------------------------------------------------------------------------

_STATUS = struct.Struct("<4sBBIIH32sIII")
STATUS_BODY_BYTES = _STATUS.size  # 60


@dataclass(frozen=True)
class Status:
    """What a board says about itself in answer to a status query.

    ``design_hash`` is the SHA-256 of the bundle's ``ir.json`` (as listed in
    its manifest), so the host can check which design a board carries.
    ``window`` is how many requests the host may have outstanding (sent and
    not yet answered): the board buffers that many, so a host that keeps to
    it never loses a request to overflow.
    Counters are modulo 2**32 and count since the board's reset: frames
    accepted, frames dropped (bad escape, CRC, length or kind), and frames sent.
    """

    version: int
    n_routes: int
    clock_khz: int
    baud: int
    window: int
    design_hash: bytes
    rx_frames: int
    rx_dropped: int
    tx_frames: int

    def encode(self) -> bytes:
        """Return the status body's bytes."""
        return _STATUS.pack(MAGIC, self.version, self.n_routes, self.clock_khz, self.baud,
                            self.window, self.design_hash, self.rx_frames, self.rx_dropped, self.tx_frames)

    @classmethod
    def decode(cls, body: bytes) -> Status:
        """Parse a status body; raise ValueError if it is not one."""
        if len(body) != STATUS_BODY_BYTES:
            raise ValueError(f"a status body has {STATUS_BODY_BYTES} bytes, not {len(body)}")
        magic, *fields = _STATUS.unpack(body)
        if magic != MAGIC:
            raise ValueError(f"a status body starts with {MAGIC!r}, not {magic!r}")
        return cls(*fields)


# --- payload packing ---------------------------------------------------------------------------

def payload_bytes(width: int) -> int:
    """Return the body length of a payload of ``width`` bits."""
    return (width + 7) // 8


def pack_body(leaves: Sequence[Mapping], values: Iterable[int]) -> bytes:
    """Pack one request: ``values`` in the order of ``leaves`` (signature leaf dicts)."""
    word, width = 0, 0
    for leaf, value in zip(leaves, values, strict=True):
        word |= (int(value) & ((1 << leaf["width"]) - 1)) << leaf["offset"]
        width = max(width, leaf["offset"] + leaf["width"])
    return word.to_bytes(payload_bytes(width), "little")


def unpack_body(leaves: Sequence[Mapping], body: bytes) -> list[int]:
    """Unpack one response body into leaf values, in the order of ``leaves``."""
    word = int.from_bytes(body, "little")
    values = []
    for leaf in leaves:
        value = (word >> leaf["offset"]) & ((1 << leaf["width"]) - 1)
        if leaf["signed"] and value >> (leaf["width"] - 1):
            value -= 1 << leaf["width"]
        values.append(value)
    return values
