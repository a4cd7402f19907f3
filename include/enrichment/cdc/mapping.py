"""Load and validate a source mapping file (YAML); errors name the file, line and key.

``{schema}`` in any SQL of the file stands for ``ENRICHMENT_SOURCE_SCHEMA`` so one
mapping serves several schemas (the demo, tests). See docs/source-mapping.md.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import yaml

from enrichment.cdc.mapping_types import GRAINS, BaseTable, MappingError, SourceMapping

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")  # IANA names
_POSIX_OFFSET = re.compile(r"^(UTC|GMT)(?P<sign>[+-])(?P<hours>\d+)$", re.IGNORECASE)
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$")
_SELECT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_TOP_KEYS = {"name", "key", "grain", "document", "tables"}
_TABLE_KEYS = {"name", "keys", "cursor", "cursor_zone"}


def demo_mapping_path() -> Path:
    """The mapping shipped for the demo catalogue."""
    return Path(str(resources.files("enrichment.cdc.mappings") / "demo.yaml"))


def _where(source: str, node: yaml.Node, key: str) -> str:
    return f"{source}, line {node.start_mark.line + 1}, {key}"


def _mapping_node(node: yaml.Node, source: str, what: str) -> dict[str, tuple]:
    """A YAML mapping node as ``{key: (key_node, value_node)}``; rejects anything else."""
    if not isinstance(node, yaml.MappingNode):
        raise MappingError(f"{_where(source, node, what)}: expected a mapping of keys")
    out: dict[str, tuple] = {}
    for knode, vnode in node.value:
        if knode.value in out:
            raise MappingError(f"{_where(source, knode, knode.value)}: duplicate key")
        out[knode.value] = (knode, vnode)
    return out


def _scalar(entry: tuple, source: str, key: str, *, pattern: re.Pattern | None = None) -> str:
    knode, vnode = entry
    if not isinstance(vnode, yaml.ScalarNode) or not str(vnode.value).strip():
        raise MappingError(f"{_where(source, knode, key)}: expected a non-empty text value")
    value = str(vnode.value).strip()
    if pattern is not None and not pattern.match(value):
        raise MappingError(f"{_where(source, vnode, key)}: invalid value {value!r}")
    return value


def _check_keys(nodes: dict, allowed: set, required: set, source: str, where: yaml.Node, what):
    for key, (knode, _) in nodes.items():
        if key not in allowed:
            raise MappingError(
                f"{_where(source, knode, key)}: unknown key (allowed: {', '.join(sorted(allowed))})"
            )
    for key in sorted(required - nodes.keys()):
        raise MappingError(f"{_where(source, where, what)}: missing required key {key!r}")


def _sql(entry: tuple, source: str, key: str, schema: str) -> str:
    value = _scalar(entry, source, key).replace("{schema}", schema)
    if not _SELECT.match(value):
        raise MappingError(f"{_where(source, entry[1], key)}: must be a SELECT (or WITH) query")
    if ";" in value.rstrip().rstrip(";"):
        raise MappingError(f"{_where(source, entry[1], key)}: must be one statement")
    return value.rstrip().rstrip(";")


def _cursor(entry: tuple | None, source: str) -> tuple[str, ...]:
    if entry is None:
        return ()
    knode, vnode = entry
    items = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
    cols = []
    for item in items:
        if not isinstance(item, yaml.ScalarNode) or not _IDENT.match(str(item.value)):
            raise MappingError(f"{_where(source, item, 'cursor')}: expected column names")
        cols.append(str(item.value))
    return tuple(cols)


def _table(node: yaml.Node, source: str, schema: str) -> BaseTable:
    nodes = _mapping_node(node, source, "tables[]")
    _check_keys(nodes, _TABLE_KEYS, {"name", "keys"}, source, node, "tables[]")
    name = _scalar(nodes["name"], source, "name").replace("{schema}", schema)
    if not _TABLE.match(name):
        raise MappingError(
            f"{_where(source, nodes['name'][1], 'name')}: expected schema.table, got {name!r}"
        )
    keys = _sql(nodes["keys"], source, "keys", schema)
    if "changed." not in keys:
        raise MappingError(
            f"{_where(source, nodes['keys'][1], 'keys')}: must refer to the changed row as "
            "'changed' (e.g. SELECT changed.sku)"
        )
    cursor = _cursor(nodes.get("cursor"), source)
    return BaseTable(name=name, keys=keys, cursor=cursor, cursor_zone=_zone(nodes, cursor, source))


def _zone(nodes: dict, cursor: tuple[str, ...], source: str) -> str:
    """``cursor_zone``: the time zone zone-less cursor columns hold their times in."""
    if "cursor_zone" not in nodes:
        return "UTC"
    zone = _scalar(nodes["cursor_zone"], source, "cursor_zone")
    where = _where(source, nodes["cursor_zone"][1], "cursor_zone")
    if not cursor:
        raise MappingError(f"{where}: only meaningful with cursor columns")
    if not _ZONE.match(zone):
        raise MappingError(f"{where}: expected a time zone name such as Europe/Berlin or UTC")
    offset = _POSIX_OFFSET.match(zone)
    if offset:  # PostgreSQL reads UTC+3 the POSIX way: three hours WEST of Greenwich
        east = {"+": "-", "-": "+"}[offset["sign"]]
        raise MappingError(
            f"{where}: {zone!r} would mean UTC{east}{offset['hours']} to PostgreSQL (POSIX "
            f"signs); write Etc/GMT{east}{offset['hours']} or the place's zone name"
        )
    return zone


def parse_mapping(text: str, source: str = "<mapping>", schema: str = "catalog") -> SourceMapping:
    """Parse and validate mapping YAML ``text``; ``source`` names it in errors."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not valid YAML: {exc}") from exc
    if root is None:
        raise MappingError(f"{source}: empty mapping file")
    nodes = _mapping_node(root, source, "top level")
    _check_keys(nodes, _TOP_KEYS, {"name", "document", "tables"}, source, root, "top level")
    key = _scalar(nodes["key"], source, "key", pattern=_IDENT) if "key" in nodes else "sku"
    grain = _scalar(nodes["grain"], source, "grain") if "grain" in nodes else "variant"
    if grain not in GRAINS:
        raise MappingError(
            f"{_where(source, nodes['grain'][1], 'grain')}: must be one of {', '.join(GRAINS)}"
        )
    knode, tnode = nodes["tables"]
    if not isinstance(tnode, yaml.SequenceNode) or not tnode.value:
        raise MappingError(f"{_where(source, knode, 'tables')}: expected a non-empty list")
    tables = tuple(_table(t, source, schema) for t in tnode.value)
    names = [t.name for t in tables]
    for dup in {n for n in names if names.count(n) > 1}:
        raise MappingError(f"{_where(source, knode, 'tables')}: table {dup!r} listed twice")
    return SourceMapping(
        name=_scalar(nodes["name"], source, "name", pattern=_IDENT),
        document=_sql(nodes["document"], source, "document", schema),
        key=key,
        grain=grain,
        tables=tables,
        source=source,
    )


def load_mapping(path: str | Path | None = None, schema: str = "catalog") -> SourceMapping:
    """Load the mapping at ``path`` (the demo mapping when None)."""
    path = Path(path) if path else demo_mapping_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(
            f"cannot read source mapping {path} ({exc}); check ENRICHMENT_SOURCE_MAPPING"
        ) from exc
    return parse_mapping(text, str(path), schema)
