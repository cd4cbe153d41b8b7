"""fpgac: typed Python request handlers compiled to pipelined FPGA cores."""

from ._dsl import (
    App,
    Array,
    Handler,
    IntType,
    Record,
    Table,
    bits,
    clz,
    concat,
    ctz,
    popcount,
    reverse_bits,
    rotl,
    rotr,
    sint,
    uint,
)

__version__ = "0.1.0"

u1 = uint(1)
u2 = uint(2)
u3 = uint(3)
u4 = uint(4)
u5 = uint(5)
u6 = uint(6)
u7 = uint(7)
u8 = uint(8)
u9 = uint(9)
u10 = uint(10)
u11 = uint(11)
u12 = uint(12)
u13 = uint(13)
u14 = uint(14)
u15 = uint(15)
u16 = uint(16)
u17 = uint(17)
u18 = uint(18)
u19 = uint(19)
u20 = uint(20)
u21 = uint(21)
u22 = uint(22)
u23 = uint(23)
u24 = uint(24)
u25 = uint(25)
u26 = uint(26)
u27 = uint(27)
u28 = uint(28)
u29 = uint(29)
u30 = uint(30)
u31 = uint(31)
u32 = uint(32)
u33 = uint(33)
u34 = uint(34)
u35 = uint(35)
u36 = uint(36)
u37 = uint(37)
u38 = uint(38)
u39 = uint(39)
u40 = uint(40)
u41 = uint(41)
u42 = uint(42)
u43 = uint(43)
u44 = uint(44)
u45 = uint(45)
u46 = uint(46)
u47 = uint(47)
u48 = uint(48)
u49 = uint(49)
u50 = uint(50)
u51 = uint(51)
u52 = uint(52)
u53 = uint(53)
u54 = uint(54)
u55 = uint(55)
u56 = uint(56)
u57 = uint(57)
u58 = uint(58)
u59 = uint(59)
u60 = uint(60)
u61 = uint(61)
u62 = uint(62)
u63 = uint(63)
u64 = uint(64)
i1 = sint(1)
i2 = sint(2)
i3 = sint(3)
i4 = sint(4)
i5 = sint(5)
i6 = sint(6)
i7 = sint(7)
i8 = sint(8)
i9 = sint(9)
i10 = sint(10)
i11 = sint(11)
i12 = sint(12)
i13 = sint(13)
i14 = sint(14)
i15 = sint(15)
i16 = sint(16)
i17 = sint(17)
i18 = sint(18)
i19 = sint(19)
i20 = sint(20)
i21 = sint(21)
i22 = sint(22)
i23 = sint(23)
i24 = sint(24)
i25 = sint(25)
i26 = sint(26)
i27 = sint(27)
i28 = sint(28)
i29 = sint(29)
i30 = sint(30)
i31 = sint(31)
i32 = sint(32)
i33 = sint(33)
i34 = sint(34)
i35 = sint(35)
i36 = sint(36)
i37 = sint(37)
i38 = sint(38)
i39 = sint(39)
i40 = sint(40)
i41 = sint(41)
i42 = sint(42)
i43 = sint(43)
i44 = sint(44)
i45 = sint(45)
i46 = sint(46)
i47 = sint(47)
i48 = sint(48)
i49 = sint(49)
i50 = sint(50)
i51 = sint(51)
i52 = sint(52)
i53 = sint(53)
i54 = sint(54)
i55 = sint(55)
i56 = sint(56)
i57 = sint(57)
i58 = sint(58)
i59 = sint(59)
i60 = sint(60)
i61 = sint(61)
i62 = sint(62)
i63 = sint(63)
i64 = sint(64)

__all__ = [
    "App", "Array", "Handler", "IntType", "Record", "Table", "bits", "clz", "concat", "ctz",
    "popcount", "reverse_bits", "rotl", "rotr", "sint", "uint", "__version__",
    "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11", "u12",
    "u13", "u14", "u15", "u16", "u17", "u18", "u19", "u20", "u21", "u22", "u23", "u24",
    "u25", "u26", "u27", "u28", "u29", "u30", "u31", "u32", "u33", "u34", "u35", "u36",
    "u37", "u38", "u39", "u40", "u41", "u42", "u43", "u44", "u45", "u46", "u47", "u48",
    "u49", "u50", "u51", "u52", "u53", "u54", "u55", "u56", "u57", "u58", "u59", "u60",
    "u61", "u62", "u63", "u64", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8",
    "i9", "i10", "i11", "i12", "i13", "i14", "i15", "i16", "i17", "i18", "i19", "i20",
    "i21", "i22", "i23", "i24", "i25", "i26", "i27", "i28", "i29", "i30", "i31", "i32",
    "i33", "i34", "i35", "i36", "i37", "i38", "i39", "i40", "i41", "i42", "i43", "i44",
    "i45", "i46", "i47", "i48", "i49", "i50", "i51", "i52", "i53", "i54", "i55", "i56",
    "i57", "i58", "i59", "i60", "i61", "i62", "i63", "i64",
]
