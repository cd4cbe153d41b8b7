"""Tables by size: block-RAM ROMs with a registered read, or ROMs in LUTs timed by LUT depth."""

from __future__ import annotations

import pytest

from fpgac.driver import compile_source, optimize
from fpgac.ir import Graph, IntTy
from fpgac.scheduling import DelayModel, block_rom_pairs, schedule
from fpgac.scheduling.lut_timing import rom_bit_functions

ICE40, ECP5 = DelayModel.load("ice40"), DelayModel.load("ecp5")

#: A non-linear 256 x 8 table (2 kbit: half an SB_RAM40_4K, a ninth of a DP16KD).
SQUARES = [i * i >> 8 for i in range(256)]
#: CRC-8 (polynomial 0x07) of one byte: every result bit is an XOR of index bits.
CRC8 = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = (_crc << 1 ^ 0x07 if _crc & 0x80 else _crc << 1) & 0xFF
    CRC8.append(_crc)
#: A non-linear 1024 x 16 table (16 kbit: past half a DP16KD).
BIG = [(i * 40503 + 12345) % 65521 for i in range(1024)]


def _route(body: str, params: str, returns: str = "u8", tables: str = ""):
    source = f'''
from fpgac import App, Array, Table, i16, u8, u16, uint

app = App("t")
SQUARES = Table(u8, {SQUARES})
CRC8 = Table(u8, {CRC8})
BIG = Table(u16, {BIG})
{tables}

@app.post("/f")
def f({params}) -> {returns}:
{body}
'''
    return optimize(compile_source(source, "t.py")).route("/f")


def _rom(graph: Graph):
    (rom,) = [n for n in graph if n.op == "rom"]
    return rom


def _read(values, width=8) -> tuple[Graph, int]:
    g = Graph("g")
    x = g.add("param", path="x", width=max(1, (len(values) - 1).bit_length()), signed=False)
    rom = g.add("rom", (x,), values=values, type=IntTy(width, False))
    return g, rom


# --- the threshold ------------------------------------------------------------------------


def test_the_threshold_is_half_a_block_in_the_model():
    assert (ICE40.block_ram.name, ICE40.block_ram.min_bits) == ("SB_RAM40_4K", 2048)
    assert (ECP5.block_ram.name, ECP5.block_ram.min_bits) == ("DP16KD", 9216)
    assert DelayModel.load("generic").block_ram == ICE40.block_ram


@pytest.mark.parametrize("values, width, ice40, ecp5", [
    (SQUARES, 8, True, False),          # 2048 bits: half an SB_RAM40_4K
    (SQUARES[:128], 8, False, False),   # 1024 bits
    (SQUARES, 7, False, False),         # 256 x 7 = 1792 bits
    (CRC8, 8, False, False),            # large enough, but XORs of index bits: logic
    (BIG, 16, True, True),              # 16 kbit
])
def test_a_table_is_a_block_ram_rom_by_its_bits(values, width, ice40, ecp5):
    g, rom = _read(values, width)
    assert ICE40.block_rom(g[rom]) is ice40
    assert ECP5.block_rom(g[rom]) is ecp5


def test_the_bits_of_a_table_as_functions_of_its_index():
    crc = rom_bit_functions(tuple(CRC8), 8)
    assert all(kind == "affine" for kind, _, _ in crc)
    assert all(len(support) >= 2 for _, support, _ in crc)
    assert rom_bit_functions((0, 1, 2, 3), 2) == (("affine", (0,), 0), ("affine", (1,), 0))
    # A constant bit depends on nothing; an inverted one is affine with constant 1.
    assert rom_bit_functions((2, 3, 2, 3), 2) == (("affine", (0,), 0), ("affine", (), 1))
    assert rom_bit_functions((1, 0), 1) == (("affine", (0,), 1),)
    # Entries past the table read as 0: a 3-entry table of ones is "index < 3".
    (kind, support, _), = rom_bit_functions((1, 1, 1), 1)
    assert (kind, support) == ("any", (0, 1))
    squares = rom_bit_functions(tuple(SQUARES), 8)
    assert any(kind == "any" and len(support) == 8 for kind, support, _ in squares)


# --- LUT ROMs: timed by their LUT depth ---------------------------------------------------


def test_a_lut_rom_costs_its_lut_levels():
    m = ICE40.lut_mapping
    assert m.rom_levels(4) == 1.0 and m.rom_levels(3) == 1.0
    assert m.rom_levels(8) == pytest.approx(1.0 + 4 * m.rom_levels_per_bit)
    g, rom = _read(SQUARES[:128], 8)  # 7 index bits from a register
    levels = m.rom_levels(7)
    first = m.first_level_ns - m.level_ns
    assert ICE40.delay(g[rom], g) == pytest.approx(first + levels * m.level_ns)
    # A CRC table is as deep as its XORs: each bit of CRC-8's is an XOR of at most four
    # index bits, one LUT.
    assert max(len(support) for _, support, _ in rom_bit_functions(tuple(CRC8), 8)) <= 4
    g, rom = _read(CRC8, 8)
    assert ICE40.delay(g[rom], g) == pytest.approx(m.first_level_ns)


def test_crc8_tables_chain_as_xor_logic():
    route = _route("    crc: u8 = 0\n    for b in data:\n        crc = CRC8[crc ^ b]\n"
                   "    return crc", "data: Array[u8, 4]")
    for model, clock in ((ICE40, 48), (ECP5, 150)):
        sched = schedule(route.graph, model=model, clock_mhz=clock)
        assert not sched.block_roms
        assert sched.n_stages <= 2, model.target  # four reads, not one per stage or two


# --- block-RAM ROMs: a registered read ----------------------------------------------------


def test_a_block_ram_read_ends_its_stage():
    route = _route("    return SQUARES[a ^ b] ^ c", "a: u8, b: u8, c: u8")
    sched = schedule(route.graph, model=ICE40, clock_mhz=48)
    g = sched.graph
    rom = _rom(g)
    assert sched.block_roms == {rom.id}
    assert block_rom_pairs(g, ICE40) == [(rom.id, u) for u in g.users(rom.id)]
    (index,) = rom.operands
    assert sched.stage[index] == sched.stage[rom.id]      # the address, computed in the stage
    for u in g.users(rom.id):                             # the data, in the next one
        assert sched.stage[u] == sched.stage[rom.id] + 1
    assert sched.n_stages == 2
    # In LUTs the same read is eight index bits deep: it needs a stage of its own.
    lut = schedule(route.graph, model=DelayModel.from_dict(
        {k: v for k, v in ICE40.data.items() if k != "block_ram"}), clock_mhz=48)
    assert not lut.block_roms and lut.n_stages == 3


def test_a_table_read_straight_to_the_response_ends_the_last_stage():
    route = _route("    return SQUARES[a ^ b]", "a: u8, b: u8")
    sched = schedule(route.graph, model=ICE40, clock_mhz=48)
    assert sched.n_stages == 1 and sched.block_roms == {_rom(sched.graph).id}


def test_the_stage_after_a_block_ram_read_budgets_its_clock_to_out():
    route = _route("    x: uint(10) = a ^ b\n    return BIG[x] ^ c", "a: u16, b: u16, c: u16",
                   "u16")
    sched = schedule(route.graph, model=ECP5, clock_mhz=150)
    g = sched.graph
    rom = _rom(g)
    assert sched.block_roms == {rom.id}
    # On the ECP5 the block's data takes most of a 150 MHz stage: the XOR after it cannot
    # share that stage and reads the data one register later.
    (user,) = g.users(rom.id)
    assert sched.stage[user] == sched.stage[rom.id] + 2

    def arrival_of_user_in(stage: int) -> float:
        timer = ECP5.timer(g, sched.block_roms)
        for node in g:
            if node.id == user:
                return timer.place(user, stage)
            timer.place(node.id, sched.stage[node.id])

    budget = ECP5.stage_budget_ns(150)
    assert arrival_of_user_in(sched.stage[rom.id] + 1) > budget
    assert arrival_of_user_in(sched.stage[rom.id] + 2) < budget  # a fabric register's copy
    # On the iCE40 at 48 MHz it fits the next stage.
    iced = schedule(route.graph, model=ICE40, clock_mhz=48)
    rom = _rom(iced.graph)
    (user,) = iced.graph.users(rom.id)
    assert iced.block_roms == {rom.id} and iced.stage[user] == iced.stage[rom.id] + 1


def test_forced_stages_take_block_ram_only_where_the_read_ends_a_stage():
    route = _route("    return SQUARES[a ^ b] ^ c", "a: u8, b: u8, c: u8")
    one = schedule(route.graph, model=ICE40, stages=1)
    assert not one.block_roms                 # its user is in the same stage: LUTs
    two = schedule(route.graph, model=ICE40, stages=2)
    rom = _rom(two.graph)
    if rom.id in two.block_roms:
        assert all(two.stage[u] > two.stage[rom.id] for u in two.graph.users(rom.id))
    direct = _route("    return SQUARES[a ^ b]", "a: u8, b: u8")
    assert schedule(direct.graph, model=ICE40, stages=1).block_roms == {_rom(direct.graph).id}
    assert not schedule(direct.graph, model=ICE40, stages=0).block_roms


def test_an_index_that_can_leave_the_table_is_checked_in_the_next_stage():
    route = _route("    return WIDE[a] ^ c", "a: u16, c: u8",
                   tables=f"WIDE = Table(u8, {SQUARES + SQUARES[:44]})")
    sched = schedule(route.graph, model=ICE40, clock_mhz=48)
    rom = _rom(sched.graph)
    assert sched.block_roms == {rom.id}
    timer = ICE40.timer(sched.graph, sched.block_roms)
    for node in sched.graph:
        timer.place(node.id, sched.stage[node.id])
    (user,) = sched.graph.users(rom.id)
    # The data is and-ed with the registered in-range flag, then XOR-ed: one LUT.
    assert timer.arrival[user] == pytest.approx(
        ICE40.lut_mapping.first_level_ns + ICE40.block_ram.output_ns)
