"""The relational store (SQLite by default, PostgreSQL through DATABASE_URL).

Never imported from workflow code: only activities, the CLI and the API touch it.
"""
