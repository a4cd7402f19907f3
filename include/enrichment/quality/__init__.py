"""Data quality: checks planned per run, judged by Great Expectations, recorded and reported."""
