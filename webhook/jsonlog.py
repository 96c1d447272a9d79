"""One JSON object per log line, for the webhook process (configured only by ``sealgate serve``)."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from typing import Any

import orjson

__all__ = ["BatchedStreamHandler", "JsonFormatter", "configure_json_logging", "fields"]


def fields(**values: Any) -> dict[str, dict[str, Any]]:
    """``logger.info("msg", extra=fields(uid=..., namespace=...))``: structured fields for the JSON line."""
    return {"fields": values}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "msg", ...fields}``; exceptions as an ``error`` string.

    Structured values travel in one ``fields`` extra (see :func:`fields`), so they can never collide with
    LogRecord's own attributes (``name``, ``msg``, ...).
    """

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = record.__dict__.get("fields")
        if extra:
            doc.update(extra)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes every record but flushes in batches, off the request path.

    One flush (a write syscall) per admission was the largest single cost of a cached answer. Records
    are flushed at least every ``interval`` seconds by a daemon thread, at once for WARNING and above,
    and at exit; a crash loses at most ``interval`` seconds of info lines.
    """

    def __init__(self, stream: Any = None, interval: float = 0.2) -> None:
        super().__init__(stream)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flusher, name="log-flush", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except Exception:
            self.handleError(record)

    def _flusher(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


def configure_json_logging(level: int = logging.INFO) -> None:
    # our own buffered writer on stdout's file descriptor: sys.stdout may be unbuffered (PYTHONUNBUFFERED),
    # which would turn every line back into a write syscall
    stream = open(os.dup(sys.stdout.fileno()), "w", buffering=1 << 16, encoding="utf-8")  # noqa: SIM115
    handler = BatchedStreamHandler(stream)
    # the lines carry none of these, and computing them is most of a log call's cost ("Optimization" in the
    # logging docs): no caller frame lookup, no thread, process or task names
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
