# The gateway as a container: `docker run --env DATABASE_URL=... image` runs
# `gateway run`; any other subcommand replaces CMD (`... image migrate`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric id, so USER is resolvable without /etc/passwd (runAsNonRoot, volumes).
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway

# Install from a throwaway copy so only the installed package is importable.
COPY pyproject.toml README.md /tmp/src/
COPY gateway /tmp/src/gateway
RUN pip install /tmp/src && rm -rf /tmp/src

# The migration runner looks for ./migrations when the package has none beside it.
WORKDIR /app
COPY migrations ./migrations
COPY keywords.yaml ./keywords.yaml

ENV GATEWAY_HTTP_HOST=0.0.0.0 \
    GATEWAY_HTTP_PORT=8080 \
    GATEWAY_KEYWORDS=/app/keywords.yaml

USER 10001:10001
EXPOSE 8080

# slim has no curl; urlopen raises (exit 1) on a 503 or no answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GATEWAY_HTTP_PORT', '8080') + '/healthz', timeout=3)"]

ENTRYPOINT ["gateway"]
CMD ["run"]
