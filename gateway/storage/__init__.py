"""Storage: SQLAlchemy Core tables and the SQL store, one schema for SQLite and PostgreSQL."""
