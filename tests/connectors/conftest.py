"""Fixtures for connector tests: the real recorded Label Studio 1.23.2 deliveries."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "label-studio-1.23.2"
WEBHOOKS = FIXTURES / "webhooks.ndjson"


def load_deliveries() -> list[dict]:
    if not WEBHOOKS.exists():
        pytest.fail(f"the recorded Label Studio deliveries are missing: {WEBHOOKS}")
    return [json.loads(line) for line in WEBHOOKS.read_text().splitlines() if line.strip()]


@pytest.fixture
def deliveries() -> list[dict]:
    """Each recorded delivery: {"path", "headers", "body"}, deep-copied per test."""
    return copy.deepcopy(load_deliveries())
