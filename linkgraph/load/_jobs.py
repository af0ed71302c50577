"""The load's work on two threads, the most urgent first, each job as soon as its inputs are.

A thread pool runs jobs in the order they are submitted; the load's jobs wait on
one another (a table is finished once read, the sign-ins once their columns are
coded) and are not equally urgent: the sign-ins, the largest table, are the
longest chain of work, and a thread that runs a less urgent job while one of
theirs waits lengthens the whole stage. :class:`Jobs` submits each job once the
jobs it needs are done (from the thread that finished the last of them, so that
this thread takes it next when it is the most urgent) and lets each free worker
take the most urgent job waiting.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")


class Jobs:
    """Jobs run on ``pool`` by priority (lower first; equal priorities in the order given).

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(max_workers=1) as pool:
    ...     jobs = Jobs(pool)
    ...     first = jobs.submit(1, str.upper, "a")
    ...     second = jobs.after([first], 0, lambda done: done.result() + "b", first)
    ...     second.result()
    'Ab'
    """

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int, Future[Any], Callable[..., Any], tuple[Any, ...]]] = []
        self._order = itertools.count()

    def submit(self, priority: int, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` when a worker is free and no more urgent job waits."""
        future: Future[T] = Future()
        self._push(priority, future, fn, args)
        return future

    def after(self, needs: Iterable[Future[Any]], priority: int, fn: Callable[..., T],
              *args: Any) -> Future[T]:
        """:meth:`submit` ``fn(*args)`` once every future of ``needs`` is done (failed
        ones too: ``fn`` reads their results, and fails as they did)."""
        future: Future[T] = Future()
        _Waiting(self, list(needs), priority, future, fn, args).start()
        return future

    def _push(self, priority: int, future: Future[Any], fn: Callable[..., Any],
              args: tuple[Any, ...]) -> None:
        with self._lock:
            heapq.heappush(self._waiting, (priority, next(self._order), future, fn, args))
        try:
            self._pool.submit(self._run_next)
        except RuntimeError as e:  # the pool shut down (the load is failing): not run
            with self._lock:
                self._waiting = [job for job in self._waiting if job[2] is not future]
                heapq.heapify(self._waiting)
            future.set_exception(e)

    def _run_next(self) -> None:
        """Run the most urgent job waiting (one per :meth:`_push`: every job is run)."""
        with self._lock:
            _, _, future, fn, args = heapq.heappop(self._waiting)
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the job's reader, as a pool does
            future.set_exception(e)
        else:
            future.set_result(result)
            del result  # the future holds it; its reader decides how long


class _Waiting:
    """A job waiting for the futures it needs; let go of them once it is submitted."""

    def __init__(self, jobs: Jobs, needs: list[Future[Any]], priority: int, future: Future[Any],
                 fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._jobs, self._priority = jobs, priority
        self._future: Future[Any] | None = future
        self._fn: Callable[..., Any] | None = fn
        self._args: tuple[Any, ...] = args
        self._lock = threading.Lock()
        self._left = len(needs) + 1  # +1: released by start(), once every callback is added
        self._needs = needs

    def start(self) -> None:
        needs, self._needs = self._needs, []
        for need in needs:
            need.add_done_callback(self._one_done)
        del needs
        self._one_done(None)

    def _one_done(self, _: Future[Any] | None) -> None:
        with self._lock:
            self._left -= 1
            if self._left:
                return
            fn, args, future = self._fn, self._args, self._future
            # the done futures keep this callback: it must not keep their results, nor its own
            self._fn, self._args, self._future = None, (), None
        assert fn is not None and future is not None
        self._jobs._push(self._priority, future, fn, args)
