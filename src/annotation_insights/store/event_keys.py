"""The set of stored event keys of each workspace, kept in memory by the DuckDB writer.

DuckDB is single-process and single-writer, so the process that holds the file can know
every stored event key and decide which events of a batch are new without an index.
Updating an ART index of random 128-bit keys cost more than everything else ingest does;
sorted NumPy arrays cost 16 bytes a key and a binary search per lookup.

Keys live in a large sorted run plus a small sorted run of recent keys (merged when it
grows), so adding a batch never re-sorts the whole history.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_KEY = np.dtype([("hi", "<i8"), ("lo", "<i8")])
MERGE_AT = 262_144


def _sorted(keys: np.ndarray) -> np.ndarray:
    return keys[np.lexsort((keys["lo"], keys["hi"]))]


def _contains(run: np.ndarray, probe: np.ndarray) -> np.ndarray:
    if len(run) == 0 or len(probe) == 0:
        return np.zeros(len(probe), dtype=bool)
    left = np.searchsorted(run["hi"], probe["hi"], side="left")
    right = np.searchsorted(run["hi"], probe["hi"], side="right")
    found = np.zeros(len(probe), dtype=bool)
    single = right - left == 1
    found[single] = run["lo"][left[single]] == probe["lo"][single]
    for i in np.flatnonzero(right - left > 1):  # equal high halves: astronomically rare
        found[i] = bool(np.any(run["lo"][left[i]:right[i]] == probe["lo"][i]))
    return found


class WorkspaceKeys:
    def __init__(self, hi: np.ndarray, lo: np.ndarray) -> None:
        keys = np.empty(len(hi), dtype=_KEY)
        keys["hi"], keys["lo"] = hi, lo
        self._main = _sorted(keys)
        self._recent = np.empty(0, dtype=_KEY)

    def contains(self, keys: list[tuple[int, int]]) -> np.ndarray:
        probe = np.array(keys, dtype=_KEY)
        return _contains(self._main, probe) | _contains(self._recent, probe)

    def add(self, keys: list[tuple[int, int]]) -> None:
        self._recent = _sorted(np.concatenate([self._recent, np.array(keys, dtype=_KEY)]))
        if len(self._recent) >= MERGE_AT:
            self._main = _sorted(np.concatenate([self._main, self._recent]))
            self._recent = np.empty(0, dtype=_KEY)


class EventKeys:
    """Per-workspace key sets, loaded from the store on a workspace's first write."""

    def __init__(self, load: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> None:
        self._load = load
        self._workspaces: dict[int, WorkspaceKeys] = {}

    def of(self, workspace_id: int) -> WorkspaceKeys:
        keys = self._workspaces.get(workspace_id)
        if keys is None:
            keys = self._workspaces[workspace_id] = WorkspaceKeys(*self._load(workspace_id))
        return keys
