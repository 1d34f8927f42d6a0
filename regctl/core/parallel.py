"""Work done ahead on helper threads while the caller takes the results in order.

``Ahead(work, items, jobs)`` runs ``work(item)`` for each item, at most ``jobs`` at once on
helper threads and at most ``window`` items ahead of the one the caller takes; ``take()``
returns the next item's result in the items' order, or raises that item's error at its
turn, so a caller sees what a loop over the items would have seen. With ``jobs == 1`` no
thread is started: ``take()`` calls ``work`` itself, exactly as a plain loop does.

Leaving the ``with`` block early starts no further item and waits, bounded, for the items under
way, so that nothing the helpers write lands after the caller has cleaned up; on Ctrl-C or
SIGTERM (KeyboardInterrupt), or when they take longer than ``STOP_WAIT``, ``on_stop`` is called
first, to end their transfers (a server's connections are shut). ``leftovers()`` then gives
the results made and never taken (for the caller to undo). ``on_end`` is called last in every
case. The helpers are daemon threads: a process that is ending never waits for one.
"""

import queue
import threading
import time
from typing import Callable, Iterable, List, Optional, Sequence

STOP_WAIT = 10.0  # seconds the helpers get to finish once stopped (their transfers are shut first)


class Ahead:
    def __init__(self, work: Callable, items: Iterable, jobs: int, *, window: Optional[int] = None,
                 on_stop: Sequence[Callable[[], None]] = (), on_end: Sequence[Callable[[], None]] = ()):
        self.work, self.items = work, list(items)
        self.jobs = max(1, min(int(jobs), len(self.items) or 1))
        self.window = max(self.jobs, window or 2 * self.jobs)
        self.on_stop, self.on_end = list(on_stop), list(on_end)
        self._results: List = [None] * len(self.items)
        self._ready = [threading.Event() for _ in self.items] if self.jobs > 1 else []
        self._queue: queue.Queue = queue.Queue()
        self._stopped = threading.Event()
        self._threads: List[threading.Thread] = []
        self._submitted = self._taken = 0
        self._closed = False

    def __enter__(self) -> "Ahead":
        if self.jobs > 1:
            for number in range(self.jobs):
                thread = threading.Thread(target=self._helper, name=f"regctl-ahead-{number}", daemon=True)
                thread.start()
                self._threads.append(thread)
            self._fill()
        return self

    def __iter__(self):
        for _ in range(len(self.items) - self._taken):
            yield self.take()

    def take(self):
        """The next item's result, in the items' order; that item's error is raised here."""
        index = self._taken
        if index >= len(self.items):
            raise IndexError("no item left to take")
        self._taken += 1
        if self.jobs == 1:
            return self.work(self.items[index])
        self._ready[index].wait()
        self._fill()
        ok, value = self._results[index]
        self._results[index] = None
        if ok:
            return value
        raise value

    def _fill(self) -> None:
        while self._submitted < len(self.items) and self._submitted - self._taken < self.window:
            self._queue.put(self._submitted)
            self._submitted += 1

    def _helper(self) -> None:
        while True:
            index = self._queue.get()
            if index is None or self._stopped.is_set():
                return
            try:
                self._results[index] = (True, self.work(self.items[index]))
            except BaseException as exc:  # given to the caller at this item's turn
                self._results[index] = (False, exc)
            self._ready[index].set()

    def leftovers(self) -> list:
        """The results made ahead and never taken (after leaving early), in the items' order."""
        found = []
        for index in range(self._taken, self._submitted):
            if self._ready[index].is_set() and self._results[index] and self._results[index][0]:
                found.append(self._results[index][1])
        return found

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.close(exc_type)

    def close(self, exc_type=None) -> None:
        """Leave: as ``__exit__`` with the type of the error that ends the work, if any (again: nothing)."""
        if not self._threads or self._closed:
            return
        self._closed = True
        try:
            self._stopped.set()
            if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
                self._stop()
            for _ in self._threads:
                self._queue.put(None)
            self._join(STOP_WAIT)
            if any(thread.is_alive() for thread in self._threads):
                self._stop()
                self._join(STOP_WAIT)
        finally:
            for end in self.on_end:
                _quietly(end)

    def _stop(self) -> None:
        for stop in self.on_stop:
            _quietly(stop)
        self.on_stop = []

    def _join(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _quietly(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:
        pass
