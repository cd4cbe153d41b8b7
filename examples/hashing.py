"""Hash finalizers: MurmurHash3's fmix32, and MurmurHash3 of a 4-byte key.

These are the "avalanche" steps that make every output bit depend on every
input bit — the usual last step of a hash table or a load balancer's key hash.
The 64-bit finalizer, too big for an iCE40 UP5K, is in `ecp5/hashing64.py`.
Multiplications wrap: each store into the declared `u32` local keeps
the low bits, exactly as the C reference code does.
"""

from fpgac import App, rotl, u32

app = App("hashing")

C1: u32 = 0xCC9E2D51
C2: u32 = 0x1B873593


def fmix32_of(h: u32) -> u32:
    """Return MurmurHash3's 32-bit finalizer of `h`."""
    x: u32 = h
    x ^= x >> 16
    x *= 0x85EBCA6B
    x ^= x >> 13
    x *= 0xC2B2AE35
    x ^= x >> 16
    return x


@app.post("/fmix32")
def fmix32(h: u32) -> u32:
    """Return MurmurHash3's 32-bit finalizer of `h`."""
    return fmix32_of(h)


@app.post("/murmur3_32")
def murmur3_32(key: u32, seed: u32) -> u32:
    """Return MurmurHash3_x86_32 of the 4 bytes of `key` (little-endian) with `seed`."""
    k: u32 = key * C1
    k = rotl(k, 15)
    k *= C2
    h: u32 = seed ^ k
    h = rotl(h, 13)
    h = h * 5 + 0xE6546B64
    # The key length in bytes is mixed in before the finalizer.
    h ^= 4
    return fmix32_of(h)
