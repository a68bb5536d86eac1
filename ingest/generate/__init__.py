"""Deterministic synthetic landing zone for demos and tests: see `ingest.generate.landing`."""

from ingest.generate.landing import GenerationSummary, generate_landing_zone

__all__ = ["GenerationSummary", "generate_landing_zone"]
