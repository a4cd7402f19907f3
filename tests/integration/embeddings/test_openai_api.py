"""The OpenAI-compatible embeddings backend (official ``openai`` SDK) against a local
HTTP server that misbehaves. Injected failures carry ``retry-after-ms: 1`` unless a test
sets headers, so the SDK's backoff does not slow the suite."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from enrichment.cli.main import main
from enrichment.config import ConfigError, load_settings
from enrichment.embeddings.factory import text_embedder_from_settings
from enrichment.embeddings.openai_api import EmbeddingAPIError, OpenAIEmbedder
from enrichment.orchestration import pipeline
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration
DIM = 8


def fake_vector(text: str) -> list[float]:
    """Deterministic, deliberately not normalised."""
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    return (np.random.default_rng(seed).standard_normal(DIM) * 3).tolist()


class FakeAPI:
    """``POST /v1/embeddings``; ``script`` is a queue of (status, headers) failures."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        self.always: int | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if api.always or api.script:
                    status, headers = (api.always, {}) if api.always else api.script.pop(0)
                    headers = headers or {"retry-after-ms": "1"}
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(json.dumps({"error": {"message": "nope"}}).encode())
                    return
                data = [
                    {"object": "embedding", "index": i, "embedding": fake_vector(t)}
                    for i, t in enumerate(body["input"])
                ]
                payload = {
                    "data": data[::-1],  # any order: the client sorts by index
                    "usage": {"prompt_tokens": 3 * len(data), "total_tokens": 3 * len(data)},
                }
                raw = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def inputs(self) -> list[list[str]]:
        return [r["body"]["input"] for r in self.requests]


@pytest.fixture
def api():
    server = FakeAPI()
    yield server
    server.server.shutdown()


def client(api: FakeAPI, **kw) -> OpenAIEmbedder:
    kw.setdefault("dimensions", DIM)
    return OpenAIEmbedder("test-embed", base_url=api.url, api_key="sk-test", **kw)


def test_retries_429_and_5xx_then_returns_rows_in_input_order(api):
    emb = client(api, price_per_mtok=2.0)
    api.script = [(429, {"Retry-After": "0.01"}), (503, {})]
    vectors = emb.embed(["red tee", "blue tee"])
    assert len(api.requests) == 3 and api.requests[0]["auth"] == "Bearer sk-test"
    expected = np.array([fake_vector("red tee"), fake_vector("blue tee")], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-6)
    assert emb.usage["requests"] == 3 and emb.usage["retries"] == 2
    assert emb.usage["tokens"] == 6 and emb.cost_usd == pytest.approx(6 * 2.0 / 1e6)
    assert api.requests[-1]["body"]["dimensions"] == DIM


def test_batches_send_each_distinct_text_once(api):
    emb = client(api, batch_size=2)
    texts = ["a", "b", "a", "c", "", "b", "d"]
    vectors = emb.embed(texts)
    assert api.inputs() == [["a", "b"], ["c", " "], ["d"]]  # empty text sent as a space
    assert vectors.shape == (7, DIM)
    assert np.array_equal(vectors[0], vectors[2]) and np.array_equal(vectors[1], vectors[5])
    assert emb.usage["inputs"] == 5


def test_gives_up_after_the_retries_and_does_not_retry_client_errors(api):
    emb = client(api, max_retries=2)
    api.always = 500
    with pytest.raises(EmbeddingAPIError, match="after 2 retries"):
        emb.embed(["x"])
    assert len(api.requests) == 3
    api.requests.clear()
    api.always = 400
    with pytest.raises(EmbeddingAPIError, match="rejected"):
        emb.embed(["x"])
    assert len(api.requests) == 1
    api.always = 401
    with pytest.raises(ConfigError, match="ENRICHMENT_OPENAI_API_KEY"):
        emb.embed(["x"])


def test_unexpected_dimension_is_an_error_and_unknown_models_are_probed(api):
    emb = client(api, dimensions=None)
    assert emb.dim == DIM  # one probe request for a model of unknown size
    assert api.inputs() == [["dimension probe"]]
    wrong = client(api, dimensions=16)
    with pytest.raises(EmbeddingAPIError, match="expected 16"):
        wrong.embed(["x"])


def test_settings_select_the_backend_and_embed_text_writes_the_matrix(api, monkeypatch, tmp_path):
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", "openai:test-embed")
    monkeypatch.setenv("ENRICHMENT_OPENAI_BASE_URL", api.url)
    monkeypatch.setenv("ENRICHMENT_OPENAI_DIMENSIONS", str(DIM))
    emb = text_embedder_from_settings(load_settings())
    assert emb.model_id == f"openai:test-embed@{DIM}" and api.requests == []
    csv = tmp_path / "in.csv"
    csv.write_text(
        "sku,image,title,description\nA,,Áo thun,đỏ\nB,,Tee,red\nC,,Áo thun,đỏ\n", encoding="utf-8"
    )
    assert main(["embed-text", "--input", str(csv), "--output", str(tmp_path / "o.npy")]) == 0
    out = np.load(tmp_path / "o.npy")
    assert out.shape == (3, DIM) and out.dtype == np.float32
    assert np.array_equal(out[0], out[2])
    assert api.inputs() == [["Áo thun. đỏ", "Tee. red"]]


def test_pipeline_counts_api_tokens_and_retries(api, platform_db, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", "openai:test-embed")
    monkeypatch.setenv("ENRICHMENT_OPENAI_BASE_URL", api.url)
    monkeypatch.setenv("ENRICHMENT_OPENAI_DIMENSIONS", str(DIM))
    monkeypatch.setenv("ENRICHMENT_OPENAI_PRICE_PER_MTOK", "1000")
    settings = load_settings()
    cat = Catalog(settings)
    cat.add("A", "Classic tee")
    cat.add("B", "Summer dress", "blue", category="Dresses")
    api.script = [(502, {"Retry-After": "0"})]
    summary = pipeline.run_all("r1", cat.now(), settings=settings, use_clip=False)
    steps = summary["step_counts"]
    assert summary["text_embedded"] == 2
    assert steps["text_api_retries"] == 1 and steps["text_api_tokens"] == 6
    assert steps["text_api_cost_usd"] == pytest.approx(6 * 1000 / 1e6)
