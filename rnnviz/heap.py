"""The server's heap: the imported libraries moved out of the garbage collector's way, once per process.

A full collection walks every object the process tracks. In the app's server that is over 340,000 objects before
any session exists (torch, plotly, numpy, streamlit and rnnviz themselves): 0.17 s per collection on the dev box,
holding the GIL, so every session's script, the websocket writes and the training threads' bookkeeping wait for it.
Streamlit ran one after every script run, fragments included (``runner.postScriptGC``, off in .streamlit/config.toml):
with a class's live views redrawing, that alone was over half of the server's CPU. Python's own collections still
run, and :func:`freeze_imports` makes them cheap: what is alive once the libraries are imported stays alive for the
life of the process, so the collector need not walk it again (``gc.freeze``).

    freeze_imports()            # first call: import, collect, freeze; later calls do nothing

``RNNVIZ_GC_FREEZE=0`` in the server's environment leaves the heap as it is (tests/perf/live_redraw.py measures the
difference).

Without Streamlit's collection after every run, what a closed session leaves in reference cycles (its state, its
races and their models) waits for a full collection, which Python starts rarely. So the training scheduler's idle
workers call :func:`collect_when_idle`: one full collection at most every IDLE_COLLECT_S, only while nobody trains,
then glibc's free pages go back to the system (:func:`trim`). The trainers it frees then reach their training
processes, which drop their copies (rnnviz.remote).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import threading
import time

# What every page imports, so that it is in the frozen part whichever page a server's first request opens.
MODULES = ("numpy", "torch", "plotly.graph_objects", "streamlit", "rnnviz.figures", "rnnviz.trace", "rnnviz.train")

IDLE_COLLECT_S = 30.0  # at most one full collection this often, from an idle training worker

_lock = threading.Lock()
_frozen = False


def freeze_imports(modules: tuple[str, ...] = MODULES) -> bool:
    """Import ``modules``, collect, and freeze every object alive now (``gc.freeze``); once per process. Call it
    before any session's objects exist: frozen objects are never collected, even once unreachable. Returns whether
    this call froze."""
    global _frozen
    with _lock:
        if _frozen or os.environ.get("RNNVIZ_GC_FREEZE") == "0":
            return False
        for name in modules:
            importlib.import_module(name)
        gc.collect()
        gc.freeze()
        _frozen = True
        return True


class IdleCollector:
    """One full collection when called, if the last one it ran was at least ``interval`` seconds ago (by ``clock``).
    Its own lock and time: a test's collector is not moved by the server's, whose idle workers call it every second
    in whatever process imports rnnviz.scheduler."""

    def __init__(self, interval: float = IDLE_COLLECT_S, clock=time.monotonic):
        self.interval, self.clock = interval, clock
        self.collected_at = -float("inf")
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        """Returns whether it collected."""
        with self._lock:
            now = self.clock()
            if now - self.collected_at < self.interval:
                return False
            self.collected_at = now
        gc.collect()
        trim()
        return True


_idle = IdleCollector()


def collect_when_idle() -> bool:
    """One full collection if the last one this function ran was at least IDLE_COLLECT_S ago; returns whether it ran.
    For callers that know nobody is waiting on the server (a training worker with no slice to run)."""
    return _idle()


def trim() -> None:
    """Hand glibc's free heap pages back to the system, so that the process's resident memory falls once closed
    sessions are freed instead of staying at its peak (a no-op where there is no glibc)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
