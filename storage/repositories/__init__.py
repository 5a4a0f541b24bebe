"""Queries, one module per aggregate. Portable SQL only: it runs on SQLite and PostgreSQL."""
