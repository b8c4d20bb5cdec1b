"""Imports every feature's models so that alembic and the app see all tables."""

from identity.tenants.models import Tenant

__all__ = ["Tenant"]
