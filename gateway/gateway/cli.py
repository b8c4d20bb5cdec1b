"""``rathaus-gateway serve|openapi``: serve with uvloop and the kit's hardened httptools protocol
(:mod:`servicekit.server`), optionally in N workers."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from gateway.asgi import Gateway
from gateway.main import create_app, create_gateway
from gateway.settings import GatewaySettings
from servicekit.logs import configure_logging, uvicorn_log_config
from servicekit.openapi import to_yaml
from servicekit.server import uvicorn_options


def app_from_environment() -> Gateway:
    """The factory each worker process calls (settings come from GATEWAY_* variables)."""
    settings = GatewaySettings()
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    return create_gateway(settings)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rathaus-gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the gateway (graceful shutdown on SIGTERM/SIGINT)")
    openapi = commands.add_parser("openapi", help="print the merged OpenAPI document as YAML")
    openapi.add_argument("--output", help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    if args.command == "openapi":
        text = to_yaml(create_app(settings).openapi())
        if args.output:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text)
        else:
            print(text, end="")  # noqa: T201 - the command's output
        return
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    options = {
        **uvicorn_options(settings),
        # The gateway reads X-Forwarded-For and Forwarded itself (gateway.exchange).
        "proxy_headers": False,
    }
    uvicorn.run(
        "gateway.cli:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        log_config=uvicorn_log_config(),
        access_log=False,
        backlog=4096,
        **options,
    )
