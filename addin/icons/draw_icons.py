"""Draw the add-in's icons: icon-16/32/64/80/128.png beside this file.

The mark is a ferry whose cabin is an envelope, in Microsoft 365's blue on transparent; the
envelope's flap is cut out so the mark reads on light and dark ribbons alike. Standard
library only (shapes sampled 8x8 per pixel for smooth edges), so anyone can re-run it:

    python addin/icons/draw_icons.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIZES = (16, 32, 64, 80, 128)
BLUE = (0x0F, 0x6C, 0xBD)
SAMPLES = 8  # per pixel and axis


def _in_rounded_rect(x: float, y: float, left, top, right, bottom, radius) -> bool:
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _near_segment(x, y, ax, ay, bx, by, half_width) -> bool:
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2 <= half_width**2


def _in_hull(x: float, y: float) -> bool:
    top, bottom = 0.66, 0.86
    if not (top <= y <= bottom):
        return False
    inset = 0.16 * (y - top) / (bottom - top)  # the sides slope in towards the keel
    return 0.05 + inset <= x <= 0.95 - inset


def _in_mark(x: float, y: float) -> bool:
    """The mark in unit coordinates (0..1, y down)."""
    if _in_hull(x, y):
        return True
    if not _in_rounded_rect(x, y, 0.20, 0.18, 0.80, 0.60, 0.06):
        return False
    flap = _near_segment(x, y, 0.27, 0.26, 0.50, 0.43, 0.045) or _near_segment(x, y, 0.50, 0.43, 0.73, 0.26, 0.045)
    return not flap


def draw(size: int) -> bytes:
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter type 0 (none) for this scanline
        for px in range(size):
            hits = sum(
                _in_mark((px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size)
                for sx in range(SAMPLES)
                for sy in range(SAMPLES)
            )
            row += bytes((*BLUE, round(255 * hits / SAMPLES**2)))
        rows.append(bytes(row))
    return _png(size, size, b"".join(rows))


def _png(width: int, height: int, rgba_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    pixels = zlib.compress(rgba_rows, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


if __name__ == "__main__":
    folder = Path(__file__).resolve().parent
    for size in SIZES:
        (folder / f"icon-{size}.png").write_bytes(draw(size))
        print(f"wrote {folder / f'icon-{size}.png'}")
