"""The loader: reads landing-zone feeds, validates and pseudonymises them, writes `raw`."""

import os

# Arrow's allocator is chosen when pyarrow first allocates; set before any ingest module imports it.
# jemalloc, not the default mimalloc: lower peak memory and less CPU for the same load (see
# ingest.land.use_jemalloc, which also switches a process that imported pyarrow earlier).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
