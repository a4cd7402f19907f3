"""The ``python -m enrichment`` command line: one module per group of commands."""
