"""Fixtures shared by the integration tests."""

import secrets

import pytest

from python_tests.integration.ingest_helpers import ingest_env  # noqa: F401
from warehouse.db.target import Target


@pytest.fixture
def scratch_database(target: Target):
    """Databases of a test's own, made on demand (`scratch_database()` returns a new name) and dropped
    after it: the session's database is shared by every test file of a worker."""
    created: list[str] = []

    def make() -> str:
        name = f"test_scratch_{secrets.token_hex(4)}"
        target.init([name], log=lambda _msg: None)
        created.append(name)
        return name

    yield make
    for name in created:
        target.drop(name)
