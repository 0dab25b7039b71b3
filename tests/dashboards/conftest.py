"""Fixtures of the dashboards suites."""

from __future__ import annotations

from typing import Any

import pytest

from dashboards.demo import seed
from dashboards.models import Dashboard
from tests.factories import UserFactory


@pytest.fixture
def boards(db: None) -> dict[str, Dashboard]:
    """The `business` and `system` dashboards (a transactional test flushes migration data)."""
    seed(users={})
    return {board.slug: board for board in Dashboard.objects.all()}


@pytest.fixture
def staff(db: None) -> Any:
    return UserFactory(username="root", is_staff=True)
