"""CRC-32 (the checksum of zlib, gzip, PNG and Ethernet) over a fixed-size payload.

The bitwise algorithm below is the textbook one: for every byte, xor it into
the low bits of the register, then shift eight times, xoring in the reflected
polynomial whenever a 1 falls out. The loops have constant bounds, so the
compiler unrolls them into a pipeline of 128 shift-and-xor steps.
"""

from fpgac import App, Array, Record, u8, u32

app = App("crc")

#: The CRC-32 polynomial 0x04C11DB7, bit-reversed (the "reflected" form).
POLY: u32 = 0xEDB88320


class Frame(Record):
    """A 16-byte buffer of which only the first `length` bytes are meaningful."""

    data: Array[u8, 16]
    length: u8


def crc_step(crc: u32, byte: u8) -> u32:
    """Feed one byte into the CRC register and return the new register."""
    crc = crc ^ byte
    for _bit in range(8):
        if crc & 1:
            crc = (crc >> 1) ^ POLY
        else:
            crc = crc >> 1
    return crc


@app.post("/crc32")
def crc32(data: Array[u8, 16]) -> u32:
    """Return the CRC-32 of 16 bytes, equal to Python's `zlib.crc32(bytes(data))`."""
    crc: u32 = 0xFFFFFFFF
    for byte in data:
        crc = crc_step(crc, byte)
    return crc ^ 0xFFFFFFFF


@app.post("/crc32_prefix")
def crc32_prefix(frame: Frame) -> u32:
    """Return the CRC-32 of the first `frame.length` bytes (all 16 if the length is larger)."""
    crc: u32 = 0xFFFFFFFF
    for i in range(16):
        # Every step is computed; bytes past the length leave the register as it was.
        if i < frame.length:
            crc = crc_step(crc, frame.data[i])
    return crc ^ 0xFFFFFFFF
