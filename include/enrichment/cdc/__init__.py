"""Change detection: what changed in the shop's catalogue since the last run."""
