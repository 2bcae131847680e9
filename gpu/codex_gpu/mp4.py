"""Top-level ISO BMFF (MP4/MOV) boxes: enough to tell a truncated upload from a file that is not a video,
and to check that an output has its ``moov`` before its ``mdat`` (faststart)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# Box types that can open an ISO BMFF file (QuickTime files may start with any of the later ones).
_LEADING_TYPES = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}


@dataclass(frozen=True)
class Box:
    type: str
    offset: int
    size: int


@dataclass(frozen=True)
class Layout:
    boxes: list[Box]
    truncated: bool  # the last box claims more bytes than the file has

    def types(self) -> list[str]:
        return [box.type for box in self.boxes]


def looks_like_iso_bmff(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in _LEADING_TYPES


def top_level_boxes(path: Path) -> Layout:
    boxes: list[Box] = []
    file_size = path.stat().st_size
    with path.open("rb") as file:
        offset = 0
        while offset + 8 <= file_size:
            file.seek(offset)
            size, kind = struct.unpack(">I4s", file.read(8))
            header = 8
            if size == 1:  # 64-bit size follows the type
                extended = file.read(8)
                if len(extended) < 8:
                    return Layout(boxes, truncated=True)
                (size,) = struct.unpack(">Q", extended)
                header = 16
            elif size == 0:  # the box runs to the end of the file
                size = file_size - offset
            if size < header:
                return Layout(boxes, truncated=True)  # a corrupt size: treat as cut short
            boxes.append(Box(kind.decode("latin-1"), offset, size))
            if offset + size > file_size:
                return Layout(boxes, truncated=True)
            offset += size
        return Layout(boxes, truncated=offset < file_size)
