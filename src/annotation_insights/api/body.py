"""Request bodies read with a hard size cap, so a huge upload is refused, not buffered."""

from __future__ import annotations

from fastapi import Request

from annotation_insights.errors import PayloadTooLarge


async def read_limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_message(limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_message(limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _message(limit: int) -> str:
    mib = 1024 * 1024
    size = f"{limit // mib} MiB" if limit % mib == 0 else f"{limit:,} bytes"
    return f"The request body exceeds {size}; send smaller batches."
