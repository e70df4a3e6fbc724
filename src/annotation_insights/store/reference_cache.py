"""Reference data remembered between requests by a store that only this process writes.

Every request reads its API key, and every stats answer the workspace's project and
labeler names: small reads that DuckDB answers in ~0.5–1 ms each (its cost per
statement, not per row), 2.5 ms of a 12 ms 90-day answer at 1M events. A DuckDB file
has one writing process, so this process sees every change to those tables: a write
transaction that touches one of them bumps the generation once it has committed, and a
remembered answer serves only readers of the generation it was read at. PostgreSQL is
written by several processes and is read every time.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Hashable
from typing import Any

# The tables whose rows `read_reference` may remember. Statements are matched by their
# text, so any write to these tables invalidates, whichever module wrote it.
_REFERENCE_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:workspaces|api_keys|projects|labelers)\b",
    re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def writes_reference(sql: str) -> bool:
    return _REFERENCE_WRITE.search(sql) is not None


class ReferenceCache:
    """Answers of reference reads by (statement, parameters), valid for one generation.

    Bounded: when full it starts over, so unknown API keys presented in bulk cost reads,
    never memory."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._answers: dict[Hashable, tuple[int, Any]] = {}
        self.generation = 0

    def changed(self) -> None:
        """A write to reference data has committed."""
        with self._lock:
            self.generation += 1
            self._answers.clear()

    def get(self, key: Hashable, generation: int, load: Callable[[], Any]) -> Any:
        """The answer for `key` that a reader at `generation` may use: one remembered at
        that generation, or `load()`. A load that raced a change is remembered at the
        generation before it, where no later reader looks."""
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None and hit[0] == generation:
                return hit[1]
        answer = load()
        with self._lock:
            if len(self._answers) >= self._max_entries:
                self._answers.clear()
            self._answers[key] = (generation, answer)
        return answer
