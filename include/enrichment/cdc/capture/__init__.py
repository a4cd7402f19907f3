"""Change capture modes: managed triggers, timestamp cursor, logical replication."""
