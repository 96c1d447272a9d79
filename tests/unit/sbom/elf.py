"""Tiny ELF files with chosen sections (nothing to run, everything to parse), for the Go and Rust tests."""

from __future__ import annotations

import struct


def elf(sections: list[tuple[str, int, bytes]], *, wide: bool = True, big_endian: bool = False) -> bytes:
    """An ELF executable whose section headers list ``(name, address, data)`` plus ``.shstrtab``."""
    order = ">" if big_endian else "<"
    header_size = 64 if wide else 52
    names = b"\0"
    offsets = []
    body = bytearray()
    table = [("", 0, b"", 0)]
    for name, address, data in sections:
        offsets.append(len(names))
        names += name.encode() + b"\0"
        while (header_size + len(body)) % 16:
            body += b"\0"
        table.append((name, address, data, header_size + len(body)))
        body += data
    shstr_name = len(names)
    names += b".shstrtab\0"
    shstr_offset = header_size + len(body)
    body += names
    while (header_size + len(body)) % 8:
        body += b"\0"
    shoff = header_size + len(body)
    entries = bytearray()
    name_offsets = [0, *offsets]
    for (_, address, data, offset), name_at in zip(table, name_offsets, strict=True):
        kind = 0 if not data and not address else 1
        entries += _section(order, wide, name_at, kind, address, offset, len(data))
    entries += _section(order, wide, shstr_name, 3, 0, shstr_offset, len(names))
    ident = b"\x7fELF" + bytes([2 if wide else 1, 2 if big_endian else 1, 1]) + b"\0" * 9
    count, shentsize = len(table) + 1, 64 if wide else 40
    if wide:
        header = ident + struct.pack(
            order + "HHIQQQIHHHHHH", 2, 62, 1, 0x401000, 0, shoff, 0, 64, 56, 0, shentsize, count, count - 1
        )
    else:
        header = ident + struct.pack(
            order + "HHIIIIIHHHHHH", 2, 3, 1, 0x8049000, 0, shoff, 0, 52, 32, 0, shentsize, count, count - 1
        )
    return header + bytes(body) + bytes(entries)


def _section(order: str, wide: bool, name: int, kind: int, address: int, offset: int, size: int) -> bytes:
    if wide:
        return struct.pack(order + "IIQQQQIIQQ", name, kind, 2, address, offset, size, 0, 0, 16, 0)
    return struct.pack(order + "IIIIIIIIII", name, kind, 2, address, offset, size, 0, 0, 16, 0)


SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def go_binary_inline(version: str, modinfo: str) -> bytes:
    """Go 1.18+: version and module info inline after the 32-byte header, varint length-prefixed."""
    mod = SENTINEL_START + modinfo.encode() + SENTINEL_END
    blob = b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16
    blob += _uvarint(len(version)) + version.encode() + _uvarint(len(mod)) + mod
    return elf([(".text", 0x401000, b"\x90" * 2048), (".go.buildinfo", 0x5A0000, blob)])


def go_binary_pointers(version: str, modinfo: str, *, wide: bool = True, big_endian: bool = False) -> bytes:
    """Before Go 1.18: the header holds pointers to two Go string headers (data pointer, length)."""
    size = 8 if wide else 4
    order = ">" if big_endian else "<"
    word = "Q" if wide else "I"
    mod = SENTINEL_START + modinfo.encode() + SENTINEL_END
    data_base = 0x600000
    strings = version.encode() + mod
    headers = struct.pack(order + word * 4, data_base, len(version), data_base + len(version), len(mod))
    header_base = 0x610000
    flags = 1 if big_endian else 0
    blob = b"\xff Go buildinf:" + bytes([size, flags])
    blob += struct.pack(order + word * 2, header_base, header_base + 2 * size)
    blob += b"\0" * (32 - len(blob))
    return elf(
        [(".go.buildinfo", 0x5A0000, blob), (".rodata", data_base, strings), (".noptrdata", header_base, headers)],
        wide=wide,
        big_endian=big_endian,
    )
