"""Draws the app's PNG icons into public/ (run once; the PNGs are committed).

Needs Pillow: python web/app/scripts/make-icons.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

PUBLIC = Path(__file__).resolve().parent.parent / "public"
BG = (20, 22, 27, 255)


def icon(size: int, maskable: bool) -> Image.Image:
    scale = 4  # drawn large, then reduced: smooth edges
    s = size * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, s, s), fill=BG)  # full bleed; the mark stays inside the 80 % safe circle
    else:
        draw.rounded_rectangle((0, 0, s - 1, s - 1), radius=int(s * 0.22), fill=BG)
    radius = s * (0.25 if maskable else 0.293)
    c = s / 2
    for i in range(int(radius), 0, -1):  # a warm radial gradient, light at the upper left
        t = i / radius
        color = tuple(int(a + (b - a) * t) for a, b in zip((255, 214, 160), (199, 102, 28), strict=True))
        offset = (1 - t) * radius * 0.25
        draw.ellipse((c - i - offset, c - i - offset, c + i - offset, c + i - offset), fill=(*color, 255))
    star = radius * 0.71
    waist = star * 0.22
    points = [
        (c, c - star), (c + waist, c - waist), (c + star, c), (c + waist, c + waist),
        (c, c + star), (c - waist, c + waist), (c - star, c), (c - waist, c - waist),
    ]
    draw.polygon(points, fill=BG)
    return image.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    icon(192, False).save(PUBLIC / "icon-192.png", optimize=True)
    icon(512, False).save(PUBLIC / "icon-512.png", optimize=True)
    icon(512, True).save(PUBLIC / "icon-maskable-512.png", optimize=True)
