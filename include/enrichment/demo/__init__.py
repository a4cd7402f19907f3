"""The demo shop: a procedurally generated catalogue, its photos, a day of changes, the demo run."""
