"""Pixel colour conversions: RGB to luma and to YCbCr, and RGB to grey.

The formulas are the 8-bit integer approximations of ITU-R BT.601 (studio
swing): luma in 16..235, chroma in 16..240. Every intermediate is exact, so
the only rounding is the explicit `+ 128` before each `>> 8`.
"""

from fpgac import App, Record, u8

app = App("imaging")


class RGB(Record):
    """An 8-bit-per-channel pixel."""

    r: u8
    g: u8
    b: u8


class YCbCr(Record):
    """A BT.601 studio-swing pixel: luma y, blue-difference cb, red-difference cr."""

    y: u8
    cb: u8
    cr: u8


def luma_of(p: RGB) -> u8:
    """Return the BT.601 luma of a pixel (16 for black, 235 for white)."""
    return ((66 * p.r + 129 * p.g + 25 * p.b + 128) >> 8) + 16


@app.post("/luma")
def luma(p: RGB) -> u8:
    """Return the luma of one pixel."""
    return luma_of(p)


@app.post("/ycbcr")
def ycbcr(p: RGB) -> YCbCr:
    """Convert one pixel to YCbCr; the chroma sums can be negative before the offset."""
    cb = ((-38 * p.r - 74 * p.g + 112 * p.b + 128) >> 8) + 128
    cr = ((112 * p.r - 94 * p.g - 18 * p.b + 128) >> 8) + 128
    return YCbCr(y=luma_of(p), cb=cb, cr=cr)


@app.post("/grey")
def grey(p: RGB) -> RGB:
    """Return the full-swing grey of a pixel (0 for black, 255 for white) as an RGB pixel."""
    # 77 + 150 + 29 == 256, so white maps to exactly 255 after rounding.
    v: u8 = (77 * p.r + 150 * p.g + 29 * p.b + 128) >> 8
    return RGB(r=v, g=v, b=v)
