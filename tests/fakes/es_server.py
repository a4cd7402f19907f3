"""A local HTTP server speaking the subset of the Elasticsearch REST API the platform uses.

No Elasticsearch can run here, so the tag sink is tested at the protocol level against
this server through the official client. It answers like Elasticsearch 9 (the
``X-Elastic-Product`` header the client verifies, compatible-with=9 JSON) for:
``GET /``, ``HEAD/GET/PUT/DELETE /<index>``, ``GET /_alias/<name>``, ``POST /_aliases``,
``POST /_bulk`` and ``/<index>/_bulk``, ``GET|POST /<index>/_count``,
``GET /<index>/_doc/<id>`` and ``POST /<index>/_refresh``; the semantics live in
:mod:`tests.fakes.es_engine`. Tests inject faults: :meth:`EsServer.fail_next` (whole requests
answered with 429/5xx), :meth:`EsServer.fail_bulk_items` (per-item bulk failures),
:meth:`EsServer.disconnect_next` (connection dropped); :attr:`EsServer.requests` logs
every request with its bulk actions.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.es_engine import Engine, EsError

ERROR_TYPES = {
    429: "es_rejected_execution_exception",
    500: "exception",
    502: "bad_gateway",
    503: "unavailable_shards_exception",
    504: "gateway_timeout",
    400: "document_parsing_exception",
}
CONTENT_TYPE = "application/vnd.elasticsearch+json;compatible-with=9"


@dataclass
class Request:
    method: str
    path: str
    query: dict
    status: int = 0
    size: int = 0  # body bytes
    actions: list[tuple[str, str, str]] = field(default_factory=list)  # (op, index, id)


@dataclass
class _Fault:
    status: int
    times: int | None
    path: str | None = None
    method: str | None = None
    error_type: str | None = None
    disconnect: bool = False


class EsServer:
    """Start with ``EsServer().start()`` (random port on 127.0.0.1); ``url`` to connect."""

    def __init__(self, *, authorization: str | None = None):
        self.engine = Engine()
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.authorization = authorization  # expected Authorization header, if any
        self._faults: list[_Fault] = []
        self._item_faults: dict[str, _Fault] = {}
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> EsServer:
        server = self

        class Handler(_Handler):
            es = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- fault injection ------------------------------------------------------------------
    def fail_next(
        self,
        status: int = 429,
        times: int = 1,
        *,
        path: str | None = "_bulk",
        method: str | None = None,
        error_type: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path contains ``path`` with ``status``."""
        with self.lock:
            self._faults.append(_Fault(status, times, path, method, error_type))

    def disconnect_next(self, times: int = 1, *, path: str | None = "_bulk") -> None:
        """Close the connection without an answer for the next ``times`` matching requests."""
        with self.lock:
            self._faults.append(_Fault(0, times, path, disconnect=True))

    def fail_bulk_items(
        self, ids, status: int = 429, times: int | None = 1, *, error_type: str | None = None
    ) -> None:
        """Fail bulk items with these ``_id``s ``times`` times each (None: until cleared)."""
        with self.lock:
            for doc_id in ids:
                self._item_faults[str(doc_id)] = _Fault(status, times, error_type=error_type)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._item_faults.clear()

    def _take(self, fault: _Fault) -> None:
        if fault.times is not None:
            fault.times -= 1

    def request_fault(self, method: str, path: str) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if (
                    (fault.times is None or fault.times > 0)
                    and (fault.path is None or fault.path in path)
                    and (fault.method is None or fault.method == method)
                ):
                    self._take(fault)
                    return fault
        return None

    def item_fault(self, doc_id: str) -> _Fault | None:
        fault = self._item_faults.get(doc_id)
        if fault and (fault.times is None or fault.times > 0):
            self._take(fault)
            return fault
        return None

    # -- inspection -----------------------------------------------------------------------
    def docs(self, target: str) -> dict[str, dict]:
        """Real-time sources by id in ``target`` (index, alias or pattern)."""
        with self.lock:
            return {
                i: json.loads(json.dumps(d["source"]))
                for name in self.engine.resolve(target)
                for i, d in self.engine.docs[name].items()
            }

    def alias(self, name: str) -> set[str]:
        with self.lock:
            return set(self.engine.aliases.get(name, set()))

    def bulk_actions(self, op: str | None = None) -> list[tuple[str, str, str]]:
        with self.lock:
            return [a for r in self.requests for a in r.actions if op in (None, a[0])]

    def remove_doc(self, index: str, doc_id: str) -> None:
        """Delete a document behind the platform's back (and make it invisible)."""
        with self.lock:
            for name in self.engine.resolve(index):
                self.engine.docs[name].pop(doc_id, None)
                self.engine.visible[name].pop(doc_id, None)


def _actions(raw: bytes, default_index: str | None) -> list[tuple[str, str, str]]:
    """(op, index, id) of each action of a bulk body."""
    out, lines = [], [json.loads(x) for x in raw.decode().splitlines() if x.strip()]
    pos = 0
    while pos < len(lines):
        ((op, meta),) = lines[pos].items()
        out.append((op, meta.get("_index") or default_index, str(meta.get("_id"))))
        pos += 1 if op == "delete" else 2
    return out


def _fault_body(fault: _Fault) -> dict:
    kind = fault.error_type or ERROR_TYPES.get(fault.status, "exception")
    return EsError(fault.status, kind, f"injected {fault.status} ({kind})").body()


class _Handler(BaseHTTPRequestHandler):
    es: EsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: dict | None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = Request(self.command, path, query, size=len(raw))
        if path.endswith("/_bulk"):
            segs = [s for s in path.split("/") if s]
            record.actions = _actions(raw, segs[0] if len(segs) == 2 else None)
        with self.es.lock:
            self.es.requests.append(record)
        fault = self.es.request_fault(self.command, path)
        if fault and fault.disconnect:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        accept = self.headers.get("Accept", "")
        if "compatible-with" in accept and not re.search(r"compatible-with=(8|9)\b", accept):
            status, body = (
                400,
                EsError(
                    400,
                    "media_type_header_exception",
                    f"Invalid media-type value on headers [{accept}]",
                ).body(),
            )
        elif self.es.authorization and self.headers.get("Authorization") != self.es.authorization:
            status, body = (
                401,
                EsError(
                    401, "security_exception", "unable to authenticate with provided credentials"
                ).body(),
            )
        elif fault:
            status, body = fault.status, _fault_body(fault)
        else:
            try:
                with self.es.lock:
                    status, body = self._route(path, query, raw)
            except EsError as exc:
                status, body = exc.status, exc.body()
        record.status = status
        self._send(status, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    def _route(self, path: str, query: dict, raw: bytes) -> tuple[int, dict]:
        engine, m = self.es.engine, self.command
        segs = [s for s in path.split("/") if s]
        body = json.loads(raw) if raw and not path.endswith("_bulk") else {}
        if not segs:
            return 200, {
                "name": "es-test",
                "cluster_name": "test",
                "version": {
                    "number": "9.1.0",
                    "build_flavor": "default",
                    "minimum_wire_compatibility_version": "8.19.0",
                },
                "tagline": "You Know, for Search",
            }
        if segs[0] == "_alias" and m == "GET":
            found = {
                i: {
                    "aliases": {
                        a: {}
                        for a in engine.aliases
                        if i in engine.aliases[a]
                        and (len(segs) == 1 or re.fullmatch(segs[1].replace("*", ".*"), a))
                    }
                }
                for i in engine.indexes
            }
            found = {i: v for i, v in found.items() if v["aliases"]}
            if not found and len(segs) > 1:
                return 404, {"error": f"alias [{segs[1]}] missing", "status": 404}
            return 200, found
        if segs == ["_aliases"] and m in ("POST", "PUT"):
            engine.update_aliases(body.get("actions") or [])
            return 200, {"acknowledged": True, "errors": False}
        if segs[-1] == "_bulk" and m in ("POST", "PUT"):
            return 200, self._bulk(raw, segs[0] if len(segs) == 2 else None, query)
        if segs[-1] == "_count" and m in ("GET", "POST"):
            target = segs[0] if len(segs) == 2 else "_all"
            return 200, {
                "count": engine.count(target, body.get("query")),
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            }
        if segs[-1] == "_refresh" and m in ("GET", "POST"):
            engine.refresh(engine.resolve(segs[0] if len(segs) == 2 else "_all"))
            return 200, {"_shards": {"total": 2, "successful": 1, "failed": 0}}
        if len(segs) == 3 and segs[1] == "_doc" and m in ("GET", "HEAD"):
            names = engine.resolve(segs[0])
            doc = engine.docs[names[0]].get(segs[2]) if len(names) == 1 else None
            if doc is None:
                return 404, {
                    "_index": names[0] if names else segs[0],
                    "_id": segs[2],
                    "found": False,
                }
            return 200, {
                "_index": names[0],
                "_id": segs[2],
                "_version": doc["version"],
                "_seq_no": 0,
                "_primary_term": 1,
                "found": True,
                "_source": doc["source"],
            }
        if len(segs) == 1 and not segs[0].startswith("_"):
            return self._index(segs[0], body)
        raise EsError(
            400, "illegal_argument_exception", f"no handler found for uri [{path}] and method [{m}]"
        )

    def _index(self, name: str, body: dict) -> tuple[int, dict | None]:
        engine, m = self.es.engine, self.command
        if m == "HEAD":
            return (200 if engine.resolve(name, must_exist=False) else 404), None
        if m == "PUT":
            engine.create_index(name, body)
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if m == "DELETE":
            engine.delete_index(name)
            return 200, {"acknowledged": True}
        return 200, {
            i: {"aliases": engine.aliases_of(i), **engine.indexes[i]} for i in engine.resolve(name)
        }

    def _bulk(self, raw: bytes, default_index: str | None, query: dict) -> dict:
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        items, touched = [], set()
        pos = 0
        while pos < len(lines):
            ((op, meta),) = lines[pos].items()
            body = lines[pos + 1] if op != "delete" else None
            pos += 1 if op == "delete" else 2
            doc_id = str(meta.get("_id"))
            fault = self.es.item_fault(doc_id)
            try:
                if fault:
                    kind = fault.error_type or ERROR_TYPES.get(fault.status, "exception")
                    raise EsError(fault.status, kind, f"injected {fault.status} ({kind})")
                res = self.es.engine.bulk_item(op, meta, body, default_index)
                touched.add(res["_index"])
            except EsError as exc:
                res = {
                    "_index": meta.get("_index") or default_index,
                    "_id": doc_id,
                    "status": exc.status,
                    "error": exc.body()["error"]["root_cause"][0],
                }
            items.append({op: res})
        if query.get("refresh") in ("", "true", "wait_for"):
            self.es.engine.refresh(sorted(touched))
        return {
            "errors": any("error" in next(iter(i.values())) for i in items),
            "took": 1,
            "items": items,
        }
