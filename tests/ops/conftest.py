"""The realtime tests' organisation fixture, for the topology test."""

from tests.realtime_api.conftest import org

__all__ = ["org"]
