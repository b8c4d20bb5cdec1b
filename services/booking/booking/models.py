"""Imports every feature's models so that alembic and the app see all tables."""
