"""Logging for every casegraph process: JSON lines in production, readable text in development.

LOG_FORMAT=json|text chooses (default: json when CASEGRAPH_ENV=production),
LOG_LEVEL the threshold. uvicorn's own loggers go through the same handler;
its access log is off, because server.request_log writes a richer line per
request. The same dictionary configures uvicorn's worker processes.
"""

from __future__ import annotations

import logging.config
from typing import Any, Literal

__all__ = ["configure_logging", "logging_config"]

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(log_format: Literal["json", "text"], level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary (also handed to uvicorn as `log_config`)."""
    if log_format == "json":
        formatter: dict[str, Any] = {
            "()": "pythonjsonlogger.orjson.OrjsonFormatter",
            "fmt": ["asctime", "levelname", "name", "message"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    else:
        formatter = {"format": _TEXT}
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"casegraph": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "casegraph",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure_logging(log_format: Literal["json", "text"], level: str = "INFO") -> None:
    """Configure this process's logging (the CLI does this before anything logs)."""
    logging.config.dictConfig(logging_config(log_format, level))
