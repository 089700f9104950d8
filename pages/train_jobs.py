"""/train's side of the server's training scheduler (rnnviz.scheduler): a session's race trains as one job.

Play submits a job that trains the race in slices of SLICE_S seconds, taking turns with every other session's; the
live fragment only draws. Pause and Reset call :func:`stop`, which sets the job's flag and returns at once: the
worker stops at the end of the slice it is running, and until then the page says "pausing…". The job is kept in
st.session_state, the scheduler is one per server process.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext

import streamlit as st

from pages.i18n import t
from rnnviz.race import MAX_RACE_STEPS, Race
from rnnviz.remote import thread_process
from rnnviz.scheduler import PAUSING, PLAYING, WAITING, Job, default_scheduler, redraw_cost, redraw_tick_s

JOB = "train_job"  # session_state: the rnnviz.scheduler.Job training this session's race, or None
SLICE_S = 0.25  # training per turn: a Pause waits at most this (or one step, if longer)
PAUSING_TICK_S = 0.5  # the live view's timer while a pause is under way
PAUSE_SETTLE_S = 0.3  # Pause's callback waits this long at most for the slice under way to end
BASE_TICK_S = 1.0  # the live view's timer while few sessions train; each tick redraws four charts


def current() -> Job | None:
    return st.session_state.get(JOB)


def active() -> bool:
    """A job trains (or waits in the queue, or is pausing) for this session."""
    job = current()
    return job is not None and not job.stopped


def training() -> bool:
    """The job trains or waits for its turn, and nobody asked it to pause."""
    job = current()
    return job is not None and job.state in (PLAYING, WAITING)


def start(race: Race, until: int, kind: str = "play") -> Job:
    """Hand ``race`` to the scheduler until it reaches step ``until``, every model diverged, or :func:`stop`. ``kind``
    ("play" or "step") names the job in the scheduler's event log, with the race's token."""
    stop(wait=True)  # one job per race: never two workers on one race

    lock = threading.Lock()  # the page reads the race under it; the slice holds it only to read and update the race

    def work() -> bool:
        # In the worker thread's own training process (rnnviz.remote), which also takes the gradient flow the
        # live view draws; in this thread when RNNVIZ_TRAIN_PROCESSES=0.
        process = thread_process()
        race.advance(until - race.step, budget_s=SLICE_S, process=process, flow=True, lock=lock)
        with lock:
            return race.step < min(until, MAX_RACE_STEPS) and bool(race.live)

    job = st.session_state[JOB] = default_scheduler().submit(work, name=f"{kind}:{race.token}", lock=lock,
                                                             progress=lambda: race.step)
    return job


def warm() -> None:
    """Start the scheduler's threads and their training processes as /train opens, so the first Play does not wait
    for them."""
    default_scheduler().start()


def stop(wait: bool = False, settle_s: float = 0.0) -> None:
    """Ask this session's job to stop at its next slice boundary; with ``wait``, until it has (one slice at most).
    ``settle_s``: wait that long at most, so that a slice about to end ends before the page draws, and the page shows
    the pause at once rather than "pausing…" and a redraw later (Pause: PAUSE_SETTLE_S)."""
    job = current()
    if job is not None:
        job.pause()
        if wait:
            job.wait()
        elif settle_s > 0:
            job.wait(settle_s)


def lock(job: Job | None = None):
    """Hold while reading or changing the race: the worker trains it only between the reader's turns."""
    job = job or current()
    return job.lock if job is not None else nullcontext()


def tick_s() -> float | None:
    """The live view's timer: None when no job runs; longer as more sessions of the server train."""
    job = current()
    if job is None or job.stopped:
        return None
    if job.state == PAUSING:
        return PAUSING_TICK_S
    return redraw_tick_s(default_scheduler().playing, base_s=BASE_TICK_S)


def redrawn() -> None:
    """A live view has redrawn: counted into the server's estimate of what a redraw costs (RedrawCost)."""
    redraw_cost.redrawn()


def status() -> str:
    """What the progress line adds: playing, pausing…, or the place in the queue."""
    job = current()
    if job is None or job.stopped:
        return ""
    if job.state == WAITING:
        return t(" · waiting for a free trainer: number {n} in the queue", n=job.position or 1)
    if job.state == PAUSING:
        return t(" · pausing…")
    return t(" · playing")


def tick_note(tick: float | None) -> str | None:
    """A caption when the redraws are spaced out because many sessions train."""
    if tick is None or tick <= BASE_TICK_S or (job := current()) is None or job.state == PAUSING:
        return None
    return t("Redrawing every {s:g} s rather than every second: {n} sessions are training on this server, and the "
             "cores are shared between them.", s=tick, n=default_scheduler().playing)


def run_steps(race: Race, until: int, budget_s: float) -> Job:
    """Step's training: a job like Play's, waited for up to ``budget_s`` seconds, then stopped at a slice boundary."""
    job = start(race, until, kind="step")
    if not job.wait(budget_s):
        job.pause()
        job.wait()
    return job
