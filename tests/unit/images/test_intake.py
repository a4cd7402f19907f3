"""Unit tests for image intake: local files, format sniffing, decoding, policy, URL vetting.

Every image is generated here; nothing touches the network (URL tests stop before
connecting, and the resolver hook replaces DNS).
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import pickle
import random
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from enrichment.config import ConfigError, load_settings
from enrichment.images.intake import (
    ImagePolicy,
    ImageRejected,
    LoadedImage,
    fetch_image,
    policy_from_settings,
)
from enrichment.images.remote import address_problem, vet_url

pytestmark = pytest.mark.unit

# Decoding tests read files anywhere under a temporary folder: confinement is opted out
# explicitly here and tested on its own in test_path_confinement.py.
OPEN = ImagePolicy(confine_to_base_dir=False)


def unconfined(**limits: object) -> ImagePolicy:
    return ImagePolicy(confine_to_base_dir=False, **limits)  # type: ignore[arg-type]


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rejected(ref: str | Path, policy: ImagePolicy | None = None) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        fetch_image(str(ref), policy or OPEN)
    return info.value


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


# --- happy path and sources -------------------------------------------------------------


def test_jpeg_from_path_is_loaded_as_rgb_with_hash(tmp_path: Path) -> None:
    data = encode(Image.new("RGB", (64, 48), (200, 30, 30)), "JPEG", quality=95)
    path = write(tmp_path, "red.jpg", data)
    loaded = fetch_image(str(path), OPEN)
    assert isinstance(loaded, LoadedImage)
    assert (loaded.format, loaded.width, loaded.height) == ("JPEG", 64, 48)
    assert loaded.image.mode == "RGB" and loaded.image.size == (64, 48)
    assert loaded.data == data and loaded.sha256 == hashlib.sha256(data).hexdigest()
    assert close(loaded.image.getpixel((10, 10)), (200, 30, 30))
    assert loaded.ref == str(path)


def test_relative_path_and_file_url_resolve(tmp_path: Path) -> None:
    (tmp_path / "sub dir").mkdir()
    write(tmp_path / "sub dir", "a.png", encode(Image.new("RGB", (5, 5), "blue"), "PNG"))
    policy = ImagePolicy(base_dir=tmp_path, allowed_schemes=("file",))
    assert fetch_image("sub dir/a.png", policy).width == 5
    assert fetch_image("file:sub%20dir/a.png", policy).format == "PNG"
    url = (tmp_path / "sub dir" / "a.png").as_uri()
    assert fetch_image(url, policy).image.getpixel((0, 0)) == (0, 0, 255)
    assert fetch_image("sub dir/a.png", ImagePolicy(base_dir=tmp_path)).width == 5  # default


def test_format_comes_from_content_not_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "really-a-png.jpg", encode(Image.new("RGB", (3, 3)), "PNG"))
    assert fetch_image(str(path), OPEN).format == "PNG"


def test_webp_is_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.webp", encode(Image.new("RGB", (10, 8), (0, 200, 0)), "WEBP", lossless=True)
    )
    loaded = fetch_image(str(path), OPEN)
    assert loaded.format == "WEBP" and loaded.image.getpixel((1, 1)) == (0, 200, 0)


def test_file_scheme_can_be_disallowed(tmp_path: Path) -> None:
    path = write(tmp_path, "a.png", encode(Image.new("RGB", (3, 3)), "PNG"))
    policy = ImagePolicy(allowed_schemes=("http", "https"))
    assert rejected(path, policy).reason == "forbidden_scheme"
    assert rejected(path.as_uri(), policy).reason == "forbidden_scheme"
    file_ok = ImagePolicy(allowed_schemes=("file",), confine_to_base_dir=False)
    assert rejected("file://otherhost/etc/passwd", file_ok).reason == "forbidden_path"


def test_confinement_to_base_dir(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = write(tmp_path, "secret.png", encode(Image.new("RGB", (3, 3)), "PNG"))
    (root / "link.png").symlink_to(secret)
    policy = ImagePolicy(base_dir=root, confine_to_base_dir=True)
    assert rejected("../secret.png", policy).reason == "forbidden_path"
    assert rejected("link.png", policy).reason == "forbidden_path"
    assert rejected(secret, policy).reason == "forbidden_path"
    opted_out = ImagePolicy(base_dir=root, confine_to_base_dir=False)
    assert fetch_image("../secret.png", opted_out).width == 3


# --- bad input ----------------------------------------------------------------------------


def test_missing_file_and_directory_are_not_found(tmp_path: Path) -> None:
    assert rejected(tmp_path / "nope.jpg").reason == "not_found"
    assert rejected(tmp_path).reason == "not_found"
    assert rejected("").reason == "not_found"


def test_zero_bytes_is_empty(tmp_path: Path) -> None:
    error = rejected(write(tmp_path, "zero.jpg", b""))
    assert error.reason == "empty"


def test_truncated_jpeg_is_a_decode_error_with_hash(tmp_path: Path) -> None:
    noisy = Image.frombytes("RGB", (128, 128), random.Random(1).randbytes(128 * 128 * 3))
    data = encode(noisy, "JPEG", quality=90)[:3000]
    error = rejected(write(tmp_path, "cut.jpg", data))
    assert error.reason == "decode_error"
    assert error.content_hash == hashlib.sha256(data).hexdigest()


def test_png_with_corrupt_image_data_is_a_decode_error(tmp_path: Path) -> None:
    data = bytearray(encode(Image.new("RGB", (32, 32), "green"), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start : start + 8] = b"\x00" * 8
    assert rejected(write(tmp_path, "bad.png", bytes(data))).reason == "decode_error"


@pytest.mark.parametrize(
    ("name", "payload", "label"),
    [
        ("random.jpg", random.Random(7).randbytes(4096), "not a JPEG"),
        ("notes.jpg", b"this is a text file, not a picture\n" * 20, "not a JPEG"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        ("page.jpg", b"<!DOCTYPE html><html><body>404</body></html>", "HTML"),
    ],
)
def test_non_images_are_unsupported(tmp_path: Path, name: str, payload: bytes, label: str) -> None:
    error = rejected(write(tmp_path, name, payload))
    assert error.reason == "unsupported_format"
    assert label in error.detail
    assert error.content_hash == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize(("fmt", "label"), [("BMP", "BMP"), ("TIFF", "TIFF"), ("ICO", "ICO")])
def test_formats_outside_the_allowlist_are_unsupported(
    tmp_path: Path, fmt: str, label: str
) -> None:
    error = rejected(write(tmp_path, "x.jpg", encode(Image.new("RGB", (16, 16), "red"), fmt)))
    assert error.reason == "unsupported_format" and label in error.detail


def test_oversize_file_is_too_large(tmp_path: Path) -> None:
    noisy = Image.frombytes("RGB", (100, 100), random.Random(2).randbytes(30000))
    path = write(tmp_path, "big.png", encode(noisy, "PNG"))
    assert rejected(path, unconfined(max_bytes=10_000)).reason == "too_large"
    assert fetch_image(str(path), unconfined(max_bytes=100_000)).width == 100


def test_png_header_claiming_huge_dimensions_is_a_bomb(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 301)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
    data += png_chunk(b"IEND", b"")
    error = rejected(write(tmp_path, "bomb.png", data))
    assert error.reason == "decompression_bomb"
    assert "100000x100000" in error.detail or "pixels" in error.detail


def test_tiny_file_with_many_pixels_exceeds_the_pixel_cap(tmp_path: Path) -> None:
    data = encode(Image.new("L", (3000, 3000)), "PNG", optimize=True)
    assert len(data) < 20_000
    path = write(tmp_path, "flat.png", data)
    assert rejected(path, unconfined(max_pixels=4_000_000)).reason == "decompression_bomb"
    assert fetch_image(str(path), unconfined(max_pixels=10_000_000)).width == 3000


def test_pillow_bomb_error_maps_to_rejection_without_leaking_state(tmp_path: Path) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    filters_before = list(warnings.filters)
    policy = unconfined(max_pixels=10**12)  # only Pillow's own limits apply
    for name, side in (
        ("warn.png", int(limit**0.5) + 10),
        ("error.png", int((2 * limit) ** 0.5) + 10),
    ):
        ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
        data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
        error = rejected(write(tmp_path, name, data), policy)
        assert error.reason == "decompression_bomb", name
    assert limit == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters_before


def test_concurrent_decoding_leaves_warning_filters_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    real_open = Image.open

    def slow_open(*args: object, **kwargs: object) -> Image.Image:
        time.sleep(0.002)  # widen the window in which threads could interleave
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", slow_open)

    paths = [
        write(tmp_path, f"{i}.png", encode(Image.new("RGB", (64, 64), (i, i, i)), "PNG"))
        for i in range(40)
    ]
    filters_before = list(warnings.filters)
    with ThreadPoolExecutor(8) as pool:
        widths = list(pool.map(lambda p: fetch_image(str(p), OPEN).width, paths * 5))
    assert widths == [64] * 200
    assert warnings.filters == filters_before


# --- colour modes and orientation -----------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    loaded = fetch_image(str(write(tmp_path, "cmyk.jpg", data)), OPEN)
    assert loaded.image.mode == "RGB"
    assert close(loaded.image.getpixel((8, 8)), (255, 0, 0), tolerance=10)


def test_palette_png_with_transparency_composites_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (4, 2), 0)
    image.putpalette([0, 0, 0, 10, 120, 250] + [0] * 762)
    image.putpixel((2, 0), 1)
    data = encode(image, "PNG", transparency=0)
    loaded = fetch_image(str(write(tmp_path, "p.png", data)), OPEN)
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.image.getpixel((2, 0)) == (10, 120, 250)


def test_rgba_and_la_alpha_composite_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 255, 128))
    rgba.putpixel((0, 0), (255, 0, 0, 0))
    loaded = fetch_image(str(write(tmp_path, "a.png", encode(rgba, "PNG"))), OPEN)
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)
    assert close(loaded.image.getpixel((1, 1)), (127, 127, 255), tolerance=2)
    la = Image.new("LA", (2, 2), (0, 0))
    assert fetch_image(str(write(tmp_path, "la.png", encode(la, "PNG"))), OPEN).image.getpixel(
        (0, 0)
    ) == (
        255,
        255,
        255,
    )


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    image = Image.new("I;16", (3, 1))
    for x, value in enumerate((0, 32768, 65535)):
        image.putpixel((x, 0), value)
    path = write(tmp_path, "g16.png", encode(image, "PNG"))
    assert Image.open(path).mode.startswith("I")
    pixels = [fetch_image(str(path), OPEN).image.getpixel((x, 0)) for x in range(3)]
    assert pixels[0] == (0, 0, 0)
    assert pixels[1] in ((127, 127, 127), (128, 128, 128))
    assert pixels[2] == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs 90 degrees clockwise
    path = write(tmp_path, "rot.jpg", encode(image, "JPEG", exif=exif, quality=95))
    loaded = fetch_image(str(path), OPEN)
    assert (loaded.width, loaded.height) == (20, 40)
    assert close(loaded.image.getpixel((10, 5)), (255, 0, 0), tolerance=30)
    assert close(loaded.image.getpixel((10, 35)), (0, 0, 255), tolerance=30)


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (12, 12), colour) for colour in ("red", "lime", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    loaded = fetch_image(str(write(tmp_path, "anim.gif", data)), OPEN)
    assert loaded.format == "GIF" and loaded.image.mode == "RGB"
    assert loaded.image.getpixel((6, 6)) == (255, 0, 0)


def test_max_side_reduces_jpeg_and_png(tmp_path: Path) -> None:
    image = Image.new("RGB", (1024, 768), (40, 90, 160))
    jpeg = write(tmp_path, "big.jpg", encode(image, "JPEG"))
    png = write(tmp_path, "big.png", encode(image, "PNG"))
    for path in (jpeg, png):
        loaded = fetch_image(str(path), OPEN, max_side=256)
        assert (loaded.width, loaded.height) == (256, 192)
        assert close(loaded.image.getpixel((100, 100)), (40, 90, 160))
    assert fetch_image(str(jpeg), OPEN).width == 1024


# --- the exception and settings ----------------------------------------------------------


def test_rejection_pickles_and_reads_well() -> None:
    error = ImageRejected("too_large", "30 MiB > 20 MiB", "ab" * 32)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.detail, copy.content_hash) == (
        "too_large",
        "30 MiB > 20 MiB",
        "ab" * 32,
    )
    assert str(copy) == "too_large: 30 MiB > 20 MiB"


def test_policy_from_settings_reads_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENRICHMENT_IMAGE_MAX_BYTES", "1000")
    monkeypatch.setenv("ENRICHMENT_IMAGE_MAX_PIXELS", "5000")
    monkeypatch.setenv("ENRICHMENT_IMAGE_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("ENRICHMENT_IMAGE_ALLOWED_HOSTS", "img.example.com, .cdn.example.com")
    monkeypatch.setenv("ENRICHMENT_IMAGE_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("ENRICHMENT_IMAGE_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("ENRICHMENT_IMAGE_TRUSTED_HOSTS", "cdn.internal=10.1.2.3")
    policy = policy_from_settings(load_settings())
    assert policy.max_bytes == 1000 and policy.max_pixels == 5000 and policy.timeout_seconds == 2.5
    assert policy.allowed_hosts == ("img.example.com", ".cdn.example.com")
    assert policy.allow_private_addresses is True
    assert policy.s3_endpoint_url == "http://127.0.0.1:9000"
    assert policy.trusted_hosts == {"cdn.internal": "10.1.2.3"}
    assert policy.base_dir == (tmp_path / "images").resolve()
    assert policy_from_settings(load_settings(), base_dir=tmp_path).base_dir == tmp_path


def test_policy_defaults_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_BYTES", "ALLOWED_HOSTS", "ALLOW_PRIVATE", "TRUSTED_HOSTS", "TIMEOUT_SECONDS"):
        monkeypatch.delenv(f"ENRICHMENT_IMAGE_{name}", raising=False)
    policy = policy_from_settings(load_settings())
    assert policy.max_bytes == 20 * 1024 * 1024 and policy.allowed_hosts is None
    assert policy.allow_private_addresses is False
    for name, value in (("MAX_BYTES", "lots"), ("TIMEOUT_SECONDS", "-1"), ("TRUSTED_HOSTS", "a=b")):
        monkeypatch.setenv(f"ENRICHMENT_IMAGE_{name}", value)
        with pytest.raises(ConfigError, match=f"ENRICHMENT_IMAGE_{name}"):
            policy_from_settings(load_settings())
        monkeypatch.delenv(f"ENRICHMENT_IMAGE_{name}")


# --- address and URL vetting (no connection is made) --------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.0.8",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:0a00:0001::1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.4.4"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_allow_private_keeps_metadata_and_link_local_refused() -> None:
    for address in ("127.0.0.1", "10.0.0.1", "fd00::1", "100.64.0.1"):
        assert address_problem(ipaddress.ip_address(address), allow_private=True) is None
    for address in ("169.254.169.254", "fe80::1", "0.0.0.0", "224.0.0.1"):
        assert address_problem(ipaddress.ip_address(address), allow_private=True) is not None


def _no_dns(host: str) -> list[str]:
    raise AssertionError(f"numeric host {host!r} must not reach the resolver")


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::ffff:7f00:1]/",
        "http://0/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_numeric_host_forms_do_not_bypass_the_check(url: str) -> None:
    with pytest.raises(ImageRejected) as info:
        vet_url(url, ImagePolicy(resolver=_no_dns))
    assert info.value.reason == "forbidden_address"


def test_one_bad_dns_record_is_enough_to_refuse() -> None:
    policy = ImagePolicy(resolver=lambda host: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(ImageRejected) as info:
        vet_url("https://img.example.com/a.jpg", policy)
    assert info.value.reason == "forbidden_address" and "10.0.0.7" in info.value.detail
    policy = ImagePolicy(resolver=lambda host: ["93.184.216.34", "2606:4700::1111"])
    url, host, addresses = vet_url("https://img.example.com/a.jpg?w=1", policy)
    assert (url, host, addresses) == (
        "https://img.example.com/a.jpg?w=1",
        "img.example.com",
        ("93.184.216.34", "2606:4700::1111"),
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost/", "forbidden_address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "forbidden_address"),
        ("http://printer.local/", "forbidden_address"),
        ("http://user:pw@img.example.com/", "forbidden_userinfo"),
        ("http://img.example.com@127.0.0.1/", "forbidden_userinfo"),
        ("http://img.example.com\\@127.0.0.1/", "invalid_url"),
        ("http://img.example.com:99999/", "invalid_url"),
        ("http:///nohost", "invalid_url"),
        ("ftp://img.example.com/a.jpg", "forbidden_scheme"),
        ("gopher://img.example.com:70/_x", "forbidden_scheme"),
    ],
)
def test_bad_urls_are_refused_before_resolution(url: str, reason: str) -> None:
    with pytest.raises(ImageRejected) as info:
        vet_url(url, ImagePolicy(resolver=_no_dns))
    assert info.value.reason == reason


def test_host_allowlist_exact_and_suffix() -> None:
    policy = ImagePolicy(
        allowed_hosts=("img.example.com", ".cdn.example.net"), resolver=lambda h: ["93.184.216.34"]
    )
    for url in (
        "http://img.example.com/",
        "http://a.b.cdn.example.net/",
        "http://cdn.example.net/",
    ):
        vet_url(url, policy)
    for url in (
        "http://evil.example.com/",
        "http://img.example.com.evil.org/",
        "http://xcdn.example.net/",
    ):
        with pytest.raises(ImageRejected) as info:
            vet_url(url, policy)
        assert info.value.reason == "host_not_allowed"


def test_unsupported_scheme_and_bad_s3_refs_via_fetch_image() -> None:
    assert rejected("gopher://example.com/").reason == "forbidden_scheme"
    assert rejected("data:image/png;base64,iVBORw0KGgo=").reason == "forbidden_scheme"
    assert rejected("s3://bucket-only").reason == "invalid_url"
    assert rejected("s3://Bad_Bucket/key.jpg").reason == "invalid_url"


def test_max_side_with_exif_rotation_bounds_the_upright_image(tmp_path: Path) -> None:
    image = Image.new("RGB", (800, 400), (255, 0, 0))
    image.paste((0, 0, 255), (400, 0, 800, 400))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = write(tmp_path, "rot-big.jpg", encode(image, "JPEG", exif=exif, quality=95))
    loaded = fetch_image(str(path), OPEN, max_side=100)
    assert (loaded.width, loaded.height) == (50, 100)
    assert close(loaded.image.getpixel((25, 10)), (255, 0, 0), tolerance=30)
    assert close(loaded.image.getpixel((25, 90)), (0, 0, 255), tolerance=30)


def test_fifo_and_devices_are_refused_without_blocking(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(rejected(fifo).reason), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "opening a FIFO blocked"
    assert outcome == ["not_found"]
    assert rejected("/dev/zero").reason == "not_found"
