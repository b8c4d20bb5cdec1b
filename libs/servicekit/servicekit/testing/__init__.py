"""Test support for every service: real databases, per-test rollback, live servers.

Enable with ``pytest_plugins = ["servicekit.testing.plugin"]`` (the repository's root conftest
does). A service's conftest then only says what it is, as a session fixture
``service_under_test`` returning a :class:`ServiceUnderTest`; the plugin provides ``app``,
``client``, ``session`` (SQLite and PostgreSQL, every test rolled back) and ``live_service``
(a real uvicorn server on a fresh database, for tests that need real parallelism).
"""

from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.service import ServiceUnderTest

__all__ = ["LiveServer", "ServiceUnderTest", "run_live_server"]
