"""The production assignment API: FastAPI over an SQL database (SQLite by default,
PostgreSQL for several workers), carrying out the engine's lifecycle effects durably."""
