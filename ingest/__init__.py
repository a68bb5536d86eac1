"""The loader: reads landing-zone feeds, validates and pseudonymises them, writes `raw`."""
