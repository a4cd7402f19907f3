"""Commands ``embed-text``, ``similar``, ``index`` and ``evaluate-embeddings``.

``embed-text`` follows docs/contracts.md: one L2-normalised float32 row per CSV row,
in input order, progress on stderr. ``similar`` prints a product's neighbours from the
active index version. ``index`` lists, fills, switches and drops index versions
(blue/green, see :mod:`enrichment.bluegreen.vector_versions`). ``evaluate-embeddings`` prints label
precision@k as JSON (:mod:`enrichment.embeddings.evaluation`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from enrichment.cli.main import at_least, command_group, prepare_output
from enrichment.config import ConfigError

CHUNK = 256


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed-text",
        help="embed product texts from a CSV into a .npy matrix",
        description="One L2-normalised float32 row per CSV row (columns "
        "sku,image,title,description; brand and category are used when present).",
    )
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--output", required=True, type=Path)
    p.set_defaults(func=cmd_embed_text)

    p = sub.add_parser("similar", help="products most similar to a SKU (active index)")
    p.add_argument("sku")
    p.add_argument("--k", type=at_least(1), default=10)
    p.add_argument("--kind", choices=["text", "image"], default="text")
    p.add_argument("--category", help="only neighbours in this category")
    p.add_argument("--min-price", type=float)
    p.add_argument("--max-price", type=float)
    p.add_argument("--include-inactive", action="store_true")
    p.add_argument("--exact", action="store_true", help="exact scan instead of HNSW")
    p.add_argument("--ef-search", type=at_least(1), help="HNSW candidates (default 100)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_similar)

    _register_index(sub)
    _register_evaluate(sub)


def _register_index(sub: argparse._SubParsersAction) -> None:
    isub = command_group(
        sub,
        "index",
        help="vector index versions: versions, fill, switch, drop",
        description="Blue/green re-embedding of the vector indexes.",
        dest="index_command",
    )
    p = isub.add_parser("versions", help="every version: state, size, coverage")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_versions)
    p = isub.add_parser("fill", help="embed all live products into the configured version")
    p.add_argument(
        "--kind",
        choices=["text", "image"],
        action="append",
        help="kinds to fill (default: the configured ones)",
    )
    p.add_argument("--no-clip", action="store_true", help="do not load CLIP (text only)")
    p.add_argument("--shard", type=at_least(0), default=0, help="this worker's part (0-based)")
    p.add_argument("--shards", type=at_least(1), default=1, help="workers filling in parallel")
    p.set_defaults(func=cmd_fill)
    p = isub.add_parser("switch", help="verify a building version and make it active")
    p.add_argument("--kind", choices=["text", "image"], default="text")
    p.add_argument("--name", help="version to activate (default: the building one)")
    p.add_argument("--drop-old", action="store_true", help="drop the retired version after")
    p.set_defaults(func=cmd_switch)
    p = isub.add_parser("drop", help="drop retired versions")
    p.add_argument("names", nargs="*")
    p.add_argument("--all-retired", action="store_true")
    p.add_argument("--force", action="store_true", help="also drop a building version")
    p.set_defaults(func=cmd_drop)
    p = isub.add_parser("undrop", help="allow a dropped version's model to be used again")
    p.add_argument("name")
    p.set_defaults(func=cmd_undrop)


def _register_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate-embeddings",
        help="label precision@k of nearest neighbours",
        description="Embed a manifest (or read the active index) and print the "
        "share of each item's k nearest neighbours with the same label, as JSON.",
    )
    p.add_argument(
        "--manifest",
        type=Path,
        help="CSV sku,image,title,description (default: the vectors of the active index)",
    )
    p.add_argument("--labels", type=Path, help="CSV with sku and the label column")
    p.add_argument(
        "--ground-truth",
        action="store_true",
        help="labels from the demo catalogue's ground_truth table",
    )
    p.add_argument("--column", default="category")
    p.add_argument("--k", type=at_least(1), default=10)
    p.add_argument("--kind", choices=["text", "image"], default="text")
    p.add_argument(
        "--dedupe",
        action="store_true",
        help="keep one item per identical vector (e.g. variants sharing a text)",
    )
    p.set_defaults(func=cmd_evaluate)


def _store():
    from enrichment.config import load_settings
    from enrichment.db.connection import database_url
    from enrichment.vectors.factory import vector_store_from_settings

    settings = load_settings()
    return settings, vector_store_from_settings(settings, database_url(settings))


def cmd_embed_text(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from enrichment.config import load_settings
    from enrichment.embeddings.evaluation import read_csv
    from enrichment.embeddings.factory import text_embedder_from_settings

    rows = read_csv(args.input, ("sku", "title"))
    started = time.monotonic()
    embedder = text_embedder_from_settings(load_settings())
    texts = [embedder.prepare(r) for r in rows]
    parts = []
    with tqdm(total=len(texts), desc="embed-text", unit="row", file=sys.stderr) as bar:
        for start in range(0, len(texts), CHUNK):
            parts.append(embedder.embed(texts[start : start + CHUNK]))
            bar.update(len(parts[-1]))
    matrix = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)
    prepare_output(args.output)
    np.save(args.output, matrix.astype(np.float32))
    print(
        f"{len(rows)} rows ({len(set(texts))} distinct texts) -> {args.output} "
        f"[{matrix.shape[1]}-d, {embedder.model_id}] in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    _, store = _store()
    index = None
    try:
        index = store.active_index(args.kind)
        found = store.similar(
            args.kind,
            args.sku,
            k=args.k,
            category=args.category,
            min_price=args.min_price,
            max_price=args.max_price,
            active_only=not args.include_inactive,
            exact=args.exact,
            ef_search=args.ef_search,
        )
    except LookupError as exc:  # an unknown SKU, or no active index yet
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "sku": args.sku,
                    "kind": args.kind,
                    "index": index.name,
                    "model_id": index.model_id,
                    "neighbours": [n.to_dict() for n in found],
                },
                ensure_ascii=False,
            )
        )
        return 0
    if not found and args.category:
        print(
            f"no neighbours in category {args.category!r}: the category must be spelt as in "
            "the catalogue, case included",
            file=sys.stderr,
        )
    print(f"{args.kind} neighbours of {args.sku} ({index.model_id}, {index.name}):")
    for rank, n in enumerate(found, 1):
        price = f"{n.price:.2f}" if n.price is not None else "-"
        print(
            f"{rank:>3}  {n.sku:<20} {n.score:7.4f}  {n.category or '-':<24} "
            f"{n.brand or '-':<16} {price:>10}"
        )
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from enrichment.bluegreen.vector_versions import versions

    rows = versions()
    if args.json:
        print(json.dumps(rows))
        return 0
    for v in rows:
        cov = v["coverage"]
        print(
            f"{v['state']:<9} {v['kind']:<6} {v['name']:<44} {v['model_id']} "
            f"[{v['prep_version']}, {v['dim']}-d] vectors {v['vectors']}/{cov['expected']} "
            f"missing {cov['missing']} extra {cov['extra']} stale {cov['stale']}"
            + ("" if v["hnsw"] else " (no HNSW yet)")
        )
    return 0


def cmd_fill(args: argparse.Namespace) -> int:
    from enrichment.bluegreen.fill import fill

    kinds = tuple(args.kind) if args.kind else None
    result = fill(
        kinds=kinds,
        progress=True,
        use_clip=False if args.no_clip else None,
        shard=args.shard,
        shards=args.shards,
    )
    print(json.dumps(result))
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    from enrichment.bluegreen.vector_versions import SwitchRefused, switch

    try:
        result = switch(kind=args.kind, name=args.name, drop_old=args.drop_old)
    except SwitchRefused as exc:
        print(f"switch refused: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    from enrichment.bluegreen.vector_versions import SwitchRefused, drop

    if not args.names and not args.all_retired:
        print("error: name versions to drop, or pass --all-retired", file=sys.stderr)
        return 2
    try:
        print(json.dumps(drop(names=args.names, force=args.force, all_retired=args.all_retired)))
    except SwitchRefused as exc:
        print(f"drop refused: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_undrop(args: argparse.Namespace) -> int:
    from enrichment.config import load_settings
    from enrichment.db.connection import database_url
    from enrichment.vectors.store import PgVectorStore

    settings = load_settings()
    store = PgVectorStore(database_url(settings), settings.state_schema)
    if not store.undrop(args.name):
        print(f"{args.name} is not a dropped version", file=sys.stderr)
        return 1
    print(f"{args.name}: its model may build it again (the next run or `index fill`)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from enrichment.embeddings import evaluation as ev

    if args.labels is None and not args.ground_truth:
        raise ConfigError("evaluate-embeddings needs --labels CSV or --ground-truth")
    if args.labels is not None:
        labels = {r["sku"]: r[args.column] for r in ev.read_csv(args.labels, ("sku", args.column))}
    else:
        labels = ev.ground_truth_labels(args.column)
    if args.manifest is not None:
        rows, _ = ev.labelled(ev.read_csv(args.manifest, ("sku", "title")), labels)
        skus, matrix, model_id, skipped = ev.manifest_vectors(args.manifest, rows, args.kind)
        source = str(args.manifest.name)
    else:
        _, store = _store()
        index = store.active_index(args.kind)
        if index is None:
            raise ConfigError(f"no active {args.kind} index: run the pipeline or pass --manifest")
        skus, matrix = store.vectors(index, [s for s, v in labels.items() if v.strip()])
        model_id, skipped, source = index.model_id, 0, f"index:{index.name}"
    names = [labels[s].strip().lower() for s in skus]
    deduped = 0
    if args.dedupe:
        _, first = np.unique(matrix.round(5), axis=0, return_index=True)
        keep = np.sort(first)
        deduped = len(skus) - len(keep)
        matrix, names = matrix[keep], [names[i] for i in keep]
    result = ev.precision_at_k(matrix, names, args.k)
    print(
        json.dumps(
            {
                "kind": args.kind,
                "model_id": model_id,
                "source": source,
                "column": args.column,
                **result,
                "unavailable": skipped,
                "deduplicated": deduped,
            },
            ensure_ascii=False,
        )
    )
    return 0
