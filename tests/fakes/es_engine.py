"""In-memory Elasticsearch semantics for the protocol-level test server (tests/fakes/es_server.py).

Indexes with mappings and aliases, documents with versions, a searchable view that
changes only on refresh (as on a real cluster, ``_count`` does not see unrefreshed
writes while ``GET _doc`` does), strict-mapping validation, bulk item semantics and the
small query subset the platform uses (``match_all``, ``term``, ``terms``, ``exists``,
``bool``). Errors are raised as :class:`EsError` with the status and error type a real
cluster answers with.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from datetime import datetime

INVALID_INDEX = re.compile(r'[\\/*?"<>| ,#:A-Z]')


class EsError(Exception):
    def __init__(self, status: int, kind: str, reason: str):
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason

    def body(self) -> dict:
        cause = {"type": self.kind, "reason": self.reason}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


def _check_value(path: str, value, spec: dict) -> None:
    kind = spec.get("type", "object")
    if value is None:
        return
    if isinstance(value, list) and kind != "nested":
        for v in value:
            _check_value(path, v, spec)
        return
    bad = False
    if kind in ("keyword", "text"):
        bad = isinstance(value, dict)
    elif kind in ("float", "double", "scaled_float", "integer", "long"):
        bad = isinstance(value, bool) or not isinstance(value, int | float)
        if isinstance(value, str):
            try:
                float(value)
                bad = False
            except ValueError:
                bad = True
    elif kind == "boolean":
        bad = not (isinstance(value, bool) or value in ("true", "false"))
    elif kind == "date":
        try:
            if not isinstance(value, int):
                datetime.fromisoformat(str(value))
        except ValueError:
            bad = True
    if bad:
        raise EsError(
            400,
            "document_parsing_exception",
            f"[1:1] failed to parse field [{path}] of type [{kind}]",
        )


def validate(source: dict, mappings: dict, path: str = "") -> None:
    """Raise like a real cluster when ``source`` breaks a strict mapping or a field type."""
    props = mappings.get("properties") or {}
    strict = mappings.get("dynamic") in ("strict", "false_strict")
    for key, value in source.items():
        full = f"{path}{key}"
        spec = props.get(key)
        if spec is None:
            if strict:
                raise EsError(
                    400,
                    "strict_dynamic_mapping_exception",
                    f"[1:1] mapping set to strict, dynamic introduction of [{key}] "
                    f"within [{path.rstrip('.') or '_doc'}] is not allowed",
                )
            continue
        if spec.get("type") == "nested" or "properties" in spec:
            inner = {"dynamic": spec.get("dynamic", mappings.get("dynamic")), **spec}
            for item in value if isinstance(value, list) else [value]:
                if item is not None and not isinstance(item, dict):
                    raise EsError(
                        400,
                        "document_parsing_exception",
                        f"[1:1] object mapping for [{full}] tried to parse field "
                        "as object, but found a concrete value",
                    )
                if item:
                    validate(item, inner, f"{full}.")
        else:
            _check_value(full, value, spec)


def _values(source: dict, field: str) -> list:
    cur = [source]
    for part in field.split("."):
        nxt = []
        for c in cur:
            v = c.get(part) if isinstance(c, dict) else None
            nxt += v if isinstance(v, list) else [v]
        cur = nxt
    return [v for v in cur if v is not None]


def _norm(v):
    return {"true": True, "false": False}.get(v, v) if isinstance(v, str) else v


def matches(source: dict, query: dict | None) -> bool:
    """The query subset the platform uses, over one document's source."""
    if not query:
        return True
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind in ("term", "terms"):
        ((field, want),) = ((k, v) for k, v in spec.items() if k != "boost")
        if kind == "term":
            want = [want["value"] if isinstance(want, dict) else want]
        return any(_norm(v) in [_norm(w) for w in want] for v in _values(source, field))
    if kind == "exists":
        return bool(_values(source, spec["field"]))
    if kind == "bool":

        def as_list(x):
            return x if isinstance(x, list) else [x] if x else []

        must = as_list(spec.get("must")) + as_list(spec.get("filter"))
        should = as_list(spec.get("should"))
        minimum = spec.get("minimum_should_match", 0 if must else 1 if should else 0)
        return (
            all(matches(source, q) for q in must)
            and not any(matches(source, q) for q in as_list(spec.get("must_not")))
            and sum(matches(source, q) for q in should) >= int(minimum)
        )
    raise EsError(400, "parsing_exception", f"unknown query [{kind}]")


def _merge(base: dict, doc: dict) -> dict:
    out = dict(base)
    for k, v in doc.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Engine:
    """Cluster state: indexes, aliases, documents and their refreshed view."""

    def __init__(self):
        self.indexes: dict[str, dict] = {}  # name -> {"mappings", "settings"}
        self.aliases: dict[str, set[str]] = {}
        self.docs: dict[str, dict[str, dict]] = {}  # index -> id -> {"source", "version"}
        self.visible: dict[str, dict[str, dict]] = {}  # as of the last refresh
        self.auto_created: list[str] = []
        self.seq = 0

    # -- names ----------------------------------------------------------------------------
    def resolve(self, expr: str, *, must_exist: bool = True) -> list[str]:
        out: list[str] = []
        for part in expr.split(","):
            if part in ("_all", "*"):
                out += sorted(self.indexes)
            elif "*" in part:
                out += [n for n in sorted(self.indexes) if fnmatch.fnmatchcase(n, part)]
                for alias in sorted(self.aliases):
                    if fnmatch.fnmatchcase(alias, part):
                        out += sorted(self.aliases[alias])
            elif part in self.aliases:
                out += sorted(self.aliases[part])
            elif part in self.indexes:
                out.append(part)
            elif must_exist:
                raise EsError(404, "index_not_found_exception", f"no such index [{part}]")
        return list(dict.fromkeys(out))

    def write_index(self, name: str, op: str) -> str:
        if name in self.aliases:
            targets = self.aliases[name]
            if len(targets) != 1:
                raise EsError(
                    400,
                    "illegal_argument_exception",
                    f"no write index is defined for alias [{name}]",
                )
            return next(iter(targets))
        if name not in self.indexes:
            if op in ("update", "delete"):
                raise EsError(404, "index_not_found_exception", f"no such index [{name}]")
            self.create_index(name, {})
            self.auto_created.append(name)
        return name

    def aliases_of(self, index: str) -> dict:
        return {a: {} for a, targets in sorted(self.aliases.items()) if index in targets}

    # -- indexes --------------------------------------------------------------------------
    def create_index(self, name: str, body: dict) -> None:
        if INVALID_INDEX.search(name) or name[:1] in "-_+" or name in (".", ".."):
            raise EsError(
                400,
                "invalid_index_name_exception",
                f"Invalid index name [{name}], must be lowercase",
            )
        if name in self.indexes:
            raise EsError(
                400, "resource_already_exists_exception", f"index [{name}/xyz] already exists"
            )
        if name in self.aliases:
            raise EsError(
                400,
                "invalid_index_name_exception",
                f"Invalid index name [{name}], already exists as alias",
            )
        self.indexes[name] = {
            "mappings": copy.deepcopy(body.get("mappings") or {}),
            "settings": copy.deepcopy(body.get("settings") or {}),
        }
        self.docs[name], self.visible[name] = {}, {}
        for alias in body.get("aliases") or {}:
            self.aliases.setdefault(alias, set()).add(name)

    def delete_index(self, name: str) -> None:
        if name in self.aliases:
            raise EsError(
                400,
                "illegal_argument_exception",
                f"The provided expression [{name}] matches an alias, specify the "
                "corresponding concrete indices instead.",
            )
        if "*" in name or name == "_all":
            raise EsError(
                400,
                "illegal_argument_exception",
                "Wildcard expressions or all indices are not allowed",
            )
        if name not in self.indexes:
            raise EsError(404, "index_not_found_exception", f"no such index [{name}]")
        del self.indexes[name], self.docs[name], self.visible[name]
        for targets in self.aliases.values():
            targets.discard(name)
        self.aliases = {a: t for a, t in self.aliases.items() if t}

    def update_aliases(self, actions: list[dict]) -> None:
        """All actions or none (the ``_aliases`` API is atomic)."""
        aliases = {a: set(t) for a, t in self.aliases.items()}
        for action in actions:
            ((op, spec),) = action.items()
            names = spec.get("indices") or [spec["index"]]
            indexes = [i for n in names for i in self.resolve(n)]
            if op == "add":
                if spec["alias"] in self.indexes:
                    raise EsError(
                        400,
                        "invalid_alias_name_exception",
                        f"Invalid alias name [{spec['alias']}]: an index or data "
                        "stream exists with the same name as the alias",
                    )
                aliases.setdefault(spec["alias"], set()).update(indexes)
            elif op == "remove":
                held = aliases.get(spec["alias"], set())
                if not held & set(indexes) and spec.get("must_exist", True):
                    raise EsError(
                        404, "aliases_not_found_exception", f"aliases [{spec['alias']}] missing"
                    )
                held.difference_update(indexes)
            else:
                raise EsError(400, "illegal_argument_exception", f"unsupported action [{op}]")
        self.aliases = {a: t for a, t in aliases.items() if t}

    def refresh(self, indexes: list[str]) -> None:
        for name in indexes:
            self.visible[name] = {i: d["source"] for i, d in self.docs[name].items()}

    # -- documents ------------------------------------------------------------------------
    def _result(self, index: str, doc_id: str, result: str, status: int, version: int) -> dict:
        self.seq += 1
        return {
            "_index": index,
            "_id": doc_id,
            "_version": version,
            "result": result,
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": self.seq,
            "_primary_term": 1,
            "status": status,
        }

    def bulk_item(self, op: str, meta: dict, body: dict | None, default_index: str | None) -> dict:
        index = self.write_index(meta.get("_index") or default_index, op)
        doc_id = str(meta["_id"])
        docs = self.docs[index]
        old = docs.get(doc_id)
        if op in ("index", "create"):
            if op == "create" and old:
                raise EsError(
                    409,
                    "version_conflict_engine_exception",
                    f"[{doc_id}]: version conflict, document already exists",
                )
            validate(body, self.indexes[index]["mappings"])
            version = old["version"] + 1 if old else 1
            docs[doc_id] = {"source": copy.deepcopy(body), "version": version}
            return self._result(
                index, doc_id, "updated" if old else "created", 200 if old else 201, version
            )
        if op == "update":
            if old is None:
                if not body.get("doc_as_upsert"):
                    raise EsError(
                        404, "document_missing_exception", f"[{doc_id}]: document missing"
                    )
                old = {"source": {}, "version": 0}
            merged = _merge(old["source"], body.get("doc") or {})
            if merged == old["source"]:
                return self._result(index, doc_id, "noop", 200, old["version"])
            validate(merged, self.indexes[index]["mappings"])
            docs[doc_id] = {"source": merged, "version": old["version"] + 1}
            return self._result(index, doc_id, "updated", 200, old["version"] + 1)
        if op == "delete":
            if old is None:
                return self._result(index, doc_id, "not_found", 404, 1)
            del docs[doc_id]
            return self._result(index, doc_id, "deleted", 200, old["version"] + 1)
        raise EsError(400, "illegal_argument_exception", f"Malformed action/metadata [{op}]")

    def count(self, expr: str, query: dict | None) -> int:
        return sum(
            matches(src, query)
            for name in self.resolve(expr)
            for src in self.visible[name].values()
        )
