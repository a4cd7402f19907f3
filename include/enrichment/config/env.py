"""The only reader of the process environment: typed getters that name the variable.

Every getter treats an unset or blank variable as "use the default". A value that does
not parse, or lies outside the accepted range, raises :class:`ConfigError` naming the
variable and what it accepts.
"""

from __future__ import annotations

import os
from pathlib import Path

from enrichment.config.errors import ConfigError

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def raw(name: str) -> str | None:
    """The stripped value of ``name``, or None when unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def environ() -> dict[str, str]:
    """A copy of the whole environment (to build a child process's environment)."""
    return dict(os.environ)


def with_prefix(prefix: str) -> dict[str, str]:
    """Every set variable whose name starts with ``prefix``, sorted by name."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(prefix)}


def range_text(
    low: float | None = None, high: float | None = None, above: float | None = None
) -> str:
    """How a range reads in messages and docs: ``>= 1``, ``> 0``, ``1..1000``."""
    if above is not None:
        return f"> {above:g}" + (f" and <= {high:g}" if high is not None else "")
    if low is not None and high is not None:
        return f"{low:g}..{high:g}"
    if low is not None:
        return f">= {low:g}"
    if high is not None:
        return f"<= {high:g}"
    return "any"


def _check(name: str, value: float, text: str, low, high, above, what: str) -> None:
    if (
        (low is not None and value < low)
        or (high is not None and value > high)
        or (above is not None and value <= above)
    ):
        raise ConfigError(f"{name} must be {what} {range_text(low, high, above)}, got {text!r}")


def text(name: str, default: str | None = None) -> str | None:
    """A string (stripped)."""
    value = raw(name)
    return default if value is None else value


def integer(
    name: str, default: int | None, *, low: int | None = None, high: int | None = None
) -> int | None:
    """A whole number within ``low..high`` (either bound optional)."""
    value = raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be an integer {range_text(low, high)}, got {value!r}"
        ) from exc
    _check(name, number, value, low, high, None, "an integer")
    return number


def number(
    name: str,
    default: float | None,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
) -> float | None:
    """A real number within the bounds (``above``: strictly greater than)."""
    value = raw(name)
    if value is None:
        return default
    try:
        result = float(value)
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be a number {range_text(low, high, above)}, got {value!r}"
        ) from exc
    if result != result:  # NaN passes every comparison
        raise ConfigError(f"{name} must be a number, got {value!r}")
    _check(name, result, value, low, high, above, "a number")
    return result


def flag(name: str, default: bool) -> bool:
    """true/false (also 1/0, yes/no, on/off)."""
    value = raw(name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def names(name: str, default: tuple[str, ...] | None = (), *, lower: bool = False):
    """A comma-separated list (blank items dropped; lower-cased when ``lower``)."""
    value = raw(name)
    if value is None:
        return default
    items = (item.strip() for item in value.split(","))
    return tuple(item.lower() if lower else item for item in items if item)


def path(name: str, default: Path | None = None) -> Path | None:
    """A file or folder path (not resolved, not checked for existence)."""
    value = raw(name)
    return default if value is None else Path(value)
