"""Local image paths are confined to the image root by default, and refused or
unrecognised files never leak a byte into the rejection.

Each hostile reference is tried against the default policy (root = a temporary folder),
then the same files with confinement switched off explicitly, to show that even then no
content reaches the error detail.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from enrichment.config import load_settings
from enrichment.images.intake import ImagePolicy, ImageRejected, fetch_image, policy_from_settings

pytestmark = pytest.mark.unit

SECRET = b"root:x:0:0:SECRET-MARKER-7f3a:/root:/bin/bash\n"


def png(colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """root/ with a good image, a link to a secret outside, a linked folder outside."""
    root = tmp_path / "root"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "ok.png").write_bytes(png())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "real.png").write_bytes(png("blue"))
    (root / "shop" / "link.png").symlink_to(outside / "secret.txt")
    (root / "shop" / "img-link.png").symlink_to(outside / "real.png")
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    (root / "shop" / "inner-link.png").symlink_to(root / "shop" / "ok.png")
    return {"root": root, "outside": outside}


def refusal(ref: str, policy: ImagePolicy) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        fetch_image(ref, policy)
    return info.value


def no_content(error: ImageRejected, *secrets: bytes) -> None:
    text = f"{error} {error.detail!r} {error.args!r}"
    for secret in (SECRET, *secrets):
        for piece in (secret[:8], secret[8:16], b"SECRET-MARKER"):
            assert piece.decode("latin-1") not in text, text
            assert repr(piece)[2:-1] not in text, text


def test_default_policy_confines_and_refuses_file_urls(layout: dict[str, Path]) -> None:
    root, outside = layout["root"], layout["outside"]
    policy = ImagePolicy(base_dir=root)
    cases = {
        "/etc/passwd": "forbidden_path",
        "/proc/self/environ": "forbidden_path",
        str(outside / "secret.txt"): "forbidden_path",
        "../outside/secret.txt": "forbidden_path",
        "shop/../../outside/secret.txt": "forbidden_path",
        "shop/link.png": "forbidden_path",  # symlinked file pointing outside
        "shop/img-link.png": "forbidden_path",  # even when the target is a real image
        "linked-dir/real.png": "forbidden_path",  # reached through a symlinked folder
        "linked-dir/secret.txt": "forbidden_path",
        "file:///etc/passwd": "forbidden_scheme",
        (root / "shop" / "ok.png").as_uri(): "forbidden_scheme",
        "file:shop/ok.png": "forbidden_scheme",
        "shop/ok\x00.png": "forbidden_path",
    }
    for ref, reason in cases.items():
        error = refusal(ref, policy)
        assert error.reason == reason, (ref, error)
        assert error.content_hash is None, ref  # nothing was read
        no_content(error, Path("/etc/passwd").read_bytes()[:16])


def test_legitimate_paths_under_the_root_still_load(layout: dict[str, Path]) -> None:
    root = layout["root"]
    policy = ImagePolicy(base_dir=root)
    assert fetch_image("shop/ok.png", policy).image.getpixel((0, 0)) == (255, 0, 0)
    assert fetch_image("shop/inner-link.png", policy).width == 4  # link staying inside
    assert fetch_image(str(root / "shop" / "ok.png"), policy).width == 4  # absolute, inside
    assert fetch_image("shop/../shop/ok.png", policy).width == 4


def test_no_root_means_no_local_files(layout: dict[str, Path]) -> None:
    error = refusal(str(layout["root"] / "shop" / "ok.png"), ImagePolicy())
    assert error.reason == "forbidden_path" and "image root" in error.detail


def test_opting_out_reads_outside_but_never_reports_bytes(layout: dict[str, Path]) -> None:
    open_policy = ImagePolicy(
        base_dir=layout["root"], confine_to_base_dir=False, allowed_schemes=("file",)
    )
    for ref in (
        str(layout["outside"] / "secret.txt"),
        (layout["outside"] / "secret.txt").as_uri(),
        "shop/link.png",
    ):
        error = refusal(ref, open_policy)
        assert error.reason == "unsupported_format", ref
        assert "text" in error.detail and f"{len(SECRET)} bytes" in error.detail
        no_content(error)
    environ = refusal("/proc/self/environ", open_policy)
    no_content(environ, Path("/proc/self/environ").read_bytes()[:16])
    for name, data in (("x.bin", bytes(range(256)) * 4), ("x.svg", b"<svg secret='1'/>")):
        (layout["root"] / name).write_bytes(data)
        error = refusal(name, open_policy)
        assert error.reason == "unsupported_format"
        no_content(error, data)


def test_settings_default_is_confined_without_file_scheme(monkeypatch, tmp_path: Path) -> None:
    for name in ("ALLOWED_SCHEMES", "CONFINE_TO_ROOT", "ROOT"):
        monkeypatch.delenv(f"ENRICHMENT_IMAGE_{name}", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path))
    policy = policy_from_settings(load_settings())
    assert policy.confine_to_base_dir is True
    assert "file" not in policy.allowed_schemes and "path" in policy.allowed_schemes
    monkeypatch.setenv("ENRICHMENT_IMAGE_CONFINE_TO_ROOT", "false")
    monkeypatch.setenv("ENRICHMENT_IMAGE_ALLOWED_SCHEMES", "file,https")
    enabled = policy_from_settings(load_settings())
    assert enabled.confine_to_base_dir is False and "file" in enabled.allowed_schemes


def test_a_swapped_folder_is_caught_after_opening(layout: dict[str, Path], monkeypatch) -> None:
    """If a folder is replaced by a link between the check and the open, the opened
    file's real location is checked again."""
    import enrichment.images.intake as intake

    root = layout["root"]
    real_open = os.open

    def swap_then_open(path, flags, *args):
        if str(path).endswith("swap/ok.png"):
            (root / "swap" / "ok.png").unlink()
            (root / "swap").rmdir()
            (root / "swap").symlink_to(layout["outside"], target_is_directory=True)
            (layout["outside"] / "ok.png").write_bytes(png("green"))
        return real_open(path, flags, *args)

    (root / "swap").mkdir()
    (root / "swap" / "ok.png").write_bytes(png())
    monkeypatch.setattr(intake.os, "open", swap_then_open)
    error = refusal("swap/ok.png", ImagePolicy(base_dir=root))
    assert error.reason in ("forbidden_path", "io_error")
