"""Image intake: fetch and decode product photos safely, quarantine the bad ones."""
