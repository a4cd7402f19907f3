"""Runs: change sets split into shards, the shard worker, the commit, the status."""
