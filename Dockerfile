# contactfix service image: slim, non-root, with a health check against its database.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contactfix ./contactfix
COPY matchers ./matchers
COPY connectors ./connectors
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres,smpp,api]'

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONTACTFIX_CONFIG_DIR=/app/config
RUN groupadd --system contactfix && useradd --system --gid contactfix --home-dir /app contactfix
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY config ./config
RUN mkdir -p /app/var && chown contactfix:contactfix /app/var
USER contactfix
# The health check asks the database for the schema revision: it fails when the database is unreachable.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["contactfix", "db", "current"]
ENTRYPOINT ["contactfix"]
CMD ["--help"]
