"""Who may manage a municipality: its own admins, and platform admins every one."""

from __future__ import annotations

from identity.tenants.errors import TenantNotFound
from servicekit.auth import Principal


def ensure_manages_tenant(principal: Principal, tenant_ags: str) -> None:
    """A tenant admin manages their own municipality, a platform admin every one.

    Anyone else gets the answer an unknown municipality gets: nothing is revealed.
    """
    if principal.has_role("platform_admin"):
        return
    if principal.has_role("admin") and principal.tenant == tenant_ags:
        return
    raise TenantNotFound(f"No municipality with AGS {tenant_ags} is served here.")
