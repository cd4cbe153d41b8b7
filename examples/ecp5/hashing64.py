"""MurmurHash3's 64-bit finalizer: two 64 x 64-bit multiplications that wrap to 64 bits.

An example for the ULX3S (ECP5-85F) only: each product is ten 16 x 16-bit
pieces, twenty in all, and an iCE40 UP5K has eight DSP blocks and 5,280 logic
cells — the pieces left over would not fit in its logic. Build it with
`fpgac build examples/ecp5/hashing64.py --board ulx3s-85f`.
"""

from fpgac import App, u64

app = App("hashing64")


@app.post("/fmix64")
def fmix64(k: u64) -> u64:
    """Return MurmurHash3's 64-bit finalizer of `k`."""
    x: u64 = k
    x ^= x >> 33
    x *= 0xFF51AFD7ED558CCD
    x ^= x >> 33
    x *= 0xC4CEB9FE1A85EC53
    x ^= x >> 33
    return x
