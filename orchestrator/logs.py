"""Logging setup: text for people, JSON lines (Settings.log_json) for log collectors.

Each record carries the order id being handled — from `extra={'order_id': ...}` or, inside a
request, from the `order_id` context variable the routers set — so one order's lines can be
found across the API and the dispatcher.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

order_id_var: ContextVar[str | None] = ContextVar('order_id', default=None)

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {'message', 'asctime', 'taskName'}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, 'order_id', None) is None:
            record.order_id = order_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            'ts': self.formatTime(record, '%Y-%m-%dT%H:%M:%S') + f'.{int(record.msecs):03d}Z',
            'level': record.levelname,
            'logger': record.name,
            'msg': record.getMessage(),
        }
        out |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD and v is not None}
        if record.exc_info:
            out['exc'] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = ' '.join(
            f'{k}={v}' for k, v in record.__dict__.items() if k not in _STANDARD and v is not None
        )
        return f'{line} {extra}' if extra else line


def setup_logging(level: str = 'INFO', as_json: bool = False) -> None:
    """Route the root logger (and uvicorn's) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if as_json:
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = TextFormatter('%(asctime)s %(levelname)s %(name)s: %(message)s')
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ('uvicorn', 'uvicorn.error', 'uvicorn.access'):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
