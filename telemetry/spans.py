"""Span helpers for casegraph's own units of work (planning, execution, fan-out, outbox).

Tracing is off unless the server configured a tracer provider (server.tracing,
from the standard OTEL_* variables): until then every helper is a no-op costing
one attribute check, so they may sit on hot paths.

    with span("graphql.plan", operation=name):
        ...

    @traced("outbox.commit")
    async def commit(self) -> None: ...
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["current_span", "enabled", "span", "traced", "use_tracer_provider"]

P = ParamSpec("P")
R = TypeVar("R")

_TRACER_NAME = "casegraph"


class _State:
    tracer: Tracer | None = None


_state = _State()


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Send spans to `provider` from now on (None: tracing off). Called by the server at start and stop."""
    _state.tracer = None if provider is None else provider.get_tracer(_TRACER_NAME)


def enabled() -> bool:
    return _state.tracer is not None


@contextlib.contextmanager
def _no_span() -> Iterator[None]:
    yield None


@contextlib.contextmanager
def _span(tracer: Tracer, name: str, attributes: dict[str, Any]) -> Iterator[Span]:
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def span(name: str, **attributes: str | int | float | bool) -> contextlib.AbstractContextManager[Span | None]:
    """A span around a block (child of the current span); yields None when tracing is off."""
    tracer = _state.tracer
    if tracer is None:
        return _no_span()
    return _span(tracer, name, attributes)


def current_span() -> Span | None:
    """The active span to add attributes to, or None when tracing is off."""
    return trace.get_current_span() if _state.tracer is not None else None


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function or coroutine function so each call runs in a span called `name`."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                tracer = _state.tracer
                if tracer is None:
                    return await function(*args, **kwargs)
                with tracer.start_as_current_span(name):
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            tracer = _state.tracer
            if tracer is None:
                return function(*args, **kwargs)
            with tracer.start_as_current_span(name):
                return function(*args, **kwargs)

        return run

    return decorate
