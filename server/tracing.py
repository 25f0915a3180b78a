"""OpenTelemetry traces: off unless the standard OTEL_* variables configure an exporter.

Configured (OTEL_TRACES_EXPORTER, or an OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT),
every request gets a server span (opentelemetry-instrumentation-asgi), every
SQL statement a client span (-asyncpg), and casegraph's own work the spans of
telemetry.spans: GraphQL parse/validate/execute, event fan-out, outbox commits,
SLA engine drains. Service name, resource attributes and sampler come from
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER as usual.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from telemetry import spans

__all__ = ["TracingConfigError", "instrumented", "tracer_provider_from_env"]

DEFAULT_SERVICE_NAME = "casegraph"


class TracingConfigError(ValueError):
    """The OTEL_* variables ask for something this server cannot do."""


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    names = [n.strip() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names and (
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        names = ["otlp"]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "none":
            return []
        if name == "otlp":
            protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
            )
            if protocol != "http/protobuf":
                raise TracingConfigError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf is supported"
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        else:
            raise TracingConfigError(f"OTEL_TRACES_EXPORTER={name}: expected otlp, console or none")
    return exporters


def tracer_provider_from_env(environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """A TracerProvider exporting where the OTEL_* variables say; None when they configure no exporter."""
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = _exporters(environ)
    if not exporters:
        return None
    resource = Resource.create(
        {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": DEFAULT_SERVICE_NAME}
    )
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


@contextlib.contextmanager
def instrumented(provider: TracerProvider | None) -> Iterator[None]:
    """While the app runs: asyncpg statements and casegraph's own spans go to `provider`."""
    if provider is None:
        yield
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    spans.use_tracer_provider(provider)
    try:
        yield
    finally:
        spans.use_tracer_provider(None)
        instrumentor.uninstrument()
        provider.force_flush()
