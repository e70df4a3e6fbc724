"""DuckDB's in-memory set of stored event identities, against a plain Python set."""

from __future__ import annotations

import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation_insights.store.event_keys import KEY, KeyRuns, SortedKeys, _Run

# Few distinct high halves, so keys that share one (and must be told apart by the low
# half) are common here although astronomically rare in practice.
keys = st.lists(st.tuples(st.integers(-3, 3), st.integers(-2**63, 2**63 - 1)), max_size=40)


def _array(pairs) -> np.ndarray:
    out = np.empty(len(pairs), dtype=KEY)
    if pairs:
        out["hi"], out["lo"] = zip(*pairs)
    return out


@settings(max_examples=200, deadline=None)
@given(stored=keys, batches=st.lists(keys, max_size=5), probe=keys)
def test_membership_matches_a_set_through_adds_and_merges(stored, batches, probe):
    runs, expected = KeyRuns(_array(stored), fanout=2), set(stored)
    for batch in batches:
        new = [k for k in dict.fromkeys(batch) if k not in expected]
        runs.add(_array(new))
        expected.update(new)
        every = list(expected) + probe
        assert runs.contains(_array(every)).tolist() == [k in expected for k in every]


def test_membership_holds_as_the_bit_filter_is_rebuilt_larger():
    rng = np.random.default_rng(5)
    runs, stored = KeyRuns(), []
    for _ in range(12):  # 24,000 keys: the smallest filter holds 8,192
        batch = _array(list(zip(rng.integers(-2**63, 2**63 - 1, 2_000).tolist(),
                                rng.integers(-2**63, 2**63 - 1, 2_000).tolist())))
        runs.add(batch)
        stored.append(batch)
    every = np.concatenate(stored)
    absent = every.copy()
    absent["lo"] += 1
    assert runs.contains(every).all()
    assert not runs.contains(absent).any()


def test_merges_run_beside_lookups_and_leave_a_few_runs():
    """Merges happen on their own thread while batches are added and looked up; once
    they settle, 64 equal batches with a fan-out of 4 are one run (4 -> 16 -> 64)."""
    rng = np.random.default_rng(7)
    runs, stored = KeyRuns(fanout=4), []
    for _ in range(64):
        batch = _array(list(zip(rng.integers(-2**63, 2**63 - 1, 500).tolist(),
                                rng.integers(-2**63, 2**63 - 1, 500).tolist())))
        assert not runs.contains(batch).any()
        runs.add(batch)
        stored.append(batch)
        assert runs.contains(np.concatenate(stored)).all()
    runs.settle()
    assert [len(run) for run in runs._runs] == [32_000]
    assert runs.contains(np.concatenate(stored)).all()


def test_a_failed_merge_keeps_every_key_and_the_next_add_merges(monkeypatch):
    """A merge that runs out of memory leaves the runs it read in place."""
    merged, failures = _Run.merged.__func__, []

    def out_of_memory_once(cls, runs):
        if not failures:
            failures.append(len(runs))
            raise MemoryError
        return merged(cls, runs)

    monkeypatch.setattr(_Run, "merged", classmethod(out_of_memory_once))
    monkeypatch.setattr(threading, "excepthook", lambda args: None)
    runs = KeyRuns(fanout=2)
    batches = [_array([(i, i)]) for i in range(3)]
    for batch in batches[:2]:
        runs.add(batch)
    runs.settle()
    assert failures == [2] and len(runs._runs) == 2
    assert runs.contains(np.concatenate(batches[:2])).all()
    runs.add(batches[2])
    runs.settle()
    assert [len(run) for run in runs._runs] == [3]
    assert runs.contains(np.concatenate(batches)).all()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(-3, 3), st.integers(-2**63, 2**63 - 1),
                          st.sampled_from([-2**63, 2**63 - 1, -1, 0]),
                          # values apart only in their low bits, where positions ride
                          st.integers(-2**20, 2**20 - 1).map(lambda v: v << 43)
                          .flatmap(lambda base: st.integers(0, 2**16).map(lambda low: base | low))),
                max_size=300))
def test_keys_sort_by_their_high_half_whatever_the_values(values):
    hi = np.array(values, dtype=np.int64)
    keys = np.empty(len(hi), dtype=KEY)
    keys["hi"], keys["lo"] = hi, 0
    sorted_keys = SortedKeys(keys)
    assert sorted(sorted_keys.order.tolist()) == list(range(len(hi)))
    assert sorted_keys.hi.tolist() == sorted(values)
