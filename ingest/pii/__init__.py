"""The loader's privacy core: pseudonymisation keys and tokens, Safe Harbor generalisation of
birth dates and ZIP codes, and detection/redaction of PII in columns not declared as PII.

Everything that touches column data works on whole pyarrow arrays (Arrow compute kernels, RE2
regexes); Python loops are confined to HMAC and to the rare values that need more than the
vectorised path, because the loader has to keep up with >=100k rows/s on two cores.
"""

from ingest.pii.birth import AGE_CAP, age_years, birth_year
from ingest.pii.detect import DETECTOR_NAMES, redact, scan, scan_row_names
from ingest.pii.keys import KEY_ENV_VAR, PseudonymKey, create_key_file, load_key
from ingest.pii.tokens import normalise, tokenise
from ingest.pii.zip3 import RESTRICTED_PREFIXES, zip3

__all__ = [
    "AGE_CAP",
    "DETECTOR_NAMES",
    "KEY_ENV_VAR",
    "RESTRICTED_PREFIXES",
    "PseudonymKey",
    "age_years",
    "birth_year",
    "create_key_file",
    "load_key",
    "normalise",
    "redact",
    "scan",
    "scan_row_names",
    "tokenise",
    "zip3",
]
