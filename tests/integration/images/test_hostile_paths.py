"""Catalogue data naming local files outside the image root, through a whole run and
through ``tag-images``: each is quarantined (or gets a row error) with a stable reason,
and no byte of those files lands in the database, the output file or the logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from enrichment.cli.main import main
from enrichment.db.connection import connect
from enrichment.orchestration import pipeline
from tests.catalog_fixture import Catalog, write_image

pytestmark = pytest.mark.integration

MARKER = "TOPSECRET-9c41e2"
SECRET = f"root:x:0:0:{MARKER}:/root:/bin/bash\n".encode()


def hostile_refs(outside: Path, root: Path) -> dict[str, tuple[str, str]]:
    """sku -> (image ref, expected quarantine reason)."""
    (root / "escape").symlink_to(outside / "secret.txt")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    return {
        "H-ABS": ("/etc/passwd", "forbidden_path"),
        "H-ABS2": (str(outside / "secret.txt"), "forbidden_path"),
        "H-URL": ("file:///etc/passwd", "forbidden_scheme"),
        "H-URL2": ((outside / "secret.txt").as_uri(), "forbidden_scheme"),
        "H-DOTS": ("../outside/secret.txt", "forbidden_path"),
        "H-LINK": ("escape", "forbidden_path"),
        "H-DIR": ("outdir/secret.txt", "forbidden_path"),
        "H-ENV": ("/proc/self/environ", "forbidden_path"),
    }


def forbidden_fragments() -> list[str]:
    passwd = Path("/etc/passwd").read_bytes()
    environ = Path("/proc/self/environ").read_bytes()
    pieces = [MARKER, SECRET[:8].decode(), passwd[:8].decode("latin-1")]
    pieces += [repr(passwd[:8])[2:-1], repr(environ[:8])[2:-1]]
    return [p for p in pieces if len(p) >= 6]


def all_text(url: str) -> str:
    """Every text-like value of the platform schema, as one string."""
    chunks = []
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT table_name, column_name FROM information_schema.columns
                WHERE table_schema = 'enrichment'
                  AND data_type IN ('text', 'character varying', 'jsonb', 'json')"""
        )
        for table, column in cur.fetchall():
            cur.execute(f'SELECT "{column}"::text FROM enrichment."{table}"')
            chunks += [r[0] for r in cur.fetchall() if r[0]]
    return "\n".join(chunks)


def test_a_run_quarantines_paths_outside_the_root_and_leaks_nothing(platform_db, tmp_path, caplog):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    cat = Catalog(platform_db)
    cases = hostile_refs(outside, cat.root)
    for sku, (ref, _) in cases.items():
        cat.add(sku, "Red cotton t-shirt", "red")
        cat.sql(
            "UPDATE catalog.product_images SET url = %s WHERE product_id = "
            "(SELECT id FROM catalog.products WHERE sku = %s)",
            (ref, sku),
        )
    cat.add("OK", "Blue summer dress", "blue", category="Dresses")
    write_image(cat.root, "x.png", "red")
    caplog.set_level(logging.DEBUG)
    summary = pipeline.run_all("r1", cat.now(), settings=cat.settings, use_clip=False)
    assert summary["quarantined"] == len(cases)
    rows = dict(
        (r[0], (r[1], r[2]))
        for r in cat.sql("SELECT sku, image_ref, reason FROM enrichment.quarantine")
    )
    assert rows == {sku: case for sku, case in cases.items()}
    assert cat.sql("SELECT count(*) FROM enrichment.quarantine WHERE content_hash IS NOT NULL") == [
        (0,)
    ]
    # the legitimate relative image was used: its colour comes from the pixels
    ok_tags = cat.sql(
        "SELECT value, sources FROM enrichment.tags WHERE sku = 'OK' AND attribute = 'color'"
    )
    assert any(v == "blue" and "pixels" in str(s) for v, s in ok_tags)
    text = all_text(cat.url) + "\n" + caplog.text
    for piece in forbidden_fragments():
        assert piece not in text, piece


def test_tag_images_confines_to_the_csv_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ENRICHMENT_CLIP_MODEL", raising=False)
    monkeypatch.delenv("ENRICHMENT_IMAGE_CONFINE_TO_ROOT", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    folder = tmp_path / "csv"
    (folder / "img").mkdir(parents=True)
    write_image(folder / "img", "red.png", "red")
    write_image(outside, "elsewhere.png", "red")
    cases = hostile_refs(outside, folder)
    lines = ["sku,image,title,description", "OK,img/red.png,Plain tee,"]
    lines += [f"{sku},{ref},Plain tee," for sku, (ref, _) in cases.items()]
    (folder / "products.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["tag-images", "--input", str(folder / "products.csv"), "--output", str(out)]
    assert main([*args, "--no-clip"]) == 0
    records = {r["sku"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["OK"]["error"] is None
    assert ("color", "red") in {(t["attribute"], t["value"]) for t in records["OK"]["tags"]}
    for sku, (_, reason) in cases.items():
        assert records[sku]["error"].startswith(reason + ":"), records[sku]
    text = out.read_text() + capsys.readouterr().err
    for piece in forbidden_fragments():
        assert piece not in text, piece
    # an explicit --image-root widens the confinement to that folder only
    (folder / "products.csv").write_text(
        "sku,image,title,description\nW,outside/elsewhere.png,Plain tee,\n"
        "P,/etc/passwd,Plain tee,\n",
        encoding="utf-8",
    )
    assert main([*args, "--no-clip", "--image-root", str(tmp_path)]) == 0
    widened = [json.loads(line) for line in out.read_text().splitlines()]
    assert widened[0]["error"] is None
    assert widened[1]["error"].startswith("forbidden_path:")
