"""Keys never reach a log line: a filter scrubs them from every record we emit or relay."""

from __future__ import annotations

import logging
import re

_SECRETS = (
    (re.compile(r"(api(?:_|%5f)key=)[^&\s\"']+", re.IGNORECASE), r"\1REDACTED"),
    (re.compile(r"(bearer\s+)[^\s\"']+", re.IGNORECASE), r"\1REDACTED"),
    (re.compile(r"\bai_[0-9a-f]{12}_[A-Za-z0-9_-]+"), "ai_REDACTED"),
)
LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "annotation_insights")


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redaction() -> None:
    """Attach the filter to our loggers and to every handler uvicorn configured."""
    flt = RedactKeys()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(flt)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactKeys) for f in handler.filters):
                handler.addFilter(flt)
