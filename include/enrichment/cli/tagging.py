"""Commands ``tag-images`` (tag a CSV of products, no database) and ``evaluate``.

``tag-images`` follows the contract in docs/contracts.md: one JSON line per input
row, in input order. A row whose image cannot be loaded still gets its text-based
tags, with ``error`` set to the image's rejection reason.

``evaluate`` tags a labelled manifest and prints per-attribute accuracy, precision,
coverage and top confusions as JSON (definitions in :func:`score_attribute`).
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from enrichment.cli.main import at_least, prepare_output
from enrichment.config import ConfigError

LOAD_THREADS = 4
DECODE_MAX_SIDE = 512  # enough for CLIP (224 px) and the colour signal (128 px)
MAX_FIELD_CHARS = 131_072  # a longer cell makes its row an error (the command goes on)
_PARSE_LIMIT = 1 << 30  # the csv module's own cap, raised so one long cell cannot abort


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tag-images",
        help="tag products from a CSV (sku,image,title,description) into JSON lines",
        description="Tag products listed in a CSV without a database. Relative image paths "
        "resolve against the CSV's folder (or --image-root); local images outside that folder "
        "are refused unless ENRICHMENT_IMAGE_CONFINE_TO_ROOT=false. Writes one JSON line per "
        "row, in order.",
    )
    p.add_argument(
        "--input", required=True, type=Path, help="CSV with columns sku,image,title,description"
    )
    p.add_argument("--output", required=True, type=Path, help="JSON-lines file to write")
    p.add_argument("--no-clip", action="store_true", help="pixel colour and text signals only")
    _image_root_option(p)
    p.add_argument(
        "--batch-size",
        type=at_least(1),
        default=None,
        help="rows tagged together (default: ENRICHMENT_CLIP_BATCH_SIZE)",
    )
    add_calibration_option(p)
    p.add_argument(
        "--workers",
        type=at_least(0),
        default=None,
        help="processes tagging without CLIP (default: ENRICHMENT_TAG_WORKERS, else one "
        "per CPU core)",
    )
    p.set_defaults(func=cmd_tag_images)

    e = subparsers.add_parser(
        "evaluate",
        help="measure tag accuracy against a labelled manifest; prints JSON",
        description="Tag a manifest and compare with labels. Prints JSON per attribute: "
        "accuracy (best guess, emitted or not, is a correct label), precision (share of "
        "emitted tags that are correct), coverage (share of items with an emitted tag), n, "
        "and the most frequent confusions.",
    )
    e.add_argument("--manifest", required=True, type=Path, help="CSV sku,image,title,description")
    e.add_argument(
        "--labels",
        required=True,
        type=Path,
        help="CSV sku,<attribute>... ('|' joins several values)",
    )
    e.add_argument("--mapping", type=Path, help="YAML mapping label names to taxonomy ids")
    e.add_argument("--no-clip", action="store_true", help="pixel colour and text signals only")
    e.add_argument(
        "--attributes", help="comma-separated attributes to score (default: every labelled one)"
    )
    e.add_argument(
        "--catalog-column",
        help="manifest column to use as the source category signal (default: none)",
    )
    e.add_argument("--batch-size", type=at_least(1), default=None, help="rows tagged together")
    add_calibration_option(e)
    _image_root_option(e)
    e.set_defaults(func=cmd_evaluate)


def add_calibration_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="calibration directory written by calibrate (default: ENRICHMENT_CALIBRATION)",
    )


def _image_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image-root",
        type=Path,
        default=None,
        help="folder local image paths resolve against and must stay inside "
        "(default: the CSV's folder)",
    )


def csv_image_policy(settings: Any, csv_path: Path, image_root: Path | None = None) -> Any:
    """The image policy for a CSV: local paths confined to ``image_root`` or its folder."""
    from enrichment.images.intake import policy_from_settings

    root = image_root if image_root is not None else csv_path.parent
    if not root.is_dir():
        raise ConfigError(f"--image-root: {root} is not a folder")
    return policy_from_settings(settings, base_dir=root.resolve())


# -- shared helpers ---------------------------------------------------------------------------
def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if csv.field_size_limit() < _PARSE_LIMIT:
        csv.field_size_limit(_PARSE_LIMIT)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"{path.name}: missing column(s) {', '.join(missing)}")
            return list(reader)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path.name}: not UTF-8 text (byte {exc.start} of the file is "
            f"{exc.object[exc.start : exc.start + 1]!r}); save the CSV as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _make_tagger(no_clip: bool, batch_size: int | None, calibration: Path | None = None):
    from enrichment.config import load_settings
    from enrichment.tagging.engine import Tagger

    settings = load_settings()
    tagger = Tagger.from_settings(settings, use_clip=not no_clip, calibration=calibration)
    if tagger.clip is not None and batch_size:
        tagger.clip.batch_size = batch_size
    return settings, tagger, batch_size or settings.clip_batch_size


def _batches(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(rows), max(1, size)):
        yield rows[start : start + max(1, size)]


def _inputs(
    rows: list[dict[str, str]],
    policy: Any,
    pool: ThreadPoolExecutor,
    catalog_column: str | None = None,
    sides: dict[str, int] | None = None,
):
    """TagInputs for rows plus the image error (or None) of each row (``sides``: the
    decode scale, see :func:`enrichment.tagging.pipeline.decode_sides`)."""
    from enrichment.images.intake import ImageRejected, fetch_image
    from enrichment.tagging.engine import TagInput

    def load(ref: str):
        if not ref:
            return None
        try:
            return fetch_image(ref, policy, **(sides or {"max_side": DECODE_MAX_SIDE}))
        except ImageRejected as exc:
            return exc
        except Exception as exc:  # an unexpected decoder failure must not stop the run
            return ImageRejected("unreadable", f"{type(exc).__name__}: {exc}")

    loaded = list(pool.map(load, [(r.get("image") or "").strip() for r in rows]))
    inputs, errors = [], []
    for row, img in zip(rows, loaded, strict=True):
        ok = img is not None and not isinstance(img, ImageRejected)
        inputs.append(
            TagInput(
                sku=(row.get("sku") or "").strip(),
                title=row.get("title") or "",
                description=row.get("description") or "",
                category=(row.get(catalog_column) or None) if catalog_column else None,
                image=img.image if ok else None,
                image_hash=img.sha256 if ok else None,
            )
        )
        errors.append(str(img) if isinstance(img, ImageRejected) else None)
    return inputs, errors


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", file=sys.stderr, disable=None)


def row_problem(row: dict[str, Any]) -> str | None:
    """Why a CSV row cannot be processed (naming the column), or None."""
    for column, value in row.items():
        if column is None:
            return "invalid_input: the row has more cells than the header"
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            return f"invalid_input: column {column!r} contains a NUL byte"
        if len(value) > MAX_FIELD_CHARS:
            return (
                f"field_too_large: column {column!r} has {len(value)} characters "
                f"(limit {MAX_FIELD_CHARS})"
            )
    return None


# -- tag-images -------------------------------------------------------------------------------
def cmd_tag_images(args: argparse.Namespace) -> int:
    rows = _read_csv(args.input, ("sku", "image"))
    if args.no_clip and args.workers != 1:  # tagging in worker processes: start them early
        from enrichment.tagging.pipeline import start_worker_server

        start_worker_server()
    settings, tagger, batch_size = _make_tagger(args.no_clip, args.batch_size, args.calibration)
    policy = csv_image_policy(settings, args.input.resolve(), args.image_root)
    prepare_output(args.output)
    workers = args.workers or settings.tag_workers or None
    with args.output.open("w", encoding="utf-8") as out:
        tagged = tag_rows_pipelined(rows, tagger, policy, batch_size, workers)
        failed = write_tagged(out, tagged, len(rows))
    print(
        f"tagged {len(rows)} rows ({failed} with an error) -> {args.output} "
        f"[model {tagger.model_id}, taxonomy {tagger.taxonomy_version}]",
        file=sys.stderr,
    )
    return 0


def tag_rows_pipelined(
    rows: list[dict[str, str]],
    tagger: Any,
    policy: Any,
    batch_size: int,
    workers: int | None = None,
    stats: dict | None = None,
) -> Iterator[Any]:
    """Tagged items for ``rows`` in input order: without CLIP in worker processes (one per
    core unless ``workers`` says otherwise), with CLIP in this process while a loader
    thread decodes and prepares the next batch. ``stats`` receives the CPU seconds of the
    worker processes."""
    from enrichment.tagging.pipeline import (
        ImageJob,
        TagPool,
        default_workers,
        tag_serial,
        tune_allocator,
    )

    problems = [row_problem(r) for r in rows]  # such rows are not read further
    jobs = [
        ImageJob(
            (r.get("sku") or "").strip(),
            (r.get("image") or "").strip(),
            r.get("title") or "",
            r.get("description") or "",
        )
        for r, problem in zip(rows, problems, strict=True)
        if not problem
    ]
    tune_allocator()
    workers = workers or default_workers()
    if tagger.clip is None and workers > 1 and len(jobs) > batch_size:
        with TagPool(tagger, policy, workers, mode="rows") as pool:
            chunk = max(1, min(batch_size, len(jobs) // workers))
            yield from _with_problem_rows(rows, problems, pool.tag(jobs, chunk=chunk))
            if stats is not None:
                stats["worker_cpu_seconds"] = pool.cpu_seconds
    else:
        tagged = tag_serial(tagger, jobs, policy, batch_size, mode="rows")
        yield from _with_problem_rows(rows, problems, tagged)


def _with_problem_rows(
    rows: list[dict[str, str]], problems: list[str | None], tagged: Iterator[Any]
) -> Iterator[Any]:
    """``tagged`` (the usable rows) with an error item for each unusable row, in row order."""
    from enrichment.tagging.pipeline import TaggedItem

    for row, problem in zip(rows, problems, strict=True):
        if problem:
            sku = (row.get("sku") or "").replace("\x00", "").strip()[:200]
            yield TaggedItem(sku, input_error=problem)
        else:
            yield next(tagged)


def write_tagged(out: Any, tagged: Iterator[Any], total: int | None = None) -> int:
    """Write one JSON line per tagged item (the tag-images contract); returns rows with
    an error."""
    failed = 0
    with _progress(total, "tagging") as bar:
        for item in tagged:
            tags = [t.to_dict() for t in item.tags]
            error = str(item.rejection) if item.rejection is not None else None
            if item.tagging_error:
                tags, error = [], f"tagging_failed: {item.tagging_error}"
            if item.over_budget:
                tags, error = [], f"time_budget: {item.over_budget}"
            if item.input_error:
                tags, error = [], item.input_error
            elif not item.sku:
                tags, error = [], "missing_sku: the row has no sku"
            failed += error is not None
            record = {"sku": item.sku, "tags": tags, "error": error}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            bar.update(1)
    return failed


# -- evaluate ---------------------------------------------------------------------------------
def _norm_label(value: str) -> str:
    return " ".join(html.unescape(value).strip().lower().split())


def load_mapping(path: Path | None) -> dict[str, dict[str, list[str] | None]]:
    """``{attribute: {label: [taxonomy ids] | None}}`` from a mapping YAML (None: unmapped)."""
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read mapping {path}: {exc}") from exc
    raw = data.get("attributes", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: 'attributes' must map attribute -> {{label: id}}")
    out: dict[str, dict[str, list[str] | None]] = {}
    for attr, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path.name}: attributes.{attr} must be a mapping")
        out[attr] = {}
        for label, target in table.items():
            if target is None:
                out[attr][_norm_label(str(label))] = None
            else:
                targets = target if isinstance(target, list) else [target]
                out[attr][_norm_label(str(label))] = [str(t) for t in targets]
    return out


def gold_values(raw: str, attribute: Any, table: dict[str, list[str] | None]) -> set[str]:
    """Taxonomy ids a label cell accepts ('|' separates several labels)."""
    ids = set(attribute.value_ids)
    gold: set[str] = set()
    for part in raw.split("|"):
        label = _norm_label(part)
        if not label:
            continue
        if label in table:
            gold.update(t for t in (table[label] or []) if t in ids)
        elif label in ids:
            gold.add(label)
    return gold


def score_attribute(pairs: list[tuple[set[str], Any]], multi: bool) -> dict[str, Any]:
    """Metrics for one attribute from (gold ids, FusedAttribute or None) pairs.

    accuracy: share of items whose best guess (highest fused confidence, emitted or
    not) is one of the gold ids; items with no evidence at all count as wrong.
    precision: share of emitted tags whose value is a gold id.
    coverage: share of items with at least one emitted tag.
    recall (multi-valued only): share of gold ids that were emitted.
    """
    n = len(pairs)
    correct_best = emitted_total = emitted_correct = covered = no_guess = 0
    gold_total = gold_found = 0
    confusions: Counter = Counter()
    for gold, fused in pairs:
        best = fused.best.value if fused is not None and fused.best else None
        emitted = [v.value for v in fused.emitted] if fused is not None else []
        if best is None:
            no_guess += 1
        if best in gold:
            correct_best += 1
        else:
            confusions[(sorted(gold)[0], best or "(none)")] += 1
        if emitted:
            covered += 1
        emitted_total += len(emitted)
        emitted_correct += sum(1 for v in emitted if v in gold)
        gold_total += len(gold)
        gold_found += len(gold & set(emitted))
    result: dict[str, Any] = {
        "n": n,
        "accuracy": round(correct_best / n, 4) if n else None,
        "precision": round(emitted_correct / emitted_total, 4) if emitted_total else None,
        "coverage": round(covered / n, 4) if n else None,
        "emitted": emitted_total,
        "no_guess": no_guess,
        "top_confusions": [
            {"label": g, "predicted": p, "count": c} for (g, p), c in confusions.most_common(6)
        ],
    }
    if multi:
        result["recall"] = round(gold_found / gold_total, 4) if gold_total else None
    return result


def cmd_evaluate(args: argparse.Namespace) -> int:
    manifest = _read_csv(args.manifest, ("sku", "image"))
    labels = {r["sku"].strip(): r for r in _read_csv(args.labels, ("sku",))}
    mapping = load_mapping(args.mapping)
    settings, tagger, batch_size = _make_tagger(args.no_clip, args.batch_size, args.calibration)
    taxonomy = tagger.taxonomy
    label_columns = set(next(iter(labels.values()), {}).keys())
    if args.attributes:
        attributes = [a.strip() for a in args.attributes.split(",") if a.strip()]
        for a in attributes:
            if a not in taxonomy:
                raise ConfigError(f"--attributes: {a!r} is not a taxonomy attribute")
    else:
        attributes = [a for a in taxonomy.attribute_ids if a in label_columns]
    attributes = [a for a in attributes if a in label_columns]
    if not attributes:
        raise ConfigError(f"{args.labels.name}: no label column matches a taxonomy attribute")
    policy = csv_image_policy(settings, args.manifest.resolve(), args.image_root)
    rows = [r for r in manifest if r["sku"].strip() in labels]
    pairs: dict[str, list] = {a: [] for a in attributes}
    unmapped: dict[str, Counter] = {a: Counter() for a in attributes}
    image_errors = 0
    from enrichment.tagging.pipeline import decode_sides

    sides = decode_sides(tagger.clip is not None)  # as tag-images decodes
    started = time.monotonic()
    with ThreadPoolExecutor(LOAD_THREADS) as pool, _progress(len(rows), "evaluating") as bar:
        for batch in _batches(rows, batch_size):
            inputs, errors = _inputs(batch, policy, pool, args.catalog_column, sides)
            image_errors += sum(e is not None for e in errors)
            for item, analysis in zip(inputs, tagger.analyse(inputs), strict=True):
                for a in attributes:
                    raw = labels[item.sku].get(a) or ""
                    gold = gold_values(raw, taxonomy.attribute(a), mapping.get(a, {}))
                    if not gold:
                        if raw.strip():
                            unmapped[a][_norm_label(raw)] += 1
                        continue
                    pairs[a].append((gold, analysis.fused.get(a)))
            bar.update(len(batch))
    report = {
        "manifest": args.manifest.name,
        "items": len(rows),
        "image_errors": image_errors,
        "clip_enabled": tagger.clip_enabled,
        "model_id": tagger.model_id,
        "taxonomy_version": tagger.taxonomy_version,
        "calibration": tagger.calibration.id if tagger.calibration else None,
        "seconds": round(time.monotonic() - started, 2),
        "attributes": {},
    }
    for a in attributes:
        metrics = score_attribute(pairs[a], taxonomy.attribute(a).multi)
        metrics["threshold"] = taxonomy.attribute(a).threshold
        metrics["skipped_unmapped_labels"] = sum(unmapped[a].values())
        report["attributes"][a] = metrics
    print(json.dumps(report, indent=2))
    return 0
