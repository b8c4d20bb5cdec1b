"""The thin kit every Rathaus service stands on.

Map of the kit (each module owns one concern and knows no domain):

- ``settings``   ServiceSettings, the base of every service's pydantic-settings class
- ``app``        create_service_app(): problems, request ids, logs, health, metrics wired in
- ``problems``   Problem and its subclasses, rendered as RFC 9457 application/problem+json
- ``requestid``  X-Request-ID middleware and the context variable every log line reads
- ``logs``       JSON logging and the access log (route templates only: no personal data)
- ``health``     /livez and /readyz
- ``metrics``    Prometheus /metrics per route template
- ``db``         async SQLAlchemy engine and the request-scoped session (commit once or roll back)
- ``migrations`` running a service's alembic history programmatically
- ``events``     events between services: outbox, dispatcher, receiver, their contract
- ``delivery``   rows delivered until taken: claims, pauses, the record of attempts
- ``openapi``    the contract a service publishes (problem responses, stable YAML)
- ``server``     running an app under uvicorn with graceful shutdown
- ``testing``    pytest fixtures: SQLite and PostgreSQL databases, per-test rollback, live servers
"""
