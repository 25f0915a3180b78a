"""The strawberry side of the request log and traces: which operation ran, its error codes, its spans.

Any other executor (a planned read that bypasses strawberry) reports the same
facts through telemetry.request_record; this extension is how strawberry does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from telemetry.request_record import note_error_codes, note_operation
from telemetry.spans import current_span, enabled, span

__all__ = ["RecordOperation", "TraceOperation", "error_codes", "operation_extension"]

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"


def error_codes(errors: Sequence[GraphQLError], *, parsed: bool = True) -> list[str]:
    """`extensions.code` of each error; uncoded ones named by what failed (parse, validation, a field)."""
    codes = []
    for error in errors:
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            codes.append(code)
        elif error.path:
            codes.append(INTERNAL)
        else:
            codes.append(VALIDATION_FAILED if parsed else PARSE_FAILED)
    return codes


class RecordOperation(SchemaExtension):
    """Reports the operation's name, type and error codes to the current request record."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        parsed = context.graphql_document is not None
        result = context.result
        errors = list(result.errors or []) if result is not None else []
        # Only a document that parsed and validated has a type the metrics may count.
        valid = parsed and not (result is not None and result.data is None and errors and not errors[0].path)
        note_operation(context.operation_name, context.operation_type.value if valid else None)
        if errors:
            note_error_codes(error_codes(errors, parsed=parsed))


class TraceOperation(RecordOperation):
    """RecordOperation plus spans for parsing, validation and execution (used when tracing is on)."""

    def on_operation(self) -> Iterator[None]:
        with span("graphql.operation"):
            yield from super().on_operation()
            active = current_span()
            if active is not None:
                active.set_attribute("graphql.operation.name", self.execution_context.operation_name or "")

    def on_parse(self) -> Iterator[None]:
        with span("graphql.parse"):
            yield

    def on_validate(self) -> Iterator[None]:
        with span("graphql.validate"):
            yield

    def on_execute(self) -> Iterator[None]:
        with span("graphql.execute"):
            yield


def operation_extension() -> SchemaExtension:
    """The extension for one operation: with spans only while tracing is on (hooks cost per request)."""
    return TraceOperation() if enabled() else RecordOperation()
