"""A local server speaking the part of Pinecone's REST API (2026-07) the vector sink uses.

Plain HTTP on 127.0.0.1 (the official SDK accepts an ``http://`` host on loopback): one
listener for the control plane (``GET /indexes/{name}``, ``GET /indexes``) and one per
index for its data plane (``/vectors/upsert``, ``/vectors/delete``, ``/vectors/update``,
``/vectors/fetch``, ``/vectors/list``, ``/query``, ``/describe_index_stats``,
``DELETE /namespaces/{name}``), all checking the ``Api-Key`` header. Vectors live in
memory (:mod:`tests.fakes.pinecone_memory`, which also validates as the real API does).

Faults for tests: :meth:`PineconeTestServer.fail_next` (the next N requests, optionally
of one path, get a status), :meth:`PineconeTestServer.fail_ids` (requests touching these
ids fail: a partial failure of a batched write). Injected errors carry ``Retry-After: 0``
by default so the SDK's own retries do not sleep. Every request is logged.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.pinecone_memory import ApiFailure, MemoryIndex, Record

GRPC_CODES = {400: 3, 401: 16, 404: 5, 429: 8, 500: 13, 503: 14}  # data-plane error codes
CONTROL_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class Logged:
    method: str
    path: str
    index: str | None  # None: control plane
    body: dict | None
    query: dict
    headers: dict
    status: int = 0

    @property
    def namespace(self) -> str | None:
        return (self.body or {}).get("namespace") or (self.query.get("namespace") or [None])[0]


@dataclass
class Fault:
    status: int
    times: int | None  # None: until cleared
    path: str | None = None
    ids: frozenset[str] | None = None
    retry_after: str | None = "0"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients dropping keep-alives
            super().handle_error(request, client_address)


class PineconeTestServer:
    """In-memory Pinecone: ``with PineconeTestServer({"products": 32}) as pc: ...``."""

    def __init__(self, indexes: dict[str, int], *, api_key: str = "pc-test-key"):
        self.api_key = api_key
        self.dims = dict(indexes)
        self.memory = {name: MemoryIndex(dim) for name, dim in indexes.items()}
        self.log: list[Logged] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._servers = {None: self._listen(None)} | {n: self._listen(n) for n in indexes}

    # -- lifecycle ------------------------------------------------------------------------
    def _listen(self, index: str | None) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner._handle(self, index)

            do_POST = do_DELETE = do_GET

        httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    def close(self) -> None:
        for httpd in self._servers.values():
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> PineconeTestServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[None].server_port}"

    def host(self, index: str) -> str:
        return f"http://127.0.0.1:{self._servers[index].server_port}"

    # -- faults and inspection ------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        times: int | None = 1,
        *,
        path: str | None = None,
        retry_after: str | None = "0",
    ) -> None:
        """The next ``times`` requests (of ``path``, if given) answer ``status``."""
        with self.lock:
            self.faults.append(Fault(status, times, path, None, retry_after))

    def fail_ids(
        self,
        ids: list[str],
        status: int = 500,
        *,
        path: str = "/vectors/upsert",
        times: int | None = None,
        retry_after: str | None = "0",
    ) -> None:
        """Requests of ``path`` that touch any of ``ids`` answer ``status``."""
        with self.lock:
            self.faults.append(Fault(status, times, path, frozenset(ids), retry_after))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def calls(self, path: str | None = None, *, ok: bool | None = None) -> list[Logged]:
        with self.lock:
            return [
                c
                for c in self.log
                if (path is None or c.path == path)
                and (ok is None or (200 <= c.status < 300) == ok)
            ]

    def vectors(self, index: str, namespace: str) -> dict[str, Record]:
        with self.lock:
            return dict(self.memory[index].spaces.get(namespace, {}))

    def namespaces(self, index: str) -> dict[str, int]:
        with self.lock:
            return {ns: len(v) for ns, v in self.memory[index].spaces.items() if v}

    def remove(self, index: str, namespace: str, vid: str) -> None:
        """Delete a vector behind the platform's back."""
        with self.lock:
            del self.memory[index].spaces[namespace][vid]

    # -- request handling -----------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, index: str | None) -> None:
        url = urlsplit(h.path)
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        entry = Logged(
            h.command,
            url.path,
            index,
            json.loads(raw) if raw else None,
            parse_qs(url.query),
            {k.lower(): v for k, v in h.headers.items()},
        )
        try:
            if h.headers.get("Api-Key") != self.api_key:
                raise ApiFailure(401, "Invalid API Key")
            self._inject(entry)
            status, body = self._route(entry)
        except ApiFailure as exc:
            status = exc.status
            if index is None:
                code = CONTROL_CODES.get(status, "UNKNOWN")
                body = {"error": {"code": code, "message": exc.message}, "status": status}
            else:
                body = {"code": GRPC_CODES.get(status, 2), "message": exc.message, "details": []}
            headers = exc.headers
        else:
            headers = {}
        entry.status = status
        with self.lock:
            self.log.append(entry)
        payload = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(payload)

    def _inject(self, entry: Logged) -> None:
        touched = _ids_of(entry)
        with self.lock:
            for fault in self.faults:
                if fault.path is not None and fault.path != entry.path:
                    continue
                if fault.ids is not None and not (fault.ids & touched):
                    continue
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                raise ApiFailure(fault.status, f"injected failure ({fault.status})", headers)

    def _route(self, e: Logged) -> tuple[int, dict]:
        if e.index is None:
            if e.method == "GET" and e.path.startswith("/indexes/"):
                return 200, self._describe(unquote(e.path.removeprefix("/indexes/")))
            if e.method == "GET" and e.path == "/indexes":
                return 200, {"indexes": [self._describe(n) for n in self.dims]}
            raise ApiFailure(404, f"no route {e.method} {e.path}")
        memory = self.memory[e.index]
        routes = {
            ("POST", "/vectors/upsert"): memory.upsert,
            ("POST", "/vectors/delete"): memory.delete,
            ("POST", "/vectors/update"): memory.update,
            ("POST", "/describe_index_stats"): memory.stats,
            ("POST", "/query"): memory.query,
            ("GET", "/vectors/fetch"): memory.fetch,
            ("GET", "/vectors/list"): memory.list,
        }
        with self.lock:
            if e.method == "DELETE" and e.path.startswith("/namespaces/"):
                return 202, memory.delete_namespace(unquote(e.path.removeprefix("/namespaces/")))
            route = routes.get((e.method, e.path))
            if route is None:
                raise ApiFailure(404, f"no route {e.method} {e.path}")
            return 200, route(e.body or {}, e.query)

    def _describe(self, name: str) -> dict:
        if name not in self.dims:
            raise ApiFailure(404, f"Resource {name} not found")
        return {
            "name": name,
            "host": self.host(name),
            "status": {"ready": True, "state": "Ready"},
            "schema": {
                "fields": {
                    "embedding": {
                        "type": "dense_vector",
                        "metric": "cosine",
                        "dimension": self.dims[name],
                    }
                }
            },
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
            "deletion_protection": "disabled",
            "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
            "tags": None,
        }


def _ids_of(entry: Logged) -> set[str]:
    body = entry.body or {}
    ids = {v.get("id") for v in body.get("vectors") or [] if isinstance(v, dict)}
    ids |= set(body.get("ids") or []) | set(entry.query.get("ids") or [])
    if body.get("id"):
        ids.add(body["id"])
    return {i for i in ids if i}
