"""Benchmark the production clients through the local test servers.

Prints one JSON object:

* ``es``: tag documents/s written by the Elasticsearch sink (``replace_tags``) into
  ``tests.fakes.es_server``, without faults and with injected faults (10 % of the
  documents rejected with 429 once, plus two whole bulk requests answered 503), with the
  sink's retry counters;
* ``pinecone``: vectors/s upserted by the Pinecone sink into
  ``tests.fakes.pinecone_server``, without faults and with two upsert requests answered
  429 (``Retry-After: 0``);
* ``images`` (when the image fetcher supports ``reuse_connections``): images/s fetched by
  ``images.remote.fetch_http`` from a local HTTP/1.1 server, one connection per image
  vs keep-alive connections per worker thread, on ``--threads`` threads.

The sink figures depend only on the sink's public API, so the same script measures an
older checkout too (run it with that checkout first on ``PYTHONPATH``).

    python bench/bench_clients.py [--docs 5000] [--vectors 2000] [--images 400]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def es_bench(n: int) -> dict:
    from enrichment.tags.documents import ProductDoc, TagDocument
    from enrichment.tags.es_sink import ElasticsearchTagSink, EsConfig
    from tests.fakes.es_server import EsServer

    tags = [{"attribute": "color", "value": "red", "confidence": 0.9, "sources": ["pixels"]}]
    docs = [
        TagDocument(
            ProductDoc(f"S{i:06d}", f"title {i}", "Acme", "T-Shirts", 10.0, 3, True),
            tags,
            "v1",
            "none",
            f"h{i}",
            "r1",
        )
        for i in range(n)
    ]
    out: dict = {"documents": n}
    for label in ("clean", "faults"):
        server = EsServer().start()
        try:
            sink = ElasticsearchTagSink(
                EsConfig(url=server.url, max_retries=3, backoff_seconds=0.001)
            )
            sink.ensure_index("v1")
            if label == "faults":
                server.fail_bulk_items({d.doc.sku for d in docs[::10]}, status=429, times=1)
                server.fail_next(status=503, times=2, path="_bulk")
            started = time.perf_counter()
            sink.replace_tags(docs)
            secs = time.perf_counter() - started
            assert len(server.docs("catalog-tags")) == n
            out[label] = {
                "docs_per_s": round(n / secs),
                "bulk_requests": sum(1 for r in server.requests if r.actions),
                "retries": sink.stats.get("retries", 0),
                "items_resent": sink.stats.get("items_resent", 0),
            }
            sink.close()
        finally:
            server.stop()
    return out


def pinecone_bench(n: int, dim: int) -> dict:
    from enrichment.config import load_settings
    from enrichment.vectors.pinecone_sink import PineconeVectorSink
    from enrichment.vectors.records import VectorIndex, VectorRecord
    from tests.fakes.pinecone_server import PineconeTestServer

    rng = np.random.default_rng(3)
    records = [
        VectorRecord(f"S{i:06d}", rng.standard_normal(dim).astype(np.float32), f"h{i}", {})
        for i in range(n)
    ]
    index = VectorIndex("text_bench", "text", "m", "p1", dim, "active")
    out: dict = {"vectors": n, "dim": dim}
    for label in ("clean", "faults"):
        with PineconeTestServer({"products": dim}) as server:
            os.environ.update(
                {
                    "ENRICHMENT_PINECONE_API_KEY": server.api_key,
                    "ENRICHMENT_PINECONE_CONTROLLER_HOST": server.control_url,
                    "ENRICHMENT_PINECONE_INDEX": "products",
                    "ENRICHMENT_PINECONE_BATCH_SIZE": "100",
                    "ENRICHMENT_PINECONE_RETRY_BACKOFF": "0.001",
                }
            )
            sink = PineconeVectorSink(load_settings(), lambda kind: [index])
            sink.check_version("text", dim)  # index resolution outside the timing
            sink.upsert(index, records[:200])  # warm-up: the SDK's lazy imports and pools
            if label == "faults":
                server.fail_next(429, times=2, path="/vectors/upsert")
            started = time.perf_counter()
            sink.upsert(index, records)
            secs = time.perf_counter() - started
            assert len(server.vectors("products", index.name)) == n
            out[label] = {
                "vectors_per_s": round(n / secs),
                "upsert_requests": len(server.calls("/vectors/upsert")),
            }
    return out


def image_bench(n: int, threads: int) -> dict | None:
    from PIL import Image

    from enrichment.images import remote
    from enrichment.images.policy import ImagePolicy

    if "reuse_connections" not in ImagePolicy.__dataclass_fields__:
        return None
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 40, 40)).save(buffer, "JPEG", quality=90)
    body = buffer.getvalue()
    connections = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # as production servers do; without it Nagle + delayed ACK stall keep-alive
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connections.append(1)

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    out: dict = {"images": n, "bytes": len(body), "threads": threads}
    try:
        for label, reuse in (("new_connection_each", False), ("keep_alive", True)):
            policy = ImagePolicy(allow_private_addresses=True, reuse_connections=reuse)
            connections.clear()
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                sizes = list(
                    pool.map(
                        lambda i, p=policy: len(remote.fetch_http(f"{base}/{i}.jpg", p)), range(n)
                    )
                )
            secs = time.perf_counter() - started
            assert sizes == [len(body)] * n
            out[label] = {"images_per_s": round(n / secs), "connections": len(connections)}
    finally:
        httpd.shutdown()
        httpd.server_close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--vectors", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    for path in (ROOT, os.path.join(ROOT, "include")):
        if path not in sys.path:
            sys.path.append(path)
    import logging

    logging.disable(logging.WARNING)  # retry warnings would swamp the output
    out = {
        "es": es_bench(args.docs),
        "pinecone": pinecone_bench(args.vectors, args.dim),
        "images": image_bench(args.images, args.threads),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
