# One image recipe for every Rathaus service: `docker build --build-arg SERVICE=booking .`
# SERVICE is one of identity, booking, documents, gateway.

FROM python:3.11-slim AS build
ARG SERVICE
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY gateway gateway
COPY contracts contracts
# Only the one service's package and its dependencies, without the dev tools.
RUN uv sync --locked --no-dev --package "${SERVICE}"

FROM python:3.11-slim
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 SERVICE=${SERVICE}
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin rathaus \
    && mkdir -p /app/var/blobs && chown -R rathaus /app/var
WORKDIR /app
COPY --from=build /app /app
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
ENTRYPOINT ["/bin/sh", "-c", "exec rathaus-${SERVICE} \"$@\"", "--"]
CMD ["serve"]
