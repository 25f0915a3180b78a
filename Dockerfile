# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY server server
COPY schema schema
COPY resolvers resolvers
COPY db db
COPY auth auth
COPY domain domain
COPY telemetry telemetry
RUN python -m venv /opt/casegraph \
 && /opt/casegraph/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/casegraph/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock \
 && /opt/casegraph/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim AS runtime
RUN groupadd --system casegraph && useradd --system --gid casegraph --home-dir /app casegraph \
 && mkdir -p /app && chown casegraph:casegraph /app
COPY --from=build /opt/casegraph /opt/casegraph
ENV PATH=/opt/casegraph/bin:$PATH \
    CASEGRAPH_ENV=production \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER casegraph
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
ENTRYPOINT ["casegraph"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
