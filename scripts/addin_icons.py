"""Draw the add-in's default icons into ``addin/assets`` (committed; run again to change them).

Plain PNG written with zlib (no imaging library): a rounded square in the accent colour with a
white envelope, at the sizes Outlook's ribbon uses (16, 32, 64, 80, 128), the 192 px colour icon
and the 32 px white-on-transparent outline icon of the app package.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "addin" / "assets"
ACCENT = (0x1F, 0x6F, 0xB5)
WHITE = (0xFF, 0xFF, 0xFF)
SIZES = (16, 32, 64, 80, 128)

Pixel = tuple[int, int, int, int]


def png(width: int, height: int, pixels: list[list[Pixel]]) -> bytes:
    raw = b"".join(b"\x00" + b"".join(bytes(p) for p in row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _envelope(x: float, y: float) -> bool:
    """Whether (x, y) in the unit square lies on the envelope's outline or flap."""
    left, right, top, bottom = 0.2, 0.8, 0.3, 0.7
    stroke = 0.06
    inside = left <= x <= right and top <= y <= bottom
    edge = inside and (x - left < stroke or right - x < stroke or y - top < stroke or bottom - y < stroke)
    flap = inside and abs((y - top) - (0.5 - abs(x - 0.5)) * 0.8) < stroke * 0.7
    return edge or flap


def icon(size: int, *, outline: bool = False) -> bytes:
    rows: list[list[Pixel]] = []
    radius = 0.18
    for j in range(size):
        row: list[Pixel] = []
        for i in range(size):
            x, y = (i + 0.5) / size, (j + 0.5) / size
            dx, dy = max(radius - x, 0, x - (1 - radius)), max(radius - y, 0, y - (1 - radius))
            in_square = dx * dx + dy * dy <= radius * radius
            mark = _envelope(x, y)
            if outline:
                row.append((*WHITE, 255) if mark else (0, 0, 0, 0))
            elif mark:
                row.append((*WHITE, 255))
            else:
                row.append((*ACCENT, 255) if in_square else (0, 0, 0, 0))
        rows.append(row)
    return png(size, size, rows)


def main() -> int:
    ASSETS.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        (ASSETS / f"icon-{size}.png").write_bytes(icon(size))
    (ASSETS / "color.png").write_bytes(icon(192))
    (ASSETS / "outline.png").write_bytes(icon(32, outline=True))
    print(f"wrote {len(SIZES) + 2} icons to {ASSETS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
