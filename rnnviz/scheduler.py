"""One scheduler per server shares the cores fairly among the sessions that train: round-robin slices.

    scheduler = default_scheduler()           # workers: cores − 1; up to 24 trainings at once, the rest queue
    job = scheduler.submit(lambda: race.advance(1000, budget_s=0.25) > 0 and race.step < 1000)
    job.state, job.position                   # "waiting" (position 1, 2, … in the queue), "playing", …
    with job.lock: race.curves()              # read what the job trains only between its slices
    job.pause()                               # a click: the job stops at its next slice boundary
    job.wait(2.0)                             # True once it has stopped

A job is a function ``work()`` that trains one slice (a fraction of a second) and returns whether there is more to
do. Worker threads, never more than ``workers``, take the active jobs in turn: a job that has run a slice goes to
the back of the line, so with n jobs and w workers each job trains about w/n of the time, and its share shrinks as
more sessions play. Past ``max_active`` jobs, a new one waits in a first-come queue until an active one stops.

Pause acts at a slice boundary: ``pause()`` only sets a flag (a click's callback returns at once, so no click is
lost behind a training slice); the worker reads it when the slice ends, and a job that is not running stops at
once. So a paused job has trained at most the one slice that was running when it was asked. A job that nobody has
looked at (``touch()``) for ``idle_s`` seconds is paused as well: a closed tab does not train on forever.

No UI and no Streamlit here; the threads are daemons started with the first job (or by ``start()``). The server's
scheduler gives each worker thread a training process of its own (rnnviz.remote): a thread training beside the
server's busy Python threads would wait for the GIL after every PyTorch operation, so a slice could last seconds.

States: waiting → playing → (pausing →) paused | done | failed; a waiting job asked to pause is paused at once.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext

WAITING, PLAYING, PAUSING, PAUSED, DONE, FAILED = "waiting", "playing", "pausing", "paused", "done", "failed"
STOPPED = (PAUSED, DONE, FAILED)
MAX_ACTIVE = 24  # trainings at once before Play queues: 20 sessions of a class share the cores, the 25th waits
IDLE_S = 60.0  # a job not looked at for this long is paused (its tab was closed or lost its connection)
LOG_ENV = "RNNVIZ_SCHEDULER_LOG"  # a file the server's scheduler appends its job events to (tests/load/sessions.py)


def server_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """Training threads: one core is left to page loads, clicks and drawing (at least one thread)."""
    return max(1, server_cores() - 1)


class RedrawCost:
    """The server's running estimate of the CPU seconds one live redraw costs, so that the redraw timer follows what
    this server, with these charts, actually spends.

    A redraw's cost is mostly outside the page's own code: Streamlit marshals the charts, the event loop serializes
    and writes them to the websocket, and all of it holds the one GIL. So the estimate is the server process's CPU
    time over a window of at least ``window_s`` seconds divided by the redraws in that window (:meth:`redrawn`), an
    exponential average over windows. It counts everything else the server did meanwhile as redraw cost too, so a
    server busy with page loads stretches the redraws as well."""

    def __init__(self, initial_s: float = 0.25, weight: float = 0.2, window_s: float = 2.0,
                 cpu: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic):
        self.value, self.weight, self.samples = float(initial_s), float(weight), 0
        self.window_s, self.cpu, self.clock = float(window_s), cpu, clock
        self._lock = threading.Lock()
        self._start: tuple[float, float] | None = None  # (clock, cpu) where the window began
        self._redraws = 0

    def _add(self, seconds: float) -> None:
        self.value += self.weight * (seconds - self.value)
        self.samples += 1

    def redrawn(self) -> None:
        """A live view has redrawn: counted in the current window, which closes into one sample once it is long
        enough."""
        now, cpu = self.clock(), self.cpu()
        with self._lock:
            if self._start is None:  # the first redraw opens the window; the CPU before it was not redrawing
                self._start = (now, cpu)
                return
            self._redraws += 1
            began, cpu0 = self._start
            if now - began >= self.window_s:
                if now - began < 10 * self.window_s:  # a window across a long quiet spell says nothing
                    self._add(max(0.0, cpu - cpu0) / self._redraws)
                self._start, self._redraws = (now, cpu), 0


redraw_cost = RedrawCost()


def redraw_tick_s(playing: int, base_s: float = 1.0, cost_s: float | None = None,
                  busy: float = 0.5, longest_s: float = 10.0) -> float:
    """Seconds between redraws of a live view: ``base_s`` while the server can afford every playing session's
    redraw, longer as more play. One redraw costs ``cost_s`` seconds of CPU (default: ``redraw_cost``, measured),
    and the redraws of all ``playing`` sessions may keep at most ``busy`` of one core busy, so that a click or a page
    load always finds the server half free. One core, whatever the machine: the server is one Python process, whose
    threads run Python one at a time (training runs in processes of its own, rnnviz.remote). At most ``longest_s``;
    in steps of half a second."""
    cost = redraw_cost.value if cost_s is None else float(cost_s)
    need = playing * cost / busy
    return float(min(longest_s, max(base_s, math.ceil(2 * need) / 2)))


class EventLog:
    """One JSON line per job event, appended to a file: ``{"t", "event", "job", "state", "slices", "step", …}``.

    Events: "submit"; "pause" (asked, with the state it was in); "slice" (one ended, with its wall ``seconds``);
    "stopped" (paused, done or failed). ``t`` is the scheduler's clock: in a server time.monotonic(), which every
    process of a Linux machine shares, so a load script can set a click beside the moment the job stopped. Off unless
    the server's environment names the file (``RNNVIZ_SCHEDULER_LOG``); nothing in it says who the session is."""

    def __init__(self, path: str | os.PathLike, clock: Callable[[], float] = time.monotonic):
        self.path, self.clock = os.fspath(path), clock
        self._lock = threading.Lock()

    def write(self, event: str, job: Job, **extra) -> None:
        step = None
        if job.progress is not None:
            try:
                step = int(job.progress())
            except Exception:  # noqa: BLE001 - a log line must never break a slice or a click
                step = None
        line = json.dumps({"t": round(self.clock(), 4), "event": event, "job": job.name, "state": job.state,
                           "slices": job.slices, "step": step, **extra})
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def read_log(path: str | os.PathLike) -> list[dict]:
    """The events an :class:`EventLog` wrote, in order (a line cut short by a crash is skipped)."""
    events = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


class Job:
    """One session's training, as the scheduler runs it. Read ``state``, ``position``, ``slices``, ``error``."""

    def __init__(self, scheduler: Scheduler, work: Callable[[], bool], name: str = "",
                 lock: threading.Lock | None = None, progress: Callable[[], int] | None = None):
        self.scheduler, self.work, self.name = scheduler, work, name
        self.progress = progress  # how far the job has got (a race's step), for the event log
        # The page reads the trained objects under it. The scheduler holds it while a slice runs, unless the job was
        # given its lock: then work() takes it itself, only where it changes what readers read.
        self.own_lock = lock is not None
        self.lock = lock if lock is not None else threading.Lock()
        self.state = WAITING
        self.slices = 0  # slices run so far
        self.error: BaseException | None = None  # what work() raised (state "failed")
        self.seen = scheduler.clock()  # last touch()
        self.idle = False  # paused because nobody looked at it for idle_s seconds
        self._pause = False
        self._running = False

    @property
    def position(self) -> int | None:
        """1 for the first job in the queue, 2 for the next…; None when not waiting."""
        return self.scheduler.position(self)

    @property
    def stopped(self) -> bool:
        return self.state in STOPPED

    def touch(self) -> None:
        """Someone is watching: keeps the job from being paused as idle."""
        self.seen = self.scheduler.clock()

    def pause(self) -> None:
        """Stop at the next slice boundary (at once when no slice is running). Returns without waiting."""
        self.scheduler.pause(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job has stopped; True if it has."""
        return self.scheduler.wait(self, timeout)


class Scheduler:
    """Round-robin training slices on at most ``workers`` threads, at most ``max_active`` jobs at once.

    ``threads=False`` starts no threads: a caller (a test) runs the slices with :meth:`run_next`."""

    def __init__(self, workers: int | None = None, max_active: int = MAX_ACTIVE, idle_s: float = IDLE_S,
                 threads: bool = True, clock: Callable[[], float] = time.monotonic,
                 setup: Callable[[], object] | None = None, log: str | os.PathLike | None = None,
                 idle: Callable[[], object] | None = None):
        self.workers = max(1, int(workers or default_workers()))
        self.setup = setup  # run first in each worker thread (rnnviz.remote starts the thread's training process)
        self.idle = idle  # run by a worker thread that found no slice to run for a second (_idle_worker)
        self.max_active = max(1, int(max_active))
        self.idle_s, self.clock, self.threads = idle_s, clock, threads
        self._cond = threading.Condition()
        self._ready: deque[Job] = deque()  # active jobs between slices, in turn order
        self._active: set[Job] = set()  # ready or running
        self._queue: deque[Job] = deque()  # waiting for a place among the active
        self._started = 0
        self.log = EventLog(log, clock) if log else None

    # Sessions' side -------------------------------------------------------------------------------------------

    def submit(self, work: Callable[[], bool], name: str = "", lock: threading.Lock | None = None,
               progress: Callable[[], int] | None = None) -> Job:
        """A new job: active at once if fewer than ``max_active`` are, else last in the queue. With ``lock``, the
        job's readers' lock is that one and ``work()`` takes it itself (see Job.lock). ``progress`` says how far the
        job has got, for the event log."""
        job = Job(self, work, name, lock, progress)
        with self._cond:
            self._queue.append(job)
            self._promote()
            self._note("submit", job)
            self._cond.notify_all()
        self._start_threads()
        return job

    @property
    def playing(self) -> int:
        """Jobs active or queued: the sessions that pressed Play and have not stopped."""
        with self._cond:
            return len(self._active) + len(self._queue)

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def position(self, job: Job) -> int | None:
        with self._cond:
            return self._queue.index(job) + 1 if job in self._queue else None

    def pause(self, job: Job) -> None:
        with self._cond:
            self._note("pause", job)
            if job.stopped:
                return
            if job._running:
                job._pause, job.state = True, PAUSING
                return
            self._remove(job)
            job.state = PAUSED
            self._note("stopped", job)
            self._promote()
            self._cond.notify_all()

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: job.stopped, timeout)

    # Workers' side --------------------------------------------------------------------------------------------

    def run_next(self, timeout: float | None = 0.0) -> Job | None:
        """Run one slice of the job whose turn it is; returns it (None if no job was ready within ``timeout``)."""
        with self._cond:
            self._pause_idle()
            if not self._cond.wait_for(lambda: self._ready, timeout):
                return None
            job = self._ready.popleft()
            job._running = True
        more, error, began = False, None, time.monotonic()
        with nullcontext() if job.own_lock else job.lock:
            try:
                more = bool(job.work())
            except Exception as err:  # noqa: BLE001 - the session shows it; the worker goes on with the others
                error = err
        with self._cond:
            job._running = False
            job.slices += 1
            self._note("slice", job, seconds=round(time.monotonic() - began, 4))
            if error is not None or not more or job._pause:
                self._active.discard(job)
                job.error = error
                job.state = FAILED if error is not None else PAUSED if more else DONE
                self._note("stopped", job)
                self._promote()
            else:
                self._ready.append(job)  # the back of the line: every other job runs a slice first
            self._cond.notify_all()
        return job

    def _worker(self) -> None:
        if self.setup is not None:
            try:
                self.setup()
            except Exception:  # noqa: BLE001 - a slice that needs what setup() made will fail visibly instead
                pass
        while True:
            if self.run_next(timeout=1.0) is None and self.idle is not None:
                try:
                    self.idle()
                except Exception:  # noqa: BLE001 - housekeeping; the next slice reports a broken process itself
                    pass

    def start(self) -> None:
        """Start the worker threads now (they start with the first job otherwise)."""
        self._start_threads()

    def _start_threads(self) -> None:
        if not self.threads:
            return
        with self._cond:
            start, self._started = self.workers - self._started, self.workers
        for i in range(start):
            threading.Thread(target=self._worker, name=f"rnnviz-trainer-{i}", daemon=True).start()

    # Bookkeeping (the caller holds self._cond) --------------------------------------------------------------------

    def _promote(self) -> None:
        while self._queue and len(self._active) < self.max_active:
            job = self._queue.popleft()
            job.state = PLAYING
            self._active.add(job)
            self._ready.append(job)

    def _remove(self, job: Job) -> None:
        for line in (self._ready, self._queue):
            if job in line:
                line.remove(job)
        self._active.discard(job)

    def _pause_idle(self) -> None:
        now = self.clock()
        for job in [j for j in (*self._ready, *self._queue) if now - j.seen > self.idle_s]:
            self._remove(job)
            job.state, job.idle = PAUSED, True
            self._note("stopped", job, idle=True)
        self._promote()

    def _note(self, event: str, job: Job, **extra) -> None:
        if self.log is not None:
            self.log.write(event, job, **extra)


def _start_process() -> None:
    """Each worker thread's training process (rnnviz.remote), started before the first slice needs it."""
    from .remote import thread_process

    if (proc := thread_process()) is not None:
        proc.start()


def _idle_worker() -> None:
    """A worker with no slice to run: now and then a full collection, which frees closed sessions' trainers (they sit
    in reference cycles, rnnviz.heap); then its training process hears which trainers were freed (TrainerProcess.flush).
    """
    from .heap import collect_when_idle
    from .remote import thread_process

    collect_when_idle()
    if (proc := thread_process()) is not None:
        proc.flush()


_default: Scheduler | None = None
_default_lock = threading.Lock()


def default_scheduler() -> Scheduler:
    """The server's scheduler, made on first use. ``RNNVIZ_TRAIN_WORKERS`` (default: cores − 1, at least 1) and
    ``RNNVIZ_MAX_TRAININGS`` (default MAX_ACTIVE) in the environment override its sizes; ``RNNVIZ_SCHEDULER_LOG``
    names a file for its event log (EventLog)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Scheduler(workers=int(os.environ.get("RNNVIZ_TRAIN_WORKERS") or default_workers()),
                                 max_active=int(os.environ.get("RNNVIZ_MAX_TRAININGS") or MAX_ACTIVE),
                                 setup=_start_process, log=os.environ.get(LOG_ENV) or None, idle=_idle_worker)
        return _default
