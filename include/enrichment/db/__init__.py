"""Database access: the embedded PostgreSQL or an existing server, and schema migrations."""
