"""core.gallery.thumbnails and thumbnail_render: rendering, placeholders and the size-capped cache, on real files."""

from __future__ import annotations

import os
import struct
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from cozygen.core.errors import BadRequest
from cozygen.core.gallery import thumbnail_render, thumbnails
from cozygen.core.gallery.thumbnail_render import BACKGROUND
from cozygen.core.gallery.thumbnails import Thumbnail, ThumbnailCache, clamp_width

RED = (220, 30, 30)
GREEN = (30, 200, 60)
BLUE = (30, 40, 220)
LIGHT = thumbnail_render.FOREGROUND


def close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 14) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], expected[:3], strict=True))


def noise(path: Path, size: tuple[int, int] = (96, 96), fmt: str = "PNG") -> Path:
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path, fmt)
    return path


def opened(thumb: Thumbnail) -> Image.Image:
    image = Image.open(thumb.path)
    image.load()
    return image


def assert_placeholder(thumb: Thumbnail, width: int, *, play: bool) -> None:
    image = opened(thumb).convert("RGB")
    assert image.size == (width, round(width * 9 / 16))
    assert close(image.getpixel((2, 2)), BACKGROUND)
    assert close(image.getpixel((width - 3, image.height - 3)), BACKGROUND)
    # the play triangle covers the centre; the picture mark leaves the centre of its frame dark
    centre = image.getpixel((width // 2, image.height // 2))
    assert close(centre, LIGHT, 40) is play


def make_cache(tmp_path: Path, max_bytes: int = 10 * 1024 * 1024) -> ThumbnailCache:
    return ThumbnailCache(tmp_path / "thumbs", max_bytes=max_bytes)


def thumb_of(cache: ThumbnailCache, source: Path, width: int = 384, fmt: str = "jpeg") -> Thumbnail:
    return cache.get_or_make(source, width=width, fmt=fmt)


# -- images ------------------------------------------------------------------------------------


def test_png_alpha_is_composited_over_the_dark_background(tmp_path: Path) -> None:
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (150, 200), (*RED, 255)), (0, 0))
    source = tmp_path / "alpha.png"
    image.save(source)

    thumb = thumb_of(make_cache(tmp_path), source, width=150)

    assert thumb.made and thumb.media_type == "image/jpeg" and thumb.path.suffix == ".jpg"
    result = opened(thumb)
    assert result.format == "JPEG" and result.mode == "RGB" and result.size == (150, 100)
    assert close(result.getpixel((20, 50)), RED)
    assert close(result.getpixel((130, 50)), BACKGROUND)  # transparent: dark, not black garbage


def test_exif_orientation_6_turns_a_landscape_jpeg_into_a_portrait(tmp_path: Path) -> None:
    image = Image.new("RGB", (200, 100), BLUE)
    image.paste(Image.new("RGB", (40, 40), RED), (0, 0))  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90° clockwise
    source = tmp_path / "phone.jpg"
    image.save(source, "JPEG", quality=95, exif=exif)

    result = opened(thumb_of(make_cache(tmp_path), source))

    assert result.size == (100, 200)  # never upscaled, but turned upright
    assert close(result.getpixel((90, 10)), RED)  # the marker moved to the top-right
    assert close(result.getpixel((10, 10)), BLUE)


def test_large_jpeg_is_fitted_inside_the_box(tmp_path: Path) -> None:
    image = Image.new("RGB", (3000, 1500), RED)
    image.paste(Image.new("RGB", (1500, 1500), GREEN), (1500, 0))
    source = tmp_path / "big.jpeg"
    image.save(source, "JPEG", quality=90)

    result = opened(thumb_of(make_cache(tmp_path), source, width=384))

    assert result.size == (384, 192)
    assert close(result.getpixel((40, 96)), RED) and close(result.getpixel((340, 96)), GREEN)


def test_portrait_png_fits_by_its_height(tmp_path: Path) -> None:
    source = tmp_path / "tall.png"
    Image.new("RGB", (500, 1000), GREEN).save(source)

    result = opened(thumb_of(make_cache(tmp_path), source, width=200))

    assert result.size == (100, 200)
    assert close(result.getpixel((50, 100)), GREEN)


def test_16_bit_grayscale_png_is_scaled_not_clipped_to_white(tmp_path: Path) -> None:
    source = tmp_path / "depth.png"
    Image.new("I;16", (64, 64), 40000).save(source)

    pixel = opened(thumb_of(make_cache(tmp_path), source)).getpixel((32, 32))

    assert close(pixel, (155, 155, 155), 6)


def test_transparent_gif_is_composited(tmp_path: Path) -> None:
    image = Image.new("P", (100, 100), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * 762)
    image.paste(1, (0, 0, 50, 100))
    source = tmp_path / "anim.gif"
    image.save(source, transparency=0)

    result = opened(thumb_of(make_cache(tmp_path), source))

    assert close(result.getpixel((20, 50)), RED) and close(result.getpixel((80, 50)), BACKGROUND)


def test_webp_output_when_asked(tmp_path: Path) -> None:
    source = noise(tmp_path / "n.png", (400, 300))
    cache = make_cache(tmp_path)

    webp = thumb_of(cache, source, width=200, fmt="webp")
    jpeg = thumb_of(cache, source, width=200, fmt="jpg")

    assert webp.path.suffix == ".webp" and webp.media_type == "image/webp"
    assert opened(webp).format == "WEBP" and opened(webp).size == (200, 150)
    assert jpeg.path.suffix == ".jpg" and opened(jpeg).format == "JPEG"
    assert webp.etag != jpeg.etag
    with pytest.raises(BadRequest) as caught:
        thumb_of(cache, source, fmt="gif")
    assert caught.value.code == "INVALID_FORMAT" and caught.value.status == 400


# -- widths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "width"), [(384, 384), (10, 96), (-5, 96), (5000, 1024), ("200", 200), (" 768 ", 768), ("0", 96)]
)
def test_widths_clamp_to_96_1024(value: object, width: int) -> None:
    assert clamp_width(value) == width


@pytest.mark.parametrize("value", ["abc", "3.5", "", "1e3", "0x10", "1_000", 3.5, None, True, [384]])
def test_non_integer_width_is_a_bad_request(value: object) -> None:
    with pytest.raises(BadRequest) as caught:
        clamp_width(value)
    assert caught.value.code == "INVALID_WIDTH" and caught.value.status == 400


def test_get_or_make_clamps_the_width(tmp_path: Path) -> None:
    source = noise(tmp_path / "wide.png", (2000, 1000))
    cache = make_cache(tmp_path)

    assert opened(thumb_of(cache, source, width=10)).size == (96, 48)
    assert opened(thumb_of(cache, source, width=99999)).size == (1024, 512)
    with pytest.raises(BadRequest):
        thumb_of(cache, source, width="wide")  # type: ignore[arg-type]


# -- the cache ---------------------------------------------------------------------------------


def test_a_second_request_is_served_from_the_cache(tmp_path: Path) -> None:
    source = noise(tmp_path / "a.png")
    cache = make_cache(tmp_path)

    first = thumb_of(cache, source)
    content = first.path.read_bytes()
    second = thumb_of(cache, source)

    assert first.made and not second.made
    assert second.etag == first.etag and second.path == first.path
    assert second.path.read_bytes() == content
    key = cache.key(source.stat(), ".png", 384, "jpeg")
    assert first.etag == f'"{key}"'
    assert first.path == tmp_path / "thumbs" / key[:2] / f"{key}.jpg"


def test_a_cache_hit_refreshes_the_file_mtime(tmp_path: Path) -> None:
    source = noise(tmp_path / "a.png")
    cache = make_cache(tmp_path)
    path = thumb_of(cache, source).path
    day_ago = time.time() - 86400
    os.utime(path, (day_ago, day_ago))

    assert not thumb_of(cache, source).made

    assert path.stat().st_mtime > time.time() - 60


def test_changing_the_source_gives_a_new_key(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    Image.new("RGB", (64, 64), RED).save(source)
    cache = make_cache(tmp_path)
    old = thumb_of(cache, source)

    Image.new("RGB", (64, 64), GREEN).save(source)
    later = time.time() + 5
    os.utime(source, (later, later))
    new = thumb_of(cache, source)

    assert new.made and new.etag != old.etag and new.path != old.path
    assert close(opened(new).getpixel((32, 32)), GREEN)


def test_key_covers_every_field(tmp_path: Path) -> None:
    source = noise(tmp_path / "a.png")
    cache = make_cache(tmp_path)
    stat = source.stat()
    base = cache.key(stat, ".png", 384, "jpeg")
    touched = os.stat_result((*stat[:8], stat.st_mtime + 1, stat.st_ctime))
    assert touched.st_mtime_ns != stat.st_mtime_ns
    grown = os.stat_result((*stat[:6], stat.st_size + 1, *stat[7:]))
    other_inode = os.stat_result((*stat[:1], stat.st_ino + 1, *stat[2:]))
    other_device = os.stat_result((*stat[:2], stat.st_dev + 1, *stat[3:]))

    variants = {
        cache.key(other_inode, ".png", 384, "jpeg"),
        cache.key(other_device, ".png", 384, "jpeg"),
        cache.key(touched, ".png", 384, "jpeg"),
        cache.key(grown, ".png", 384, "jpeg"),
        cache.key(stat, ".mp4", 384, "jpeg"),
        cache.key(stat, ".png", 192, "jpeg"),
        cache.key(stat, ".png", 384, "webp"),
    }

    assert base not in variants and len(variants) == 7
    assert cache.key(stat, ".png", 384, "jpg") == base
    assert cache.key(stat, ".PNG", 384, "jpeg") == base
    assert cache.key(stat, ".png", 5000, "jpeg") == cache.key(stat, ".png", 1024, "jpeg")


def test_a_moved_or_renamed_file_keeps_its_thumbnail(tmp_path: Path) -> None:
    source = noise(tmp_path / "a.png")
    cache = make_cache(tmp_path)
    first = thumb_of(cache, source)
    (tmp_path / "keepers").mkdir()
    moved = source.rename(tmp_path / "keepers" / "a (2).png")

    again = thumb_of(cache, moved)

    assert not again.made and again.etag == first.etag and again.path == first.path


def test_a_copy_with_the_same_bytes_and_times_is_another_file(tmp_path: Path) -> None:
    source = noise(tmp_path / "a.png")
    copy = tmp_path / "b.png"
    copy.write_bytes(source.read_bytes())
    os.utime(copy, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns))
    cache = make_cache(tmp_path)

    assert thumb_of(cache, source).etag != thumb_of(cache, copy).etag


def test_same_stem_png_and_mp4_do_not_collide(tmp_path: Path) -> None:
    png = noise(tmp_path / "x.png")
    mp4 = tmp_path / "x.mp4"
    mp4.write_bytes(png.read_bytes())  # even identical bytes and stat
    os.utime(mp4, ns=(png.stat().st_atime_ns, png.stat().st_mtime_ns))
    cache = make_cache(tmp_path)

    image_thumb = thumb_of(cache, png, width=96)
    video_thumb = thumb_of(cache, mp4, width=96)

    assert image_thumb.etag != video_thumb.etag and image_thumb.path != video_thumb.path
    assert opened(image_thumb).size == (96, 96)
    assert_placeholder(video_thumb, 96, play=True)  # not a decodable video


def test_an_empty_cached_file_is_rendered_again(tmp_path: Path) -> None:
    source = noise(tmp_path / "a.png")
    cache = make_cache(tmp_path)
    path = thumb_of(cache, source).path
    path.write_bytes(b"")  # what a crash without fsync can leave behind

    again = thumb_of(cache, source)

    assert again.made and opened(again).size == (96, 96)


def test_missing_source_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        thumb_of(make_cache(tmp_path), tmp_path / "gone.png")


def test_clear_deletes_and_recreates_the_folder(tmp_path: Path) -> None:
    source = noise(tmp_path / "a.png")
    cache = make_cache(tmp_path)
    first = thumb_of(cache, source)
    assert cache.stats()["files"] == 1

    cache.clear()

    assert cache.folder.is_dir() and list(cache.folder.iterdir()) == []
    assert not first.path.exists()
    assert cache.stats() == {"files": 0, "bytes": 0, "max_bytes": cache.max_bytes}
    assert thumb_of(cache, source).made


def test_stats_count_files_and_bytes(tmp_path: Path) -> None:
    cache = make_cache(tmp_path, max_bytes=123456)
    made = [thumb_of(cache, noise(tmp_path / f"{i}.png")) for i in range(3)]

    stats = cache.stats()

    assert stats == {"files": 3, "bytes": sum(t.path.stat().st_size for t in made), "max_bytes": 123456}


def test_eviction_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    sources = {name: noise(tmp_path / f"{name}.png") for name in "abcde"}
    thumbs = {name: thumb_of(make_cache(tmp_path), sources[name], width=96) for name in "abcd"}
    now = time.time()
    for age, name in zip((400, 300, 200, 100), "abcd", strict=True):
        os.utime(thumbs[name].path, (now - age, now - age))
    size_e = len(thumbnail_render.render(sources["e"], 96))
    cap = sum(t.path.stat().st_size for t in thumbs.values()) + size_e - 1
    cache = make_cache(tmp_path, max_bytes=cap)  # a new instance: its total comes from a scan

    assert not thumb_of(cache, sources["a"], width=96).made  # a is used again: now the newest
    e = thumb_of(cache, sources["e"], width=96)  # one byte over the cap

    assert e.made and e.path.exists()
    assert not thumbs["b"].path.exists()  # the oldest
    assert all(thumbs[name].path.exists() for name in "acd")
    stats = cache.stats()
    assert stats["files"] == 4 and stats["bytes"] <= cap * 0.9


def test_eviction_keeps_the_total_under_the_cap(tmp_path: Path) -> None:
    sources = [noise(tmp_path / f"{i}.png") for i in range(10)]
    size = len(thumbnail_render.render(sources[0], 96))
    cap = int(size * 3.5)
    cache = make_cache(tmp_path, max_bytes=cap)
    paths = []
    for index, source in enumerate(sources):
        paths.append(thumb_of(cache, source, width=96).path)
        stamp = time.time() - 1000 + index  # strictly increasing mtimes: the order of making
        os.utime(paths[-1], (stamp, stamp))
        on_disk = sum(p.stat().st_size for p in cache.folder.rglob("*") if p.is_file())
        assert on_disk <= cap

    survivors = [p.exists() for p in paths]
    assert survivors[-1] and survivors[-2]
    assert survivors == sorted(survivors)  # whatever was removed is older than whatever remains
    assert survivors.count(True) <= 3


# -- placeholders and bad sources --------------------------------------------------------------


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A real small PNG whose IHDR (with a valid CRC) claims width × height."""
    data = bytearray(noise(path, (8, 8)).read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(12000, 10000), (40000, 40000)])  # over our limit / over Pillow's own
def test_decompression_bomb_gets_a_placeholder_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    source = png_claiming(tmp_path / "bomb.png", *size)
    assert struct.unpack(">II", source.read_bytes()[16:24]) == size
    loads: list[tuple[int, int]] = []
    original = PngImagePlugin.PngImageFile.load

    def spy(self: PngImagePlugin.PngImageFile) -> object:
        loads.append(self.size)
        return original(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", spy)

    thumb = thumb_of(make_cache(tmp_path), source, width=256)

    assert thumb.made and loads == []
    assert_placeholder(thumb, 256, play=False)


@pytest.mark.parametrize("content", [b"not an image at all", "truncated"])
def test_corrupt_image_gets_a_cached_placeholder(tmp_path: Path, content: object) -> None:
    source = tmp_path / "broken.png"
    if content == "truncated":
        whole = noise(tmp_path / "whole.png", (200, 200)).read_bytes()
        source.write_bytes(whole[: len(whole) // 2])
    else:
        source.write_bytes(content)  # type: ignore[arg-type]
    cache = make_cache(tmp_path)

    first = thumb_of(cache, source, width=192)
    second = thumb_of(cache, source, width=192)

    assert_placeholder(first, 192, play=False)
    assert first.made and not second.made and second.path == first.path


@pytest.mark.parametrize("name", ["song.mp3", "voice.wav", "take.flac"])
def test_audio_gets_a_play_placeholder(tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    source.write_bytes(b"ID3" + os.urandom(2000))

    assert_placeholder(thumb_of(make_cache(tmp_path), source, width=320), 320, play=True)


def test_placeholder_is_encoded_in_the_requested_format(tmp_path: Path) -> None:
    source = tmp_path / "a.mp3"
    source.write_bytes(b"")

    thumb = thumb_of(make_cache(tmp_path), source, width=160, fmt="webp")

    assert thumb.media_type == "image/webp" and opened(thumb).format == "WEBP"
    assert_placeholder(thumb, 160, play=True)


# -- videos ------------------------------------------------------------------------------------


def encoder() -> str:
    av = pytest.importorskip("av", reason="PyAV is not installed")
    for name in ("mpeg4", "libx264", "h264", "libvpx"):
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
            except Exception:
                continue
            return name
    pytest.skip("PyAV cannot encode any of mpeg4, libx264, h264, libvpx here")


def make_video(path: Path, colours: list[tuple[int, int, int]], size: tuple[int, int] = (160, 90), **opts: int) -> Path:
    """One frame per colour, 24 fps, with a white block marking the top-left corner."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder(), rate=24)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if "rotation" in opts:
            stream.set_display_rotation(opts["rotation"])
        for colour in colours:
            image = Image.new("RGB", size, colour)
            image.paste(Image.new("RGB", (size[0] // 4, size[1] // 4), (255, 255, 255)), (0, 0))
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_video_thumbnail_shows_a_frame_of_the_video(tmp_path: Path) -> None:
    source = make_video(tmp_path / "clip.mp4", [GREEN] * 10)

    thumb = thumb_of(make_cache(tmp_path), source, width=384)

    image = opened(thumb)
    assert image.size == (160, 90)  # fitted, never upscaled
    assert close(image.getpixel((120, 60)), GREEN, 20)
    assert close(image.getpixel((5, 5)), (255, 255, 255), 20)


def test_video_frame_is_taken_at_0_1_seconds(tmp_path: Path) -> None:
    # at 24 fps frames 0..2 end before 0.1 s, frame 3 (0.125 s) is the first at or after it
    source = make_video(tmp_path / "cut.mkv", [RED, RED, RED, BLUE, BLUE, BLUE])

    image = opened(thumb_of(make_cache(tmp_path), source))

    assert close(image.getpixel((120, 60)), BLUE, 20)


def test_video_shorter_than_0_1_seconds_uses_its_first_frame(tmp_path: Path) -> None:
    source = make_video(tmp_path / "blink.mov", [RED])

    image = opened(thumb_of(make_cache(tmp_path), source))

    assert close(image.getpixel((120, 60)), RED, 20)


def test_video_display_rotation_is_applied(tmp_path: Path) -> None:
    source = make_video(tmp_path / "phone.mp4", [GREEN] * 4, rotation=90)  # 90° counter-clockwise

    image = opened(thumb_of(make_cache(tmp_path), source))

    assert image.size == (90, 160)
    assert close(image.getpixel((5, 154)), (255, 255, 255), 20)  # top-left went to bottom-left
    assert close(image.getpixel((5, 5)), GREEN, 20)


def without_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # makes ``import av`` raise ImportError


def fake_ffmpeg(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "ffmpeg"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o755)
    return script


def test_video_without_pyav_or_ffmpeg_gets_a_play_placeholder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "clip.webm"
    source.write_bytes(b"\x1a\x45\xdf\xa3" + os.urandom(500))
    without_pyav(monkeypatch)
    monkeypatch.setattr(thumbnail_render.shutil, "which", lambda name: None)

    assert_placeholder(thumb_of(make_cache(tmp_path), source, width=256), 256, play=True)


def test_video_through_an_ffmpeg_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    body = (
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.stdout.buffer.write(b'P6\\n40 30\\n255\\n' + bytes([30, 200, 60]) * 1200)"
    )
    script = fake_ffmpeg(tmp_path, body)
    source = tmp_path / "clip.mov"
    source.write_bytes(b"\x00" * 64)
    without_pyav(monkeypatch)
    monkeypatch.setattr(thumbnail_render.shutil, "which", lambda name: str(script) if name == "ffmpeg" else None)

    image = opened(thumb_of(make_cache(tmp_path), source, width=384))

    assert image.size == (40, 30) and close(image.getpixel((20, 15)), GREEN)
    args = calls.read_text().split()
    assert args[args.index("-ss") + 1] == "0.1" and args[args.index("-f") + 1] == "mov"
    assert args[args.index("-i") + 1] == str(source.absolute())


def test_ffmpeg_retries_from_the_start_of_a_short_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    body = (
        f"open({str(calls)!r}, 'a').write('call\\n')\n"
        "if '-ss' not in sys.argv:\n"
        "    sys.stdout.buffer.write(b'P6\\n4 4\\n255\\n' + bytes([220, 30, 30]) * 16)"
    )
    script = fake_ffmpeg(tmp_path, body)
    source = tmp_path / "blink.mp4"
    source.write_bytes(b"\x00" * 64)
    without_pyav(monkeypatch)
    monkeypatch.setattr(thumbnail_render.shutil, "which", lambda name: str(script))

    image = opened(thumb_of(make_cache(tmp_path), source))

    assert calls.read_text().count("call") == 2 and close(image.getpixel((2, 2)), RED)


def test_a_hanging_ffmpeg_times_out_into_a_placeholder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = fake_ffmpeg(tmp_path, "time.sleep(60)")
    source = tmp_path / "stuck.mkv"
    source.write_bytes(b"\x00" * 64)
    without_pyav(monkeypatch)
    monkeypatch.setattr(thumbnail_render.shutil, "which", lambda name: str(script))
    monkeypatch.setattr(thumbnail_render, "FFMPEG_TIMEOUT", 0.5)

    started = time.monotonic()
    thumb = thumb_of(make_cache(tmp_path), source, width=200)

    assert time.monotonic() - started < 20
    assert_placeholder(thumb, 200, play=True)


# -- concurrency -------------------------------------------------------------------------------


def test_a_thumbnail_appears_only_by_renaming_a_complete_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[Path, Path, bytes, bool]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        renames.append((Path(src), Path(dst), Path(src).read_bytes(), Path(dst).exists()))
        real_replace(src, dst)

    monkeypatch.setattr(thumbnails.os, "replace", spy)

    thumb = thumb_of(make_cache(tmp_path), noise(tmp_path / "a.png"))

    assert len(renames) == 1
    temp, final, data, existed = renames[0]
    assert final == thumb.path and temp.parent == final.parent and temp != final and not existed
    assert data == thumb.path.read_bytes() and data.endswith(b"\xff\xd9")
    assert not temp.exists()


def test_eight_threads_making_the_same_thumbnail_all_succeed(tmp_path: Path) -> None:
    source = noise(tmp_path / "big.png", (1024, 1024))
    cache = make_cache(tmp_path)
    path = cache.path_for(cache.key(source.stat(), ".png", 384, "jpeg"), "jpeg")
    barrier = threading.Barrier(8)
    results: list[Thumbnail] = []
    errors: list[BaseException] = []
    partial: list[int] = []
    done = threading.Event()

    def request() -> None:
        try:
            barrier.wait()
            results.append(thumb_of(cache, source))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def watch() -> None:  # a reader must never see a half-written thumbnail
        while not done.is_set():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if not (data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")):
                partial.append(len(data))

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()

    assert errors == [] and len(results) == 8 and partial == []
    assert sum(t.made for t in results) == 1  # rendered once, the others waited for it
    assert {t.path for t in results} == {path} and len({t.etag for t in results}) == 1
    assert opened(results[0]).size == (384, 384)
    assert [p.name for p in cache.folder.rglob("*.tmp")] == []
