"""Image intake: fetch a product image from a path or URL and decode it safely.

:func:`fetch_image` is the one entry point the tagging and embedding code uses. It
reads bytes from a local path (relative paths resolve against ``ImagePolicy.base_dir``,
the image root; by default a path must lie under it once symlinks are resolved, and
``file://`` URLs are refused unless ``file`` is an allowed scheme), ``http(s)://`` (guarded against SSRF, see
:mod:`enrichment.images.remote`) or ``s3://bucket/key``; checks the size; sniffs the
format from the content (JPEG, PNG, WebP, GIF; never the file extension); refuses
images whose declared dimensions exceed the pixel cap before decoding them; decodes
fully (truncated files fail here); applies the EXIF orientation and returns RGB.

No byte of a refused or unrecognised file ever reaches an error message: details
name the kind of content and its length only.

Bad input never raises anything but :class:`ImageRejected`, whose ``reason`` is a
short stable code for quarantine tables: ``empty``, ``not_found``, ``io_error``,
``too_large``, ``unsupported_format``, ``decode_error``, ``decompression_bomb``,
``forbidden_scheme``, ``forbidden_path``, ``forbidden_userinfo``, ``forbidden_address``,
``host_not_allowed``, ``invalid_url``, ``dns_error``, ``connection_error``,
``http_error``, ``timeout``, ``too_many_redirects``, ``s3_error``.

Pillow's own decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``) is left alone; it
still applies if ``max_pixels`` is set above it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageOps

from enrichment.images.policy import ImagePolicy, ImageRejected, policy_from_settings

__all__ = ["ImagePolicy", "ImageRejected", "LoadedImage", "fetch_image", "policy_from_settings"]


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")


@dataclass
class LoadedImage:
    """A decoded image; ``width``/``height`` are those of ``image`` (after orientation)."""

    ref: str
    data: bytes
    sha256: str
    image: Image.Image
    format: str
    width: int
    height: int


def fetch_image(
    ref: str,
    policy: ImagePolicy | None = None,
    *,
    max_side: int | None = None,
    min_side: int | None = None,
) -> LoadedImage:
    """Read, validate and decode the image at ``ref``.

    ``max_side`` bounds the longer side of the returned image; ``min_side`` instead
    brings the shorter side down to that size (what CLIP's 224-px crop needs). JPEGs are
    decoded at a reduced DCT scale (``Image.draft``), other formats are decoded and
    shrunk. The pixel cap always applies to the declared full size.
    """
    policy = policy or ImagePolicy()
    data = _read(ref.strip(), policy)
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        raise ImageRejected("empty", f"{ref} has no bytes", digest)
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected("unsupported_format", f"content is {_describe(data)}", digest)
    image = decode(
        data, fmt, policy.max_pixels, max_side=max_side, min_side=min_side, content_hash=digest
    )
    return LoadedImage(ref, data, digest, image, fmt, image.width, image.height)


def _read(ref: str, policy: ImagePolicy) -> bytes:
    match = _SCHEME.match(ref)
    scheme = match.group(1).lower() if match else "path"
    if scheme == "path":
        if not {"path", "file"} & set(policy.allowed_schemes):
            raise ImageRejected("forbidden_scheme", "local paths are not allowed")
        return _read_file(ref, policy)
    if scheme not in policy.allowed_schemes:
        raise ImageRejected("forbidden_scheme", f"scheme {scheme!r} is not allowed")
    if scheme == "file":
        parts = urlsplit(ref)
        if parts.netloc not in ("", "localhost"):
            raise ImageRejected("forbidden_path", "file URL names a remote host")
        return _read_file(unquote(parts.path), policy)
    if scheme in ("http", "https"):
        from enrichment.images.remote import fetch_http

        return fetch_http(ref, policy)
    if scheme == "s3":
        from enrichment.images.remote import fetch_s3

        return fetch_s3(ref, policy)
    raise ImageRejected("forbidden_scheme", f"scheme {scheme!r} is not supported")


def _confined(raw: str, policy: ImagePolicy) -> str:
    """The real path of ``raw`` (relative to the image root); refused outside the root.

    Symlinks are resolved first, for the file and every folder on the way, so a link
    inside the root that points outside it is refused like ``../`` or an absolute path.
    """
    if "\x00" in raw:
        raise ImageRejected("forbidden_path", "the path contains a NUL byte")
    base = policy.base_dir
    path = Path(raw)
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if not policy.confine_to_base_dir:
        return str(path)
    if base is None:
        raise ImageRejected("forbidden_path", "no image root is configured for local paths")
    root = os.path.realpath(base)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        raise ImageRejected("forbidden_path", f"{_short(raw)} is outside the image root")
    return real


def _short(raw: str, limit: int = 120) -> str:
    return raw if len(raw) <= limit else raw[:limit] + "..."


def _opened_outside(fd: int, policy: ImagePolicy) -> bool:
    """True when the open file's real location left the root (a folder swapped meanwhile)."""
    link = f"/proc/self/fd/{fd}"
    if not policy.confine_to_base_dir or policy.base_dir is None or not os.path.exists(link):
        return False
    root = os.path.realpath(policy.base_dir)
    return os.path.commonpath([root, os.path.realpath(link)]) != root


def _read_file(raw: str, policy: ImagePolicy) -> bytes:
    if not raw:
        raise ImageRejected("not_found", "empty path")
    path = _confined(raw, policy)
    shown = _short(raw)
    # O_NONBLOCK: opening a FIFO must not wait for a writer; no effect on regular files.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if policy.confine_to_base_dir:
        flags |= getattr(os, "O_NOFOLLOW", 0)  # the path is already resolved
    try:
        with os.fdopen(os.open(path, flags), "rb") as handle:
            if _opened_outside(handle.fileno(), policy):
                raise ImageRejected("forbidden_path", f"{shown} is outside the image root")
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ImageRejected("not_found", f"{shown} is not a regular file")
            if info.st_size > policy.max_bytes:
                raise ImageRejected("too_large", f"{info.st_size} bytes > {policy.max_bytes}")
            data = handle.read(policy.max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        raise ImageRejected("not_found", f"{shown}: {exc.strerror or exc}") from exc
    except (OSError, ValueError) as exc:  # permissions, a symlink swapped in, ...
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ImageRejected("io_error", f"{shown}: {detail}") from exc
    if len(data) > policy.max_bytes:
        raise ImageRejected("too_large", f"more than {policy.max_bytes} bytes")
    return data


def sniff_format(data: bytes) -> str | None:
    """The allowed format the content's magic bytes announce (Pillow's name), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _describe(data: bytes) -> str:
    """What kind of content ``data`` is and its length; never any of its bytes."""
    head = data[:512].lstrip().lower()
    known = (
        (b"bm", "BMP"),
        (b"ii*\x00", "TIFF"),
        (b"mm\x00*", "TIFF"),
        (b"%pdf", "PDF"),
        (b"<svg", "SVG"),
        (b"<?xml", "XML/SVG"),
        (b"<!doctype html", "HTML"),
        (b"<html", "HTML"),
        (b"\x00\x00\x01\x00", "ICO"),
    )
    size = f"{len(data)} bytes"
    for magic, name in known:
        if head.startswith(magic):
            return f"{name} ({size}), which is not an allowed format"
    if data[4:8] == b"ftyp":
        return f"an ISO media file (e.g. HEIC/AVIF, {size}), not allowed"
    kind = "text" if _looks_like_text(data[:4096]) else "binary data"
    return f"{kind} ({size}), not a JPEG, PNG, WebP or GIF image"


def _looks_like_text(sample: bytes) -> bool:
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n\x00" for ch in text)


def decode(
    data: bytes,
    fmt: str,
    max_pixels: int,
    *,
    max_side: int | None = None,
    min_side: int | None = None,
    content_hash: str | None = None,
) -> Image.Image:
    """Decode ``data`` (already sniffed as ``fmt``) to an RGB image, oriented upright."""

    def bomb(size: tuple[int, int]) -> ImageRejected | None:
        width, height = size
        if width * height > max_pixels:
            detail = f"{width}x{height} = {width * height} pixels > {max_pixels}"
            return ImageRejected("decompression_bomb", detail, content_hash)
        return None

    try:
        image = _open_header(data, fmt)
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageRejected("decode_error", f"{fmt} declares {width}x{height}", content_hash)
        if rejection := bomb(image.size):
            raise rejection
        if fmt == "JPEG" and (max_side or min_side):
            image.draft(None, _draft_size(width, height, max_side, min_side))
        image.load()
        if rejection := bomb(image.size):  # a GIF frame may extend the canvas while loading
            raise rejection
        ImageOps.exif_transpose(image, in_place=True)
        rgb = to_rgb(image)
        if max_side and max(rgb.size) > max_side:
            rgb = rgb if rgb is not image else rgb.copy()
            rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        elif min_side and min(rgb.size) > min_side:
            scale = min_side / min(rgb.size)
            size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
            rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        elif rgb is image and getattr(image, "n_frames", 1) > 1:
            rgb = image.copy()  # detach the first frame from the animation reader
        return rgb
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("decompression_bomb", str(exc), content_hash) from exc
    except MemoryError as exc:
        raise ImageRejected(
            "decompression_bomb", "out of memory while decoding", content_hash
        ) from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise ImageRejected("decode_error", f"{type(exc).__name__}: {exc}", content_hash) from exc


def _draft_size(width: int, height: int, max_side: int | None, min_side: int | None):
    """The size ``Image.draft`` must still reach: it picks the smallest DCT scale (1/2,
    1/4, 1/8) whose result is at least this large."""
    if min_side:  # the shorter side must still reach min_side
        shortest = min(width, height)
        return max(1, min_side * width // shortest), max(1, min_side * height // shortest)
    longest = max(width, height)
    return max(1, max_side * width // longest), max(1, max_side * height // longest)


_warnings_lock = threading.Lock()


def _open_header(data: bytes, fmt: str) -> Image.Image:
    """``Image.open`` (reads the header only) with Pillow's bomb warning as an error.

    ``warnings.catch_warnings`` swaps the process-wide filter list, so concurrent
    callers could restore each other's filters and leak ours; the lock serialises
    only this cheap header parse, not the decoding.
    """
    with _warnings_lock, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[fmt])


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; alpha is composited on white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT:
        wide = image if mode == "I" else image.convert("I")
        # 16-bit samples (0..65535) to 8 bits, rounded; convert("L") alone would clip.
        return wide.point(lambda v: v * (1 / 257) + 0.5).convert("L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        if image.mode == "RGB":
            return image
    if mode in _ALPHA or image.mode == "RGBA":
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
