"""The set of stored event keys of each workspace, kept in memory by the DuckDB writer.

DuckDB is single-process and single-writer, so the process that holds the file can know
every stored event key and decide which events of a batch are new without an index.
Updating an ART index of random 128-bit keys cost more than everything else ingest does;
sorted NumPy arrays cost 16 bytes a key and a binary search per lookup.

Keys live in a few sorted runs, each at least four times the size of the next, like a
log-structured merge tree: a batch becomes a new last run and is merged into the runs
before it only while they are not yet four times its size. Adding a batch never
re-sorts the history, and each key is copied about log4(keys / batch) times in all
(the single large run this replaced was copied whole for every batch until it held
four million keys).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

KEY = np.dtype([("hi", "<i8"), ("lo", "<i8")])
GROWTH = 4


class _Run:
    """Keys sorted by their high half, the halves in two contiguous arrays (binary search
    on `hi`; keys sharing a high half are told apart by a scan of their `lo`)."""

    def __init__(self, hi: np.ndarray, lo: np.ndarray) -> None:
        self.hi, self.lo = hi, lo

    @classmethod
    def of(cls, keys: np.ndarray) -> "_Run":
        order = np.argsort(keys["hi"])
        return cls(np.ascontiguousarray(keys["hi"][order]), np.ascontiguousarray(keys["lo"][order]))

    def merged(self, other: "_Run") -> "_Run":
        """Both runs as one, in time linear in their sizes (no re-sort of this one)."""
        at = np.searchsorted(self.hi, other.hi)
        return _Run(np.insert(self.hi, at, other.hi), np.insert(self.lo, at, other.lo))

    def __len__(self) -> int:
        return len(self.hi)

    def contains_sorted(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Membership of probe keys given sorted by their high half (searching in ascending
        order keeps the binary searches in cache)."""
        n = len(self.hi)
        if n == 0 or len(hi) == 0:
            return np.zeros(len(hi), dtype=bool)
        at = np.minimum(np.searchsorted(self.hi, hi), n - 1)
        same_hi = self.hi[at] == hi
        found = same_hi & (self.lo[at] == lo)
        after = np.minimum(at + 1, n - 1)
        for i in np.flatnonzero(same_hi & ~found & (after > at) & (self.hi[after] == hi)):
            stop = np.searchsorted(self.hi, hi[i], side="right")  # equal high halves: rare
            found[i] = bool(np.any(self.lo[at[i]:stop] == lo[i]))
        return found


_EMPTY = np.empty(0, dtype=KEY)


class KeyRuns:
    """A set of event keys (`KEY` records) as sorted runs whose sizes shrink at least
    `GROWTH`-fold from the first to the last; a run added to the end is merged into the
    runs before it until that holds again, so each key is copied a few times in all."""

    def __init__(self, keys: np.ndarray = _EMPTY, *, growth: int = GROWTH) -> None:
        self._growth = growth
        self._runs = [_Run.of(keys)] if len(keys) else []

    def contains(self, probe: np.ndarray) -> np.ndarray:
        result = np.zeros(len(probe), dtype=bool)
        if len(probe) == 0 or not self._runs:
            return result
        order = np.argsort(probe["hi"])  # one sort of the probe serves every run
        hi, lo = probe["hi"][order], probe["lo"][order]
        found = self._runs[0].contains_sorted(hi, lo)
        for run in self._runs[1:]:
            found |= run.contains_sorted(hi, lo)
        result[order] = found
        return result

    def add(self, keys: np.ndarray) -> None:
        if len(keys):
            self._add_run(_Run.of(keys))

    def add_runs(self, other: "KeyRuns") -> None:
        """Add another set's keys (already sorted runs: nothing is re-sorted)."""
        for run in other._runs:
            self._add_run(run)

    def _add_run(self, run: _Run) -> None:
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-2]) < self._growth * len(self._runs[-1]):
            last = self._runs.pop()
            self._runs[-1] = self._runs[-1].merged(last)


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
