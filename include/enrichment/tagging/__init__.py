"""Tagging: the attribute taxonomy, the signals, their fusion into tags."""
