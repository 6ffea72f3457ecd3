"""The ids and timestamps of answers (``chatcmpl-...``, ``cmpl-...``, ``recipe-...``), as OpenAI writes them."""

from __future__ import annotations

import time
import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())
