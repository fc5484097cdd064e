"""Test helpers that run outside pytest's process too (load clients, a private PostgreSQL)."""
