"""The set of stored event keys of each workspace, kept in memory by the DuckDB writer.

DuckDB is single-process and single-writer, so the process that holds the file can know
every stored event key and decide which events of a batch are new without an index.
Updating an ART index of random 128-bit keys cost more than everything else ingest does;
sorted NumPy arrays cost 16 bytes a key and a binary search per lookup.

Keys live in a large sorted run plus a small sorted run of recent keys; a batch is
merged into the small run, and the small run into the large one when it has grown to a
sixteenth of it, so adding a batch never re-sorts the history.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

KEY = np.dtype([("hi", "<i8"), ("lo", "<i8")])
MERGE_AT = 262_144


class _Run:
    """Keys sorted by their high half, the halves in two contiguous arrays (binary search
    on `hi`; keys sharing a high half are told apart by a scan of their `lo`)."""

    def __init__(self, hi: np.ndarray, lo: np.ndarray) -> None:
        self.hi, self.lo = hi, lo

    @classmethod
    def of(cls, keys: np.ndarray) -> "_Run":
        order = np.argsort(keys["hi"], kind="stable")
        return cls(np.ascontiguousarray(keys["hi"][order]), np.ascontiguousarray(keys["lo"][order]))

    def merged(self, other: "_Run") -> "_Run":
        """Both runs as one, in time linear in their sizes (no re-sort of this one)."""
        at = np.searchsorted(self.hi, other.hi)
        return _Run(np.insert(self.hi, at, other.hi), np.insert(self.lo, at, other.lo))

    def __len__(self) -> int:
        return len(self.hi)

    def as_keys(self) -> np.ndarray:
        keys = np.empty(len(self.hi), dtype=KEY)
        keys["hi"], keys["lo"] = self.hi, self.lo
        return keys

    def contains(self, probe: np.ndarray) -> np.ndarray:
        n = len(self.hi)
        if n == 0 or len(probe) == 0:
            return np.zeros(len(probe), dtype=bool)
        # Searching in ascending order keeps the binary searches in cache.
        order = np.argsort(probe["hi"])
        hi, lo = probe["hi"][order], probe["lo"][order]
        at = np.minimum(np.searchsorted(self.hi, hi), n - 1)
        same_hi = self.hi[at] == hi
        found = same_hi & (self.lo[at] == lo)
        after = np.minimum(at + 1, n - 1)
        for i in np.flatnonzero(same_hi & ~found & (after > at) & (self.hi[after] == hi)):
            stop = np.searchsorted(self.hi, hi[i], side="right")  # equal high halves: rare
            found[i] = bool(np.any(self.lo[at[i]:stop] == lo[i]))
        result = np.empty(len(probe), dtype=bool)
        result[order] = found
        return result


_EMPTY = np.empty(0, dtype=KEY)


class KeyRuns:
    """A set of event keys (`KEY` records) as a large and a small sorted run."""

    def __init__(self, keys: np.ndarray = _EMPTY, *, merge_at: int = MERGE_AT) -> None:
        self._merge_at = merge_at
        self._main = _Run.of(keys)
        self._recent = _Run.of(_EMPTY)

    def contains(self, probe: np.ndarray) -> np.ndarray:
        return self._main.contains(probe) | self._recent.contains(probe)

    def add(self, keys: np.ndarray) -> None:
        self._recent = self._recent.merged(_Run.of(keys))
        if len(self._recent) >= max(self._merge_at, len(self._main) // 16):
            self._main = self._main.merged(self._recent)
            self._recent = _Run.of(_EMPTY)

    def add_runs(self, other: "KeyRuns") -> None:
        self.add(np.concatenate([other._main.as_keys(), other._recent.as_keys()]))


class EventKeys:
    """Per-workspace key sets, loaded from the store on a workspace's first write."""

    def __init__(self, load: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> None:
        self._load = load
        self._workspaces: dict[int, KeyRuns] = {}

    def of(self, workspace_id: int) -> KeyRuns:
        keys = self._workspaces.get(workspace_id)
        if keys is None:
            hi, lo = self._load(workspace_id)
            stored = np.empty(len(hi), dtype=KEY)
            stored["hi"], stored["lo"] = hi, lo
            keys = self._workspaces[workspace_id] = KeyRuns(stored)
        return keys
