"""Command ``calibrate``: learn tag decisions from a labelled sample of the user's catalogue.

Tags the manifest's labelled rows without a calibration, fits one per labelled attribute
(:mod:`enrichment.tagging.calibration`), writes the calibration directory and prints
what each attribute is expected to reach. Apply it with ``tag-images --calibration DIR``,
``evaluate --calibration DIR`` or ``ENRICHMENT_CALIBRATION=DIR`` for runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from enrichment.cli.main import at_least
from enrichment.config import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="learn tag thresholds and heads from a labelled sample; writes a directory",
        description="Tag a labelled sample (manifest CSV sku,image,title,description; labels "
        "CSV sku plus one column per attribute) and learn, per attribute, how to decide its "
        "tags so that they reach the target precision with the most coverage. Prints the "
        "expected precision and coverage with 95 % intervals.",
    )
    p.add_argument("--manifest", required=True, type=Path, help="CSV sku,image,title,description")
    p.add_argument(
        "--labels", required=True, type=Path, help="CSV sku,<attribute>... ('|' joins values)"
    )
    p.add_argument("--mapping", type=Path, help="YAML mapping label names to taxonomy ids")
    p.add_argument("--output", required=True, type=Path, help="calibration directory to write")
    p.add_argument(
        "--target-precision",
        type=float,
        default=0.92,
        help="precision emitted tags must reach (default 0.92)",
    )
    p.add_argument("--no-clip", action="store_true", help="pixel colour and text signals only")
    p.add_argument("--batch-size", type=at_least(1), default=None, help="rows tagged together")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_calibrate)


def _labelled_items(args, tagger, settings, batch_size, labels, mapping, attributes):
    from enrichment.cli.tagging import _batches, _inputs, _progress, _read_csv, gold_values
    from enrichment.images.intake import policy_from_settings
    from enrichment.tagging.calibration import LabelledItem

    manifest = _read_csv(args.manifest, ("sku", "image"))
    rows = [r for r in manifest if (r.get("sku") or "").strip() in labels]
    if not rows:
        raise ConfigError(f"{args.manifest.name}: no row has a sku that {args.labels.name} labels")
    policy = policy_from_settings(settings, base_dir=args.manifest.resolve().parent)
    items, image_errors = [], 0
    with ThreadPoolExecutor(4) as pool, _progress(len(rows), "calibrating") as bar:
        for batch in _batches(rows, batch_size):
            inputs, errors = _inputs(batch, policy, pool)
            image_errors += sum(e is not None for e in errors)
            for item, analysis in zip(inputs, tagger.analyse(inputs), strict=True):
                gold = {
                    a: gold_values(
                        labels[item.sku].get(a) or "",
                        tagger.taxonomy.attribute(a),
                        mapping.get(a, {}),
                    )
                    for a in attributes
                }
                items.append(LabelledItem(analysis, gold))
            bar.update(len(batch))
    return items, len(rows), image_errors


def cmd_calibrate(args: argparse.Namespace) -> int:
    from enrichment.cli.tagging import _make_tagger, _read_csv, load_mapping
    from enrichment.tagging.calibration import calibrate
    from enrichment.tagging.calibration_types import save_calibration, save_golden

    if not 0.5 <= args.target_precision < 1.0:
        raise ConfigError("--target-precision must be at least 0.5 and below 1")
    labels = {r["sku"].strip(): r for r in _read_csv(args.labels, ("sku",))}
    mapping = load_mapping(args.mapping)
    settings, tagger, batch_size = _make_tagger(args.no_clip, args.batch_size)
    if tagger.calibration is not None:
        raise ConfigError("unset ENRICHMENT_CALIBRATION: calibrate learns from raw signals")
    tagger.keep_embeddings = tagger.clip is not None
    columns = set(next(iter(labels.values()), {}).keys())
    attributes = [a for a in tagger.taxonomy.attribute_ids if a in columns]
    if not attributes:
        raise ConfigError(f"{args.labels.name}: no label column matches a taxonomy attribute")
    started = time.monotonic()
    items, n_rows, image_errors = _labelled_items(
        args, tagger, settings, batch_size, labels, mapping, attributes
    )
    sample = {
        "manifest": args.manifest.name,
        "labels": args.labels.name,
        "mapping": args.mapping.name if args.mapping else None,
        "items": n_rows,
        "image_errors": image_errors,
    }
    cal = calibrate(
        tagger.taxonomy, items, attributes, args.target_precision, tagger.model_id, sample
    )
    save_calibration(cal, args.output)
    save_golden(args.output, _golden_rows(items, tagger.taxonomy))
    if args.json:
        print(json.dumps({"id": cal.id, **cal.meta()}, indent=2))
    else:
        print(report_text(cal, args.output))
    print(
        f"calibration {cal.id} from {n_rows} items in {time.monotonic() - started:.1f}s "
        f"-> {args.output}",
        file=sys.stderr,
    )
    return 0


def _golden_rows(items, taxonomy) -> list[tuple[str, str, str]]:
    """Single-valued labels that name exactly one taxonomy id (what the gate can score)."""
    return [
        (it.analysis.sku, a, next(iter(ids)))
        for it in items
        for a, ids in it.gold.items()
        if len(ids) == 1 and not taxonomy.attribute(a).multi
    ]


def _est(e) -> str:
    if e is None or e.value is None:
        return "-"
    return f"{e.value:6.1%} [{e.low:.1%}-{e.high:.1%}] ({e.k}/{e.n})"


def report_text(cal, directory: Path | None = None) -> str:
    """The calibrate command's report: one block per attribute."""
    lines = [
        f"calibration {cal.id}  taxonomy {cal.taxonomy_version}  target precision "
        f"{cal.target_precision:.0%}  CLIP {cal.clip_model or 'not used'}",
        f"sample: {cal.sample.get('items')} items ({cal.sample.get('image_errors', 0)} image "
        "errors); intervals are 95 % Wilson, estimates out of fold",
    ]
    for a, ac in cal.attributes.items():
        t = "none (abstains)" if ac.threshold is None else f"{ac.threshold:.3f}"
        how = f"{ac.kind}{' over ' + '+'.join(ac.features) if ac.features else ''}, threshold {t}"
        if ac.kind == "taxonomy":
            how = "not calibrated (the taxonomy's fusion and threshold decide)"
        lines += [
            "",
            f"{a}: {how}, {ac.n} labelled items",
            f"  expected precision {_est(ac.precision)}",
            f"  expected coverage  {_est(ac.coverage)}",
        ]
        for g, tg in sorted(ac.category_thresholds.items()):
            lines.append(f"  category {g}: threshold {'none' if tg is None else f'{tg:.3f}'}")
        worth = ", ".join(
            f"{s} {w['precision']['value']:.0%} precise on {w['coverage']['value']:.0%}"
            for s, w in ac.signal_worth.items()
        )
        lines.append(f"  signals alone: {worth or 'none spoke'}")
        lines += [f"  note: {n}" for n in ac.notes]
    if directory is not None:
        lines += ["", f"apply with: tag-images ... --calibration {directory}"]
    return "\n".join(lines)
