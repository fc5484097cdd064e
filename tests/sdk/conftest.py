"""Fixtures for the SDK sync tests: a fixed clock and a miniature signing hub."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.sdk.feedfactory import FeedFactory

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def factory(now: datetime) -> FeedFactory:
    return FeedFactory(now)
