"""Bit packing: Base64 of three bytes, and RGB565 pixels.

Base64 regroups 24 bits into four 6-bit digits, each written as an ASCII
character; RGB565 keeps the top 5, 6 and 5 bits of each channel in 16 bits.
Both are pure rewiring plus a little logic, the kind of work hardware does for
free: `bits` takes a field out of a value and `concat` joins fields together.
"""

from fpgac import App, Array, Record, Table, bits, concat, u5, u6, u8, u16

app = App("bitpack")

#: ASCII codes of the Base64 alphabet `A-Z a-z 0-9 + /`, indexed by digit value.
BASE64_ALPHABET = Table(u8, [
    65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87,
    88, 89, 90, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112,
    113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
    43, 47,
])


class RGB(Record):
    """An 8-bit-per-channel pixel."""

    r: u8
    g: u8
    b: u8


class Decoded(Record):
    """Three decoded bytes, and whether all four characters were Base64 digits."""

    data: Array[u8, 3]
    valid: bool


def digit_value(c: u8) -> u8:
    """Return the value (0..63) of a Base64 character, or 64 if it is not one."""
    if 65 <= c <= 90:  # A-Z
        return c - 65
    elif 97 <= c <= 122:  # a-z
        return c - 97 + 26
    elif 48 <= c <= 57:  # 0-9
        return c - 48 + 52
    elif c == 43:  # +
        return 62
    elif c == 47:  # /
        return 63
    return 64


@app.post("/base64_encode")
def base64_encode(data: Array[u8, 3]) -> Array[u8, 4]:
    """Encode three bytes as four Base64 characters (ASCII codes)."""
    word = (data[0] << 16) | (data[1] << 8) | data[2]  # 24 bits, data[0] on top
    out: Array[u8, 4] = [0, 0, 0, 0]
    for i in range(4):
        digit: u6 = bits(word, 18 - 6 * i, 6)
        out[i] = BASE64_ALPHABET[digit]
    return out


@app.post("/base64_decode")
def base64_decode(text: Array[u8, 4]) -> Decoded:
    """Decode four Base64 characters (no padding) into three bytes."""
    word = 0
    valid = True
    for c in text:
        value = digit_value(c)
        valid = valid and value < 64
        word = (word << 6) | bits(value, 0, 6)
    return Decoded(data=[bits(word, 16, 8), bits(word, 8, 8), bits(word, 0, 8)], valid=valid)


@app.post("/rgb565_pack")
def rgb565_pack(p: RGB) -> u16:
    """Pack a pixel into RGB565: red in the top 5 bits, then 6 of green, then 5 of blue."""
    # `concat` joins its operands by their declared widths: 5 + 6 + 5 = 16 bits.
    r: u5 = p.r >> 3
    g: u6 = p.g >> 2
    b: u5 = p.b >> 3
    return concat(r, g, b)


@app.post("/rgb565_unpack")
def rgb565_unpack(v: u16) -> RGB:
    """Expand an RGB565 pixel; each channel repeats its top bits so white stays 255."""
    r = bits(v, 11, 5)
    g = bits(v, 5, 6)
    b = bits(v, 0, 5)
    return RGB(r=(r << 3) | (r >> 2), g=(g << 2) | (g >> 4), b=(b << 3) | (b >> 2))
