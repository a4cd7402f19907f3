"""The one error of configuration: its message names the variable to fix."""

from __future__ import annotations


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the variable to fix."""
