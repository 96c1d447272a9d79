"""rpm's SQLite database (``rpmdb.sqlite``) with header blobs in rpm's own export format, for the tests."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

_TAGS = {
    "name": 1000,
    "version": 1001,
    "release": 1002,
    "epoch": 1003,
    "license": 1014,
    "arch": 1022,
    "sourcerpm": 1044,
    "summary": 1004,
}
_HEADER_IMMUTABLE, _BIN, _INT32, _STRING, _I18N = 63, 7, 4, 6, 9


def header_blob(fields: dict[str, object]) -> bytes:
    """An rpm header as ``headerExport`` writes it: count, store size, 16-byte index entries, data store; the
    first entry is the immutable region tag whose 16-byte trailer ends the store, as in real databases."""
    entries: list[tuple[int, int, int, int]] = []
    store = bytearray()
    for key, value in fields.items():
        tag = _TAGS[key]
        if isinstance(value, int):
            while len(store) % 4:
                store += b"\0"
            entries.append((tag, _INT32, len(store), 1))
            store += struct.pack(">i", value)
        else:
            kind = _I18N if key == "summary" else _STRING
            entries.append((tag, kind, len(store), 1))
            store += str(value).encode() + b"\0"
    count = len(entries) + 1
    trailer = struct.pack(">IIiI", _HEADER_IMMUTABLE, _BIN, -(count * 16), 16)
    region = (_HEADER_IMMUTABLE, _BIN, len(store), 16)
    store += trailer
    index = b"".join(struct.pack(">IIII", *e) for e in [region, *sorted(entries)])
    return struct.pack(">II", count, len(store)) + index + bytes(store)


def rpmdb(packages: list[dict[str, object]], path: Path) -> bytes:
    """The bytes of an ``rpmdb.sqlite`` holding ``packages`` (rpm 4.16's schema for the Packages table)."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    connection.execute("CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL)")
    for package in packages:
        cursor = connection.execute("INSERT INTO Packages (blob) VALUES (?)", (header_blob(package),))
        connection.execute("INSERT INTO Name VALUES (?, ?, 0)", (package["name"], cursor.lastrowid))
    connection.commit()
    connection.close()
    return path.read_bytes()
