"""Deterministic keyed tokens (HMAC-SHA256) that replace direct identifiers.

The same identifier must give the same token in every feed, so people link across sources
without the identifier ever reaching the warehouse. Values are normalised first because feeds
spell the same SSN or member id differently ("123-45-6789", "123 45 6789", "123.45.6789").
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest import hmac_worker
from ingest.pii._arrow import ArrayLike, as_utf8, string_offsets
from ingest.pii.keys import PseudonymKey

try:  # built by `pip install` when a C compiler and OpenSSL's headers are there (pyproject.toml)
    from ingest.pii import _hmac_sha256 as _compiled
except ImportError:  # pragma: no cover - exercised by the tests through monkeypatch
    _compiled = None

# Printed by `warehouse bench ingest`: the two paths differ by ~10-15 % of the loader's rate.
HASHING = "C (OpenSSL)" if _compiled is not None else "Python (ingest.pii._hmac_sha256 not built)"

# Whitespace (including Unicode spaces such as the no-break space spreadsheets emit), any dash
# punctuation (hyphen, en dash, ...) and dots carry formatting, not identity.
_NOISE = r"[\s\p{Z}\p{Pd}.]+"


# What _NOISE matches among ASCII characters: RE2's \s is [\t\n\f\r ] (no \v), \p{Z} is the space
# and \p{Pd} the hyphen-minus.
_ASCII_NOISE = tuple(bytes([b]) for b in b"\t\n\f\r -.")


def normalise(values: ArrayLike) -> pa.Array:
    """The form that is hashed: uppercase, with whitespace, dashes and dots removed; "" becomes null.

    An empty identifier would otherwise get one shared token and falsely link unrelated people.
    """
    text = as_utf8(values)
    present = _ascii_noise_present(text)
    if present is None:
        text = pc.replace_substring_regex(pc.utf8_upper(text), _NOISE, "")
    else:
        # All ASCII (nearly every identifier): the same result from plain substring removal of
        # the noise characters that occur, several times cheaper than the regex on 1M values.
        text = pc.ascii_upper(text)
        for char in present:
            text = pc.replace_substring(text, char, "")
    return pc.if_else(pc.equal(pc.binary_length(text), 0), pa.scalar(None, text.type), text)


def _ascii_noise_present(text: pa.Array) -> list[bytes] | None:
    """The ASCII noise characters in `text`'s values, or None when a value is not all ASCII."""
    offsets = string_offsets(text)
    data = text.buffers()[2]
    if data is None or len(offsets) == 0 or offsets[-1] == offsets[0]:
        return []
    # Bytes between the first and last offset: every value's (null slots hold none of their own).
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]], minlength=256)
    if counts[0x80:].any():
        return None
    return [char for char in _ASCII_NOISE if counts[char[0]]]


def tokenise(values: ArrayLike, key: PseudonymKey) -> pa.Array:
    """HMAC-SHA256(key, normalised value) as 64 lowercase hex characters; nulls stay null."""
    return tokenise_later(values, key)()


# Distinct values below which a batch is hashed in the calling thread: a worker round trip, and
# starting the worker at all, costs more than hashing a small batch.
WORKER_MIN_VALUES = 20_000


def tokenise_later(values: ArrayLike, key: PseudonymKey) -> Callable[[], pa.Array]:
    """`tokenise`, split in two: the values are prepared now and hashed meanwhile, in a thread (the
    compiled path, which releases the GIL) or, for a big batch without it, in a worker process;
    calling the result waits for the tokens. The loader starts every identifier column of a batch
    this way, then checks and scans the other columns while the hashing runs."""
    normal = normalise(values)
    if _compiled is not None:
        pending = _HASHER.submit(_compiled_tokens, normal, key.key)
        return pending.result
    return _python_tokens_later(normal, key)


# One thread, started by the first submit: batches are hashed in the order they were asked for.
_HASHER = ThreadPoolExecutor(1, thread_name_prefix="hmac")


def _compiled_tokens(normal: pa.Array, key: bytes) -> pa.Array:
    """Every value hashed in C, straight from the Arrow buffers (no Python object per value). Values
    are not deduplicated first: at ~0.16 us a value, hashing costs about what a hash table would."""
    offsets = string_offsets(normal)
    data = normal.buffers()[2]
    text = _compiled.hex_digests(key, b"" if data is None else data, offsets.astype(np.int64, copy=False))
    tokens = _hex_array(text, len(normal))
    if normal.null_count:  # a null's empty slot was hashed too; its token is dropped here
        tokens = pc.if_else(normal.is_valid(), tokens, pa.scalar(None, pa.string()))
    return tokens


def _python_tokens_later(normal: pa.Array, key: PseudonymKey) -> Callable[[], pa.Array]:
    """The pure-Python path: each distinct value hashed once, a big batch in the worker process."""
    # Identifiers repeat (a member appears on every claim): hash each distinct value once. On an
    # all-distinct column the hash table costs ~10% extra; sampling to skip it misjudges columns
    # whose distinct count is large but still far below the row count, so always encode.
    encoded = normal.dictionary_encode()
    dictionary = pc.cast(encoded.dictionary, pa.binary())
    # The dictionary holds no null (a null value has a null index), so every entry gets a digest.
    distinct = dictionary.to_pylist()
    pending: Future | None = None
    if len(distinct) >= WORKER_MIN_VALUES:
        pending = _worker_submit(key.key, distinct)

    def tokens() -> pa.Array:
        blob = None
        if pending is not None:
            try:
                blob = pending.result()
            except (EOFError, OSError):
                blob = None  # the worker died (killed, out of memory): hash here instead
        if blob is None:
            blob = hmac_worker.digests(distinct, hmac_worker.keyed(key.key))
        return pc.take(_hex_array(blob.hex().encode("ascii"), len(distinct)), encoded.indices)

    return tokens


def _hex_array(text: bytes, n: int) -> pa.Array:
    """n digests of 64 lowercase hex characters, one after the other, as a string array."""
    offsets = np.arange(0, 2 * hmac_worker.DIGEST_BYTES * (n + 1), 2 * hmac_worker.DIGEST_BYTES, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text)])


class _Worker:
    """One process running `ingest.hmac_worker.serve`, fed through its stdin and answering on its
    stdout, in order; a reader thread hands each answer to the request's future."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        # A plain interpreter, not multiprocessing: its spawn start would import the caller's main
        # module again in the worker, and fork would copy the loader's threads mid-flight.
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from ingest.hmac_worker import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )  # fmt: skip
        self.requests = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.replies = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.waiting: deque[Future] = deque()
        self.lock = threading.Lock()
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.requests.send_bytes(key)  # through the pipe: never in argv or the environment
        threading.Thread(target=self._read, name="hmac-worker-replies", daemon=True).start()
        self.sender = threading.Thread(target=self._send, name="hmac-worker-requests", daemon=True)
        self.sender.start()

    def submit(self, messages: list[bytes]) -> Future:
        future: Future = Future()
        request = pickle.dumps(messages, protocol=5)
        with self.lock:
            self.waiting.append(future)
            self.outbox.put(request)
        return future

    def _send(self) -> None:
        """Writes requests to the worker's pipe in a thread of its own: a write blocks while the worker
        is still hashing the previous request (the pipe holds 64 KB, a request is ~0.4 MB), and the
        loader's thread, which submits each identifier column of a batch in turn, must not wait on it
        (it did: ~1.2 s per 1M member rows)."""
        try:
            while (request := self.outbox.get()) is not None:
                self.requests.send_bytes(request)
        except OSError:
            # The worker is gone: its replies end too, and the reader fails every waiting request.
            with contextlib.suppress(OSError):
                self.process.kill()

    def _read(self) -> None:
        try:
            while True:
                data = self.replies.recv_bytes()
                with self.lock:
                    future = self.waiting.popleft()
                future.set_result(data)
        except (EOFError, OSError) as exc:
            with self.lock:
                while self.waiting:
                    self.waiting.popleft().set_exception(EOFError(f"the HMAC worker stopped: {type(exc).__name__}"))

    def close(self) -> None:
        try:
            self.outbox.put(None)  # the sender ends after the requests before this one
            self.sender.join(timeout=10)
            self.requests.close()  # the worker's end of input: it exits
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
        self.replies.close()


_worker: _Worker | None = None
_worker_lock = threading.Lock()


def _worker_submit(key: bytes, messages: list[bytes]) -> Future | None:
    """Hash `messages` in the worker process (started on first use, for this key); None if it cannot
    be had, and the caller hashes them itself."""
    global _worker
    try:
        with _worker_lock:
            if _worker is not None and (_worker.key != key or _worker.process.poll() is not None):
                _worker.close()
                _worker = None
            if _worker is None:
                _worker = _Worker(key)
            return _worker.submit(messages)
    except OSError:
        return None


def shutdown_worker() -> None:
    """Stop the worker process, if one was started (also at exit)."""
    global _worker
    with _worker_lock:
        if _worker is not None:
            _worker.close()
            _worker = None


atexit.register(shutdown_worker)
