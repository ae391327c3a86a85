"""A tiny PNG writer (zlib + struct) for bar charts, so the report needs no plotting library."""

from __future__ import annotations

import struct
import zlib

Color = tuple[int, int, int]

# 3×5 pixel digits for axis labels.
_DIGITS = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
}


class Canvas:
    """An RGB pixel grid."""

    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(bytes(background) * width) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill [x0, x1) × [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        for y in range(y0, y1):
            self.rows[y][x0 * 3 : x1 * 3] = bytes(color) * (x1 - x0)

    def text(self, x: int, y: int, label: str, color: Color = (40, 40, 40), scale: int = 2) -> None:
        """Digits and dots in a 3×5 pixel font."""
        for ch in label:
            glyph = _DIGITS.get(ch)
            if glyph is not None:
                for i, bit in enumerate(glyph):
                    if bit == "1":
                        px, py = x + (i % 3) * scale, y + (i // 3) * scale
                        self.rect(px, py, px + scale, py + scale, color)
            x += 4 * scale

    def png(self) -> bytes:
        """The canvas as PNG bytes (8-bit RGB, no interlace)."""
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
        )


PALETTE: list[Color] = [(66, 133, 244), (251, 188, 5), (234, 67, 53)]


def bar_chart(groups: list[list[float]], limit: float | None = None, width: int = 480, height: int = 240) -> bytes:
    """Grouped bars (e.g. p50/p95/p99 per integration) with a red line at `limit`, as PNG bytes."""
    canvas = Canvas(width, height)
    left, bottom, top = 40, height - 20, 10
    values = [v for g in groups for v in g] + ([limit] if limit is not None else [])
    peak = max([*values, 1.0]) * 1.1
    canvas.rect(left, top, left + 1, bottom, (0, 0, 0))
    canvas.rect(left, bottom, width - 5, bottom + 1, (0, 0, 0))
    canvas.text(2, top, f"{peak:.0f}")
    canvas.text(2, bottom - 10, "0")
    slot = (width - left - 10) / max(1, len(groups))
    for gi, group in enumerate(groups):
        bar = max(2, int(slot / (len(group) + 1)))
        for bi, value in enumerate(group):
            x = int(left + 5 + gi * slot + bi * bar)
            y = int(bottom - (bottom - top) * value / peak)
            canvas.rect(x, y, x + bar - 1, bottom, PALETTE[bi % len(PALETTE)])
    if limit is not None:
        y = int(bottom - (bottom - top) * limit / peak)
        canvas.rect(left, y, width - 5, y + 2, (200, 0, 0))
    return canvas.png()
