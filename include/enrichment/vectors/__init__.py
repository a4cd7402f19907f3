"""Vector stores: pgvector index versions (system of record), queries, the Pinecone sink."""
