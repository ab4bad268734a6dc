"""rlslint: a static linter for PostgreSQL/Supabase migrations."""

__version__ = "0.1.0"
