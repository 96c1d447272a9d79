"""Just enough of ELF to find a named section and read memory by virtual address (32/64-bit, either byte
order). Hostile input: every offset is bounds-checked; a malformed file is ``None``, never an exception."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Elf", "parse_elf"]

ELF_MAGIC = b"\x7fELF"
_SHT_NOBITS = 8
_MAX_SECTIONS = 4096


class Section(NamedTuple):  # a tuple: built for every section of every binary, so kept cheap to make
    name: str
    type: int
    addr: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Elf:
    data: bytes | bytearray
    big_endian: bool
    pointer_size: int
    sections: tuple[Section, ...]

    def section(self, name: str) -> bytes | bytearray | None:
        for section in self.sections:
            if section.name == name and section.type != _SHT_NOBITS:
                end = section.offset + section.size
                return self.data[section.offset : end] if end <= len(self.data) else None
        return None

    def read(self, address: int, size: int) -> bytes | bytearray | None:
        """``size`` bytes at virtual ``address``, from the section that holds them."""
        for section in self.sections:
            if section.type == _SHT_NOBITS or not section.addr:
                continue
            if section.addr <= address and address + size <= section.addr + section.size:
                start = section.offset + address - section.addr
                chunk = self.data[start : start + size]
                return chunk if len(chunk) == size else None
        return None


def parse_elf(data: bytes | bytearray) -> Elf | None:
    """The sections of an ELF file, or ``None`` when ``data`` is not one (or not a well-formed one)."""
    if len(data) < 64 or not data.startswith(ELF_MAGIC):
        return None
    klass, encoding = data[4], data[5]
    if klass not in (1, 2) or encoding not in (1, 2):
        return None
    wide = klass == 2
    order = ">" if encoding == 2 else "<"
    try:
        if wide:
            (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)
        else:
            (shoff,) = struct.unpack_from(order + "I", data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x2E)
        if not shoff or shnum == 0 or shnum > _MAX_SECTIONS or shentsize < (64 if wide else 40):
            return None
        if shoff + shnum * shentsize > len(data) or shstrndx >= shnum:
            return None
        entry = struct.Struct(order + ("IIQQQQ" if wide else "IIIIII"))
        raw = [entry.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        _, _, _, _, str_offset, str_size = raw[shstrndx]
        names = data[str_offset : str_offset + str_size]
    except struct.error:
        return None
    sections = []
    for name_at, type_, _flags, addr, offset, size in raw:
        end = names.find(b"\0", name_at)
        name = names[name_at:end].decode("latin-1") if 0 <= name_at < len(names) and end >= 0 else ""
        sections.append(Section(name, type_, addr, offset, size))
    return Elf(data, encoding == 2, 8 if wide else 4, tuple(sections))
