"""Running a compiled step over a population on several threads: contiguous chunks of users,
one per thread, the calling thread taking the first.

The kernels are serial and release the GIL, so Python threads run them in parallel. Why not
numba's parallel loops (``prange``): on a 2-core VM a launch of its workqueue layer cost about
100 us (it wakes its threads and waits for them through condition variables) and the code it
compiles ran ~30 % slower on one thread, so at 10k RecSim users a parallel step was slower
than a serial one; numba's OpenMP layer launches fast but slowed PyTorch in the same process
more than tenfold. A chunk costs one hand-over to a helper thread (~25 us here), so populations
too small to give each thread ``MIN_CHUNK`` users run serially on the calling thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue

MIN_CHUNK = 2048  # users per thread at least
_settings = threading.local()  # per calling thread, like numba's own set_num_threads
_helpers: tuple[int, list[SimpleQueue[_Task]]] = (-1, [])  # (owning process id, helper threads' queues)
_helpers_lock = threading.Lock()


def set_threads(n: int) -> None:
    """Threads the compiled dynamics use when called from this Python thread."""
    _settings.threads = max(1, int(n))


def get_threads() -> int:
    """``set_threads``'s value for this Python thread, else every core."""
    return getattr(_settings, "threads", None) or os.cpu_count() or 1


def chunk_bounds(n_users: int, chunks: int, align: int, head: int = 0) -> list[tuple[int, int]]:
    """``chunks`` contiguous (lo, hi) ranges covering 0..n_users, starts multiples of ``align``;
    the first about ``head`` users longer than the others (``head`` at most n_users / chunks)."""
    if chunks == 1:
        return [(0, n_users)]
    first = -(-(n_users + (chunks - 1) * min(head, n_users // chunks)) // chunks)
    first = min(-(-first // align) * align, n_users)
    per = -(-(n_users - first) // (chunks - 1))
    per = max(-(-per // align) * align, align)
    return [(0, first)] + [(lo, min(lo + per, n_users)) for lo in range(first, n_users, per)]


class _Timing:
    """Running estimates, per kernel, of its seconds per user on the calling thread and of the
    delay before a helper thread starts its chunk. The calling thread takes a longer chunk to
    cover that delay and the as-long hand-back: then it rarely waits for the helpers, and a
    wait costs another wake-up (~50 us here)."""

    def __init__(self) -> None:
        self.per_user = 0.0
        self.wake = 0.0

    def head(self) -> int:
        return int(2 * self.wake / self.per_user) if self.per_user > 0 else 0

    def update(self, per_user: float, wake: float) -> None:
        self.per_user = per_user if self.per_user == 0 else 0.8 * self.per_user + 0.2 * per_user
        self.wake = wake if self.wake == 0 else 0.8 * self.wake + 0.2 * wake


_timings: dict[str, _Timing] = {}


def run_in_chunks(run: Callable[[int, int], object], n_users: int, align: int, key: str = "") -> None:
    """``run(lo, hi)`` over chunks covering users 0..n_users-1, in parallel (``get_threads()``
    threads, at most one per ``MIN_CHUNK`` users). ``run`` must touch only its own users'
    rows, so results do not depend on the number of threads or on where chunks split (which
    follows the running timings of ``key``, e.g. the kernel's name). Returns when every chunk
    is done; re-raises a chunk's exception."""
    threads = min(get_threads(), max(1, n_users // MIN_CHUNK))
    if threads == 1:
        run(0, n_users)
        return
    timing = _timings.setdefault(key, _Timing())
    first, *rest = chunk_bounds(n_users, threads, align, timing.head())
    tasks = [_Task(run, lo, hi) for lo, hi in rest]
    submitted = time.perf_counter()
    for queue, task in zip(_helper_queues(len(tasks)), tasks, strict=True):
        queue.put(task)
    try:
        begun = time.perf_counter()
        run(*first)
        took = time.perf_counter() - begun
    finally:
        for task in tasks:  # never return while a helper still writes the caller's arrays
            task.finished.acquire()
    for task in tasks:
        if task.error is not None:
            raise task.error
    timing.update(took / (first[1] - first[0]), min(task.started for task in tasks) - submitted)


class _Task:
    """A chunk handed to a helper thread; ``finished`` is released when it is done."""

    __slots__ = ("error", "finished", "hi", "lo", "run", "started")

    def __init__(self, run: Callable[[int, int], object], lo: int, hi: int) -> None:
        self.run, self.lo, self.hi = run, lo, hi
        self.finished = threading.Lock()
        self.finished.acquire()
        self.error: BaseException | None = None
        self.started = 0.0


def _serve(tasks: SimpleQueue[_Task]) -> None:
    """A helper thread's life: run the chunks put on its queue, one after another."""
    while True:
        task = tasks.get()
        task.started = time.perf_counter()
        try:
            task.run(task.lo, task.hi)
        except BaseException as error:  # handed to the caller, who re-raises it
            task.error = error
        finally:
            task.finished.release()


def _helper_queues(n: int) -> list[SimpleQueue[_Task]]:
    """The task queues of the process's first ``n`` helper threads, started as needed (anew
    after a fork: the parent's threads do not exist in the child). A bare queue per thread
    rather than a ThreadPoolExecutor, whose submit alone cost ~20 us here."""
    global _helpers
    with _helpers_lock:
        if _helpers[0] != os.getpid():
            _helpers = (os.getpid(), [])
        queues = _helpers[1]
        while len(queues) < n:
            queue: SimpleQueue[_Task] = SimpleQueue()
            threading.Thread(target=_serve, args=(queue,), name=f"noveltygym-kernel-{len(queues)}",
                             daemon=True).start()
            queues.append(queue)
        return queues[:n]
