"""Tag stores: PostgreSQL (system of record) and the Elasticsearch sink."""
