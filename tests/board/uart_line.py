"""Shared helpers of the board tests: a UART line as levels per clock cycle, and its decoding."""

import itertools


def uart_levels(data: bytes, bit_cycles: int, *, gap_bits: int = 0) -> list[int]:
    """Return the line level in each clock cycle while ``data`` is sent as 8N1.

    ``gap_bits`` idle (high) bit times follow every byte; 0 is back to back.
    """
    levels: list[int] = []
    for byte in data:
        for bit in [0, *((byte >> i) & 1 for i in range(8)), 1] + [1] * gap_bits:
            levels += [bit] * bit_cycles
    return levels


async def drive_levels(ctx, pin, levels: list[int]) -> None:
    """Set ``pin`` to ``levels[i]`` during the i-th clock cycle from now (run by run)."""
    for level, run in itertools.groupby(levels):
        ctx.set(pin, level)
        await ctx.tick().repeat(len(list(run)))
    ctx.set(pin, 1)


def decode_levels(levels: list[int], divisor: int) -> list[tuple[int, int]]:
    """Decode 8N1 bytes from the line level in each cycle; return ``(start cycle, byte)`` pairs.

    Every bit is sampled in its middle; a low stop bit fails the test.
    """
    found = []
    cycle = 0
    while cycle < len(levels):
        if levels[cycle] == 1:
            cycle += 1
            continue
        middle = cycle + divisor // 2
        if middle + 9 * divisor >= len(levels):
            raise AssertionError(f"a byte starting at cycle {cycle} is cut off")
        bits = [levels[middle + i * divisor] for i in range(10)]
        assert bits[0] == 0, f"a glitch, not a start bit, at cycle {cycle}"
        assert bits[9] == 1, f"framing error in the byte starting at cycle {cycle}"
        found.append((cycle, sum(b << i for i, b in enumerate(bits[1:9]))))
        cycle = middle + 9 * divisor   # the stop bit's middle: look for the next edge from here
    return found
