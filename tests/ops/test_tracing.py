"""Traces: off without OTEL_* configuration; with a provider, one trace per request down to SQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from server.settings import Settings
from server.tracing import TracingConfigError, tracer_provider_from_env
from telemetry import spans
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder, gid

ADD_COMMENT = """
mutation Note($input: AddCommentInput!) {
  addComment(input: $input) { comment { id } userErrors { code } }
}
"""


def test_off_unless_an_exporter_is_configured() -> None:
    assert tracer_provider_from_env({}) is None
    assert tracer_provider_from_env({"OTEL_SERVICE_NAME": "casegraph"}) is None
    assert tracer_provider_from_env({"OTEL_TRACES_EXPORTER": "none"}) is None
    assert tracer_provider_from_env({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}) is None
    console = tracer_provider_from_env({"OTEL_TRACES_EXPORTER": "console"})
    assert isinstance(console, TracerProvider)
    assert console.resource.attributes["service.name"] == "casegraph"
    processor = console._active_span_processor._span_processors[0]
    assert isinstance(processor.span_exporter, ConsoleSpanExporter)  # type: ignore[attr-defined]
    otlp = tracer_provider_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otlp is not None
    with pytest.raises(TracingConfigError, match="http/protobuf"):
        tracer_provider_from_env({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    for provider in (console, otlp):
        provider.shutdown()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_app(settings: Settings, exporter: InMemorySpanExporter) -> AsyncIterator[Starlette]:
    from server.app import create_app

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, tracer_provider=provider)
    async with app.router.lifespan_context(app):
        yield app
    assert not spans.enabled()  # off again once the app stopped


@pytest.fixture
async def traced_client(traced_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


def _named(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


async def test_a_mutation_is_one_trace_down_to_sql(
    traced_app: Starlette,
    traced_client: httpx.AsyncClient,
    exporter: InMemorySpanExporter,
    engine: AsyncEngine,
    tokens: Tokens,
) -> None:
    # Something in the process listens to the event stream (a hub nobody listens to reads no rows).
    traced_app.state.services.event_hub.on_events(lambda rows: None)
    b = Builder(engine)
    await b.staff(email="ana@example.com", role="ADMIN")
    request = await b.request(customer=await b.customer())
    variables = {"input": {"serviceRequestId": gid(request), "body": "Checked.", "visibility": "INTERNAL"}}
    response = await traced_client.post(
        "/graphql",
        json={"query": ADD_COMMENT, "variables": variables},
        headers=bearer(tokens.staff("ana@example.com")),
    )
    assert response.json()["data"]["addComment"]["userErrors"] == []
    finished = exporter.get_finished_spans()
    [server] = [s for s in finished if s.name.startswith("POST /graphql") and s.parent is None]
    trace_id = server.context.trace_id
    for name in (
        "graphql.operation",
        "graphql.parse",
        "graphql.validate",
        "graphql.execute",
        "outbox.commit",
    ):
        [found] = _named(finished, name)
        assert found.context.trace_id == trace_id, name
    [operation] = _named(finished, "graphql.operation")
    assert operation.attributes is not None and operation.attributes["graphql.operation.name"] == "Note"
    sql = [s for s in finished if s.attributes and s.attributes.get("db.system") == "postgresql"]
    assert sql and all(s.context.trace_id == trace_id for s in sql if s.parent is not None)
    [commit] = _named(finished, "outbox.commit")
    assert any(s.parent is not None and s.parent.span_id == commit.context.span_id for s in sql)

    # The committed event is fanned out by the event hub, in a trace of its own.
    for _ in range(100):
        if _named(exporter.get_finished_spans(), "event_hub.fan_out"):
            break
        await asyncio.sleep(0.05)
    assert _named(exporter.get_finished_spans(), "event_hub.fan_out")


async def test_no_spans_without_a_provider(client: httpx.AsyncClient) -> None:
    assert not spans.enabled()
    with spans.span("anything") as current:
        assert current is None
