"""Fixtures shared by the integration tests."""

from python_tests.integration.ingest_helpers import ingest_env  # noqa: F401
