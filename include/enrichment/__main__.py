"""``python -m enrichment``: the command-line entry point."""

from enrichment.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
