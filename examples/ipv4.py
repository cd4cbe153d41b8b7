"""IPv4 header parsing and checksum, on the 20 bytes of a header without options.

The header arrives as bytes in network order (most significant byte first).
`/parse` extracts the fields a firewall or a load balancer looks at and
verifies the header checksum; `/checksum` computes the checksum a sender
writes into bytes 10 and 11.
"""

from fpgac import App, Array, Record, bits, u4, u8, u13, u16, u32

app = App("ipv4")


class IPv4Header(Record):
    """The fields of an IPv4 header; addresses are 32-bit integers (`10.0.0.1` is 0x0A000001)."""

    version: u4
    ihl: u4
    total_length: u16
    dont_fragment: bool
    more_fragments: bool
    fragment_offset: u13
    ttl: u8
    protocol: u8
    checksum_ok: bool
    src: u32
    dst: u32


def ones_complement_sum(hdr: Array[u8, 20]) -> u16:
    """Return the 16-bit ones' complement sum of the header's ten big-endian words."""
    total: u32 = 0
    for i in range(10):
        total += (hdr[2 * i] << 8) | hdr[2 * i + 1]
    # Ones' complement addition adds each carry out of bit 15 back in at bit 0.
    # Ten words sum to less than 2**20, so two folds are always enough.
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return total


@app.post("/parse")
def parse(hdr: Array[u8, 20]) -> IPv4Header:
    """Extract the header fields and check the header checksum."""
    return IPv4Header(
        version=bits(hdr[0], 4, 4),
        ihl=bits(hdr[0], 0, 4),
        total_length=(hdr[2] << 8) | hdr[3],
        dont_fragment=bits(hdr[6], 6, 1),
        more_fragments=bits(hdr[6], 5, 1),
        fragment_offset=(bits(hdr[6], 0, 5) << 8) | hdr[7],
        ttl=hdr[8],
        protocol=hdr[9],
        # A correct header, checksum included, sums to all ones.
        checksum_ok=ones_complement_sum(hdr) == 0xFFFF,
        src=(hdr[12] << 24) | (hdr[13] << 16) | (hdr[14] << 8) | hdr[15],
        dst=(hdr[16] << 24) | (hdr[17] << 16) | (hdr[18] << 8) | hdr[19],
    )


@app.post("/checksum")
def checksum(hdr: Array[u8, 20]) -> u16:
    """Return the header checksum: the complement of the sum with the checksum field zeroed."""
    # `hdr` is this handler's own copy; zeroing its checksum bytes changes nothing outside.
    hdr[10] = 0
    hdr[11] = 0
    s: u16 = ones_complement_sum(hdr)
    # `~s` is `-s - 1`; stored into the u16 return it becomes `0xFFFF - s`.
    return ~s
