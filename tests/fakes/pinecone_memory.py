"""The in-memory data plane behind ``tests/fakes/pinecone_server.py``: one Pinecone index.

Each method takes a request's JSON body and query parameters and returns the JSON the
real API answers, or raises :class:`ApiFailure` with its status. Validation follows the
documented rules the vector sink depends on: dimension, metadata types (no nulls),
non-zero vectors under cosine, 1 to 1000 vectors per upsert, 404 for an id or namespace
that does not exist.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass, field


@dataclass
class Record:
    values: list[float]
    metadata: dict = field(default_factory=dict)


class ApiFailure(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class MemoryIndex:
    """Namespaces of one index: ``{namespace: {id: Record}}``."""

    def __init__(self, dim: int):
        self.dim = dim
        self.spaces: dict[str, dict[str, Record]] = {}

    def delete_namespace(self, name: str) -> dict:
        if self.spaces.pop(name, None) is None:
            raise ApiFailure(404, "Namespace not found")
        return {}

    def upsert(self, body: dict, query: dict) -> dict:
        vectors = body.get("vectors") or []
        if not 1 <= len(vectors) <= 1000:
            raise ApiFailure(400, "upsert takes 1 to 1000 vectors")
        for v in vectors:
            values = v.get("values") or []
            if len(values) != self.dim:
                raise ApiFailure(
                    400,
                    f"Vector dimension {len(values)} does not match the "
                    f"dimension of the index {self.dim}",
                )
            if not any(values):
                raise ApiFailure(400, "Dense vectors must contain at least one non-zero value")
            _check_metadata(v.get("metadata") or {})
        space = self.spaces.setdefault(body.get("namespace") or "__default__", {})
        for v in vectors:
            space[v["id"]] = Record([float(x) for x in v["values"]], dict(v.get("metadata") or {}))
        return {"upsertedCount": len(vectors)}

    def delete(self, body: dict, query: dict) -> dict:
        ns = body.get("namespace") or "__default__"
        if ns not in self.spaces:
            raise ApiFailure(404, "Namespace not found")
        if body.get("deleteAll"):
            self.spaces[ns].clear()
        for vid in body.get("ids") or []:
            self.spaces[ns].pop(vid, None)
        if not self.spaces[ns]:
            del self.spaces[ns]
        return {}

    def update(self, body: dict, query: dict) -> dict:
        record = self.spaces.get(body.get("namespace") or "__default__", {}).get(body.get("id"))
        if record is None:
            raise ApiFailure(404, f"Vector ID {body.get('id')} not found")
        if "setMetadata" in body:
            _check_metadata(body["setMetadata"])
            record.metadata.update(body["setMetadata"])
        if "values" in body:
            record.values = [float(x) for x in body["values"]]
        return {}

    def stats(self, body: dict, query: dict) -> dict:
        counts = {ns: len(v) for ns, v in self.spaces.items() if v}
        return {
            "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items()},
            "dimension": self.dim,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": "cosine",
            "vectorType": "dense",
        }

    def query(self, body: dict, query: dict) -> dict:
        ns = body.get("namespace") or "__default__"
        space = self.spaces.get(ns, {})
        vector = body.get("vector") or (
            space[body["id"]].values if body.get("id") in space else None
        )
        if vector is None:
            return {"matches": [], "namespace": ns, "usage": {"readUnits": 1}}
        scored = [
            (vid, _cosine(vector, r.values), r)
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

    def fetch(self, body: dict, query: dict) -> dict:
        ns = (query.get("namespace") or ["__default__"])[0]
        space = self.spaces.get(ns, {})
        found = {
            vid: {"id": vid, "values": space[vid].values, "metadata": space[vid].metadata}
            for vid in query.get("ids", [])
            if vid in space
        }
        return {"vectors": found, "namespace": ns, "usage": {"readUnits": 1}}

    def list(self, body: dict, query: dict) -> dict:
        ns = (query.get("namespace") or ["__default__"])[0]
        prefix = (query.get("prefix") or [""])[0]
        limit = int((query.get("limit") or ["100"])[0])
        start = int((query.get("paginationToken") or ["0"])[0])
        ids = sorted(vid for vid in self.spaces.get(ns, {}) if vid.startswith(prefix))
        out = {
            "vectors": [{"id": vid} for vid in ids[start : start + limit]],
            "namespace": ns,
            "usage": {"readUnits": 1},
        }
        if start + limit < len(ids):
            out["pagination"] = {"next": str(start + limit)}
        return out


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
