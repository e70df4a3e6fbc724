"""JSON responses rendered with orjson.

Handlers return these directly, so FastAPI does not re-validate large stats answers
through the response models (which exist for the OpenAPI document) and numbers keep
their exact JSON form (an approval rate of 100 stays `100`).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
