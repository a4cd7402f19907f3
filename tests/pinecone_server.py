"""A local server speaking the part of Pinecone's REST API (2026-07) the vector sink uses.

Plain HTTP on 127.0.0.1 (the official SDK accepts an ``http://`` host on loopback): one
listener for the control plane (``GET /indexes/{name}``, ``GET /indexes``) and one per
index for its data plane (``/vectors/upsert``, ``/vectors/delete``, ``/vectors/update``,
``/vectors/fetch``, ``/vectors/list``, ``/query``, ``/describe_index_stats``,
``DELETE /namespaces/{name}``), all checking the ``Api-Key`` header. Vectors live in
memory. Validation follows the documented rules the sink depends on: dimension, metadata
types (no nulls), non-zero vectors under cosine, at most 1000 ids per request.

Faults for tests: :meth:`PineconeTestServer.fail_next` (the next N requests, optionally
of one path, get a status), :meth:`PineconeTestServer.fail_ids` (requests touching these
ids fail: a partial failure of a batched write). Injected errors carry ``Retry-After: 0``
by default so the SDK's own retries do not sleep. Every request is logged.
"""

from __future__ import annotations

import json
import math
import operator
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

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


@dataclass
class Record:
    values: list[float]
    metadata: dict = field(default_factory=dict)


class ApiFailure(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


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
        self.data: dict[str, dict[str, dict[str, Record]]] = {n: {} for n in indexes}
        self.log: list[Logged] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._servers = {None: self._listen(None)} | {n: self._listen(n) for n in indexes}

    # -- lifecycle ------------------------------------------------------------------------
    def _listen(self, index: str | None) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

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
            return dict(self.data[index].get(namespace, {}))

    def namespaces(self, index: str) -> dict[str, int]:
        with self.lock:
            return {ns: len(v) for ns, v in self.data[index].items() if v}

    def remove(self, index: str, namespace: str, vid: str) -> None:
        """Delete a vector behind the platform's back."""
        with self.lock:
            del self.data[index][namespace][vid]

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
        routes = {
            ("POST", "/vectors/upsert"): self._upsert,
            ("POST", "/vectors/delete"): self._delete,
            ("POST", "/vectors/update"): self._update,
            ("POST", "/describe_index_stats"): self._stats,
            ("POST", "/query"): self._query,
            ("GET", "/vectors/fetch"): self._fetch,
            ("GET", "/vectors/list"): self._list,
        }
        if e.method == "DELETE" and e.path.startswith("/namespaces/"):
            with self.lock:
                if (
                    self.data[e.index].pop(unquote(e.path.removeprefix("/namespaces/")), None)
                    is None
                ):
                    raise ApiFailure(404, "Namespace not found")
            return 202, {}
        route = routes.get((e.method, e.path))
        if route is None:
            raise ApiFailure(404, f"no route {e.method} {e.path}")
        with self.lock:
            return 200, route(e, e.body or {}, self.data[e.index])

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

    def _upsert(self, e: Logged, body: dict, spaces: dict) -> dict:
        vectors = body.get("vectors") or []
        if not 1 <= len(vectors) <= 1000:
            raise ApiFailure(400, "upsert takes 1 to 1000 vectors")
        dim = self.dims[e.index]
        for v in vectors:
            values = v.get("values") or []
            if len(values) != dim:
                raise ApiFailure(
                    400,
                    f"Vector dimension {len(values)} does not match the "
                    f"dimension of the index {dim}",
                )
            if not any(values):
                raise ApiFailure(400, "Dense vectors must contain at least one non-zero value")
            _check_metadata(v.get("metadata") or {})
        space = spaces.setdefault(body.get("namespace") or "__default__", {})
        for v in vectors:
            space[v["id"]] = Record([float(x) for x in v["values"]], dict(v.get("metadata") or {}))
        return {"upsertedCount": len(vectors)}

    def _delete(self, e: Logged, body: dict, spaces: dict) -> dict:
        ns = body.get("namespace") or "__default__"
        if ns not in spaces:
            raise ApiFailure(404, "Namespace not found")
        if body.get("deleteAll"):
            spaces[ns].clear()
        for vid in body.get("ids") or []:
            spaces[ns].pop(vid, None)
        if not spaces[ns]:
            del spaces[ns]
        return {}

    def _update(self, e: Logged, body: dict, spaces: dict) -> dict:
        record = spaces.get(body.get("namespace") or "__default__", {}).get(body.get("id"))
        if record is None:
            raise ApiFailure(404, f"Vector ID {body.get('id')} not found")
        if "setMetadata" in body:
            _check_metadata(body["setMetadata"])
            record.metadata.update(body["setMetadata"])
        if "values" in body:
            record.values = [float(x) for x in body["values"]]
        return {}

    def _stats(self, e: Logged, body: dict, spaces: dict) -> dict:
        counts = {ns: len(v) for ns, v in spaces.items() if v}
        return {
            "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items()},
            "dimension": self.dims[e.index],
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": "cosine",
            "vectorType": "dense",
        }

    def _query(self, e: Logged, body: dict, spaces: dict) -> dict:
        ns = body.get("namespace") or "__default__"
        space = spaces.get(ns, {})
        query = body.get("vector") or (
            space[body["id"]].values if body.get("id") in space else None
        )
        if query is None:
            return {"matches": [], "namespace": ns, "usage": {"readUnits": 1}}
        scored = [
            (vid, _cosine(query, r.values), r)
            for vid, r in space.items()
            if _matches(r.metadata, body.get("filter") or {})
        ]
        scored.sort(key=lambda t: -t[1])
        matches = [
            {
                "id": vid,
                "score": score,
                **({"values": r.values} if body.get("includeValues") else {}),
                **({"metadata": r.metadata} if body.get("includeMetadata") else {}),
            }
            for vid, score, r in scored[: body.get("topK", 10)]
        ]
        return {"matches": matches, "namespace": ns, "usage": {"readUnits": 1}}

    def _fetch(self, e: Logged, body: dict, spaces: dict) -> dict:
        ns = (e.query.get("namespace") or ["__default__"])[0]
        space = spaces.get(ns, {})
        found = {
            vid: {"id": vid, "values": space[vid].values, "metadata": space[vid].metadata}
            for vid in e.query.get("ids", [])
            if vid in space
        }
        return {"vectors": found, "namespace": ns, "usage": {"readUnits": 1}}

    def _list(self, e: Logged, body: dict, spaces: dict) -> dict:
        ns = (e.query.get("namespace") or ["__default__"])[0]
        prefix = (e.query.get("prefix") or [""])[0]
        limit = int((e.query.get("limit") or ["100"])[0])
        start = int((e.query.get("paginationToken") or ["0"])[0])
        ids = sorted(vid for vid in spaces.get(ns, {}) if vid.startswith(prefix))
        out = {
            "vectors": [{"id": vid} for vid in ids[start : start + limit]],
            "namespace": ns,
            "usage": {"readUnits": 1},
        }
        if start + limit < len(ids):
            out["pagination"] = {"next": str(start + limit)}
        return out


def _ids_of(entry: Logged) -> set[str]:
    body = entry.body or {}
    ids = {v.get("id") for v in body.get("vectors") or [] if isinstance(v, dict)}
    ids |= set(body.get("ids") or []) | set(entry.query.get("ids") or [])
    if body.get("id"):
        ids.add(body["id"])
    return {i for i in ids if i}


def _check_metadata(meta: dict) -> None:
    for key, value in meta.items():
        ok = isinstance(value, str | bool | int | float) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
        if not ok:
            raise ApiFailure(
                400,
                f"Metadata value for field {key!r} must be a string, number, "
                f"boolean or list of strings, got {json.dumps(value)}",
            )


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


_OPS = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$in": lambda value, arg: value in arg,
    "$nin": lambda value, arg: value not in arg,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def _matches(meta: dict, flt: dict) -> bool:
    """Pinecone's filter language: $eq $ne $in $nin $gt $gte $lt $lte $exists $and $or."""
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            results = [_matches(meta, c) for c in cond]
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        for op, arg in (cond if isinstance(cond, dict) else {"$eq": cond}).items():
            if op == "$exists":
                ok = (key in meta) == bool(arg)
            elif key not in meta:
                ok = op in ("$ne", "$nin")
            else:
                ok = _OPS[op](meta[key], arg)
            if not ok:
                return False
    return True
