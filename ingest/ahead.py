"""Running an iterator ahead of its consumer, in a thread of its own, through a bounded queue.

The loader's stages are mostly Arrow kernels, which release the GIL: a stage running ahead in its
own thread works on one core while the next stage works on the other. Exceptions of the iterator are
raised again in the consumer, at the place of the item that failed, and a consumer that stops early
stops the thread (and closes the iterator) before it goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


@dataclass
class _Failed:
    error: BaseException


class RunAhead(threading.Thread, Generic[T]):
    """`items`, produced up to `depth` ahead of whoever iterates this object (once)."""

    def __init__(self, items: Iterator[T], *, depth: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.items = items
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stopping = threading.Event()
        self.finished = False

    def run(self) -> None:
        try:
            for item in self.items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed over, not swallowed: the consumer raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(self.items, "close", None)
            if close is not None:
                close()  # a generator stopped early releases what it holds (an open file) here

    def _put(self, item) -> bool:
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while not self.finished:
            item = self.queue.get()
            if isinstance(item, _Failed):
                self.finished = True
                raise item.error
            if item is _END:
                self.finished = True
                return
            yield item

    def stop(self) -> None:
        """Stop producing and wait for the thread. No timeout: the iterator's state (an open file, the
        loader's counters) must never be shared by a thread still running and a retry."""
        self.stopping.set()
        self.join()


def run_ahead(items: Iterator[T], *, depth: int, name: str) -> Iterator[T]:
    """Iterate `items` with a thread producing them up to `depth` ahead."""
    worker: RunAhead[T] = RunAhead(items, depth=depth, name=name)
    worker.start()
    try:
        yield from worker
    finally:
        worker.stop()
