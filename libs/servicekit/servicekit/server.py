"""Serving an app under uvicorn: graceful shutdown finishes in-flight requests."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from servicekit.logs import configure_logging, uvicorn_log_config
from servicekit.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=uvicorn_log_config(),
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        server_header=False,
        proxy_headers=False,
    )
    uvicorn.Server(config).run()
