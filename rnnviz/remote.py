"""Training slices in a process of their own, so that a busy server's Python threads cannot starve them.

Why a process and not a thread: PyTorch lets go of the GIL around each operation and must take it back after. In a
server whose threads keep the GIL busy (Streamlit reruns, Plotly figures, many sessions), a training thread waits
up to the switch interval (5 ms) after each of the hundreds of operations in a step. Measured on the 2-core dev
box (``python -m rnnviz.remote --probe``): a recall race of RNN and LSTM ran 83 steps/s in an idle server's thread,
0.2 steps/s in a thread beside 4 threads busy with Python, and 31 steps/s in a process beside them. A slice of 0.25 s
in such a thread took seconds, and so did a Pause. A process has its own GIL.

    proc = TrainerProcess()                      # starts `python -m rnnviz.remote` on first use
    done = proc.advance(race.task, race.live, steps=500, budget_s=0.25, flow=True)
    proc.close()

Each call sends the trainers' state (weights, optimizer state and generator as numpy arrays, the counters, the last
validation record) and the task's key. The process keeps a copy of each trainer (model, optimizer, settings) and each
task, both sent once when it asks for them; it loads the state into the copy, trains it with the same code as
in-process training (:func:`advance_trainers`), and sends back the new state and history records. :func:`apply` puts
them into the server's trainers, so what pages read always lives in the server. The same steps give the same weights
as training in-process.

Callbacks: the process replays nothing but the slice's last validation pass ("eval"), on the server, with the
weights and history the trainer had then, so that a Race's snapshot of the model at that step is what it was.

Messages are pickles between this server and the child it started, over the child's stdin and stdout; nothing a
user uploads is unpickled here (an uploaded file is read as weights by rnnviz.checkpoint, never by pickle).
"""

from __future__ import annotations

import copy
import gc
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from .errors import RnnvizError
from .heap import trim
from .train import History, Trainer

ENV = "RNNVIZ_TRAIN_PROCESSES"  # "0" trains in the server's own threads (the behaviour before this module)
# The training process's niceness (Linux: 0 to 19). 0 by default: at 10, on a machine whose cores were all busy (the
# browsers of a test on the same box), training got so little CPU that one Step took 16 s.
NICE_ENV, DEFAULT_NICE = "RNNVIZ_TRAIN_NICE", "0"
READ_WAIT_S = 0.05  # how long a slice waits for a page that is reading its race before it gives its turn away
WALL_BUDGETS = 4  # a slice's wall time is at most this many budgets (of CPU time), so a Pause waits 1 s at most
TASKS_KEPT = 32  # tasks a training process keeps (a class of 24 may train on 24); another is sent when needed
TRAINERS_KEPT = 256  # trainers' copies it keeps (a class of 24 racing five cells is 120)
_HEADER = struct.Struct(">Q")
ROOT = Path(__file__).resolve().parents[1]  # where `rnnviz` is imported from, whatever the server's directory


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip() not in ("0", "false", "no", "off")


def advance_trainers(trainers: list[Trainer], steps: int, budget_s: float | None = None,
                     cpu: Callable[[], float] = time.thread_time, wall: Callable[[], float] = time.perf_counter) -> int:
    """Up to ``steps`` more steps for every trainer that has not diverged, in equal chunks so that they stay level.

    With ``budget_s`` it returns once it has spent that many seconds of this thread's CPU time (after at least one
    step), growing the chunk as it learns the time per step. CPU time, not wall time: on a machine whose cores are
    shared (20 sessions' browsers beside the server), slices of 0.25 s of wall time trained 1 to 38 steps (median 12)
    of races whose steps cost within 1.4 times of each other, as the process got the cores or not; slices that were
    fair in turns were not fair in work. So that a starved process still answers a Pause, a slice also ends after
    WALL_BUDGETS budgets of wall time, and its chunks are sized to fit in that too. Returns the steps taken."""
    start_cpu, start_wall, done = cpu(), wall(), 0
    chunk = 1 if budget_s is not None else steps
    live = [t for t in trainers if not t.diverged]
    while done < steps and live:
        n = min(chunk, steps - done)
        cpu0, wall0 = cpu(), wall()
        for trainer in live:
            trainer.step(n)
        done += n
        live = [t for t in live if not t.diverged]
        if budget_s is not None:
            cpu1, wall1 = cpu(), wall()
            left = budget_s - (cpu1 - start_cpu)
            wall_left = WALL_BUDGETS * budget_s - (wall1 - start_wall)
            if left <= 0 or wall_left <= 0:
                break
            fits = [left / ((cpu1 - cpu0) / n) if cpu1 > cpu0 else 2 * n,
                    wall_left / ((wall1 - wall0) / n) if wall1 > wall0 else 2 * n]
            chunk = max(1, min(2 * n, int(min(fits))))
    return done


# Server side -------------------------------------------------------------------------------------------------------
#
# The server must not run PyTorch operations per slice either: each one lets go of the GIL and waits to get it back,
# as above. So state crosses as numpy arrays, and goes into the server's tensors through numpy views of their memory
# copied by memoryview, which keeps the GIL throughout. The child keeps a copy of each trainer (its model, optimizer
# and settings), sent once as a pickle, and loads the state into it at each slice.


def task_key(task) -> str:
    """A key for ``task`` that no other task object ever gets (ids are reused; this is not)."""
    key = getattr(task, "_remote_key", None)
    if key is None:
        key = task._remote_key = uuid.uuid4().hex
    return key


def trainer_key(trainer: Trainer) -> str:
    key = trainer.__dict__.get("_remote_key")
    if key is None:
        key = trainer.__dict__["_remote_key"] = uuid.uuid4().hex
        weakref.finalize(trainer, _forget, key)  # its session has ended: the children drop their copies
    return key


_processes: weakref.WeakSet = weakref.WeakSet()  # every TrainerProcess, for _forget


def _forget(key: str) -> None:
    """A trainer is gone: each training process drops its copy at its next call (TrainerProcess.flush). Runs as the
    trainer is freed, in whatever thread frees it, so it only appends to deques (atomic, no lock to deadlock on)."""
    for proc in list(_processes):
        proc._forgotten.append(key)


def export(trainer: Trainer) -> Trainer:
    """A shallow copy of ``trainer`` to pickle once for a child: no task, no callbacks, no history, no gradient
    flows (its state comes with every slice, see :func:`state`)."""
    out = copy.copy(trainer)
    out.task, out.callbacks = None, []
    out.history = History(steps=[], evals=trainer.history.evals[-1:])
    out.flows = dict.fromkeys(trainer.flows)
    out.__dict__.pop("_remote_views", None)
    return out


def _fill(view: np.ndarray, data: np.ndarray) -> None:
    """``view[...] = data`` with the GIL held throughout (numpy and torch let it go for large copies)."""
    data = np.ascontiguousarray(data, dtype=view.dtype).reshape(view.shape)
    memoryview(view).cast("B")[:] = memoryview(data).cast("B")


def _params(trainer: Trainer) -> list:
    return [p for group in trainer.optimizer.param_groups for p in group["params"]]


def _views(trainer: Trainer) -> dict:
    """Numpy views of the server trainer's weights, made once (a PyTorch call each), and of its optimizer state,
    as (tensor, view) pairs made by :func:`_put_optimizer`."""
    views = trainer.__dict__.get("_remote_views")
    if views is None or views["model_id"] != id(trainer.model):
        views = {"model_id": id(trainer.model),
                 "model": {k: v.numpy() for k, v in trainer.model.state_dict().items()}, "optimizer": {}}
        trainer.__dict__["_remote_views"] = views
    return views


def _optimizer_view(views: dict, i: int, k: str, value):
    """The numpy view of optimizer state ``value`` (slot ``k`` of parameter ``i``), or None if it is not a tensor."""
    if not isinstance(value, torch.Tensor):
        return None
    held = views["optimizer"].get((i, k))
    if held is None or held[0] is not value:  # a tensor this module did not make, or replaced since
        held = views["optimizer"][(i, k)] = (value, value.detach().numpy())
    return held[1]


def state(trainer: Trainer) -> dict:
    """What a slice starts from: weights, optimizer state and generator as numpy arrays, and the counters."""
    views = _views(trainer)
    optimizer = {}
    for i, p in enumerate(_params(trainer)):
        for k, v in trainer.optimizer.state.get(p, {}).items():
            view = _optimizer_view(views, i, k, v)
            optimizer.setdefault(i, {})[k] = v if view is None else view
    return {"model": views["model"], "optimizer": optimizer, "generator": trainer.generator.get_state().numpy(),
            "step_count": trainer.step_count, "seconds": trainer.seconds, "diverged": trainer.diverged,
            "evals": trainer.history.evals[-1:], "flows": list(trainer.flows)}


def _merge_evals(history: History, records: Iterable[dict]) -> None:
    for record in records:
        if history.evals and history.evals[-1]["step"] == record["step"]:
            history.evals[-1] = record
        elif not history.evals or record["step"] > history.evals[-1]["step"]:
            history.evals.append(record)


def _put_optimizer(trainer: Trainer, optimizer: dict) -> None:
    views = _views(trainer)
    params = _params(trainer)
    for i, entries in optimizer.items():
        slot = trainer.optimizer.state[params[i]]
        for k, v in entries.items():
            view = _optimizer_view(views, i, k, slot.get(k))
            if view is not None and isinstance(v, np.ndarray) and view.shape == v.shape and view.dtype == v.dtype:
                _fill(view, v)
            elif isinstance(v, np.ndarray):
                array = np.array(v, copy=True)
                slot[k] = tensor = torch.from_numpy(array)  # shares the array's memory: later slices fill it
                views["optimizer"][(i, k)] = (tensor, array)
            else:
                slot[k] = v


def apply(trainer: Trainer, result: dict) -> None:
    """Put a slice's result (see :func:`_train`) into the server's ``trainer``.

    The slice's last validation pass is replayed first, with the step and history of that moment and its weights
    in ``trainer.eval_weights`` (numpy), so that a callback (a Race's snapshot) sees the trainer as in-process
    training would have shown it, and can copy the weights when it needs a model."""
    steps, evals = result["steps"], result["evals"]
    if result["last_eval"] is not None:
        at, weights = result["last_eval"]
        trainer.history.steps.extend(r for r in steps if r["step"] <= at)
        _merge_evals(trainer.history, (r for r in evals if r["step"] <= at))
        steps, evals = [r for r in steps if r["step"] > at], [r for r in evals if r["step"] > at]
        trainer.step_count, trainer.eval_weights = at, weights
        try:
            trainer._fire("eval", trainer.history.evals[-1])
        finally:
            trainer.eval_weights = None
    trainer.history.steps.extend(steps)
    _merge_evals(trainer.history, evals)
    for name, view in _views(trainer)["model"].items():
        _fill(view, result["model"][name])
    _put_optimizer(trainer, result["optimizer"])
    trainer.generator.set_state(torch.from_numpy(result["generator"]))
    trainer.step_count, trainer.seconds, trainer.diverged = result["step_count"], result["seconds"], result["diverged"]
    trainer.flows.update(result["flows"])


def load_weights(model, weights: dict) -> None:
    """Copy numpy ``weights`` ({state_dict name: array}) into ``model`` (a copy, say), GIL held."""
    for name, tensor in model.state_dict().items():
        _fill(tensor.numpy(), weights[name])


class TrainerProcess:
    """One child process that trains slices for whoever calls :meth:`advance` (one call at a time)."""

    def __init__(self, env: dict | None = None, command: list[str] | None = None):
        self._env = env
        self._command = command or [sys.executable, "-m", "rnnviz.remote"]  # a test may start another child
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.started = 0  # processes started so far (a crashed one is replaced on the next call)
        self.tasks_sent = 0  # tasks sent to a process that asked for them
        self.trainers_sent = 0  # trainers' copies sent likewise
        self.forgotten_sent = 0  # keys of freed trainers whose copies the child was told to drop
        self._forgotten: deque[str] = deque()  # such keys not yet sent (_forget)
        _processes.add(self)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        """Start the child now rather than on the first slice (it imports torch: a few seconds)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
            env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": path,
                   **(self._env or {})}
            self._proc = subprocess.Popen(self._command, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, env=env)
            self.started += 1
        return self._proc

    def _call(self, message: tuple) -> tuple:
        proc = self._ensure()
        try:
            _write(proc.stdin, message)
            data = _read(proc.stdout)
            reply = None if data is None else _loads(data)
        except (BrokenPipeError, OSError, EOFError, pickle.UnpicklingError):
            reply = None
        if reply is None:
            self.close()
            raise RnnvizError("The training process stopped unexpectedly (out of memory?). Press Play again.")
        return reply

    def advance(self, task, trainers: list[Trainer], steps: int, budget_s: float | None = None,
                flow: bool = False, lock=None) -> int:
        """Train ``trainers`` (on ``task``) in the child as :func:`advance_trainers` would here; with ``flow``, take
        each one's gradient flow at the step it ends on. Returns the steps taken.

        ``lock`` (a readers' lock) is held while the trainers are read and while the results go into them, not while
        the child trains: a page can read them meanwhile."""
        lock = lock if lock is not None else nullcontext()
        if not _acquire(lock, READ_WAIT_S):  # a page is reading the race: this slice goes to another job
            return 0
        try:
            trainers = [t for t in trainers if not t.diverged]
            if not trainers or steps <= 0:
                return 0
            key, keys = task_key(task), [trainer_key(t) for t in trainers]
            message = ("advance", key, [(k, state(t)) for k, t in zip(keys, trainers, strict=True)], int(steps),
                       budget_s, bool(flow))
        finally:
            lock.__exit__(None, None, None)
        with self._lock:
            self._send_forgotten()
            reply = self._call(message)
            for _ in range(2):  # a new child asks for the task, then for the trainers
                if reply[0] == "need_task":
                    self._call(("task", key, task))
                    self.tasks_sent += 1
                elif reply[0] == "need_trainers":
                    with lock:
                        copies = {k: export(t) for k, t in zip(keys, trainers, strict=True) if k in reply[1]}
                    self._call(("trainers", copies))
                    self.trainers_sent += len(copies)
                else:
                    break
                reply = self._call(message)
        if reply[0] == "error":
            raise reply[1]
        done, results = reply[1], reply[2]
        with lock:
            for trainer, result in zip(trainers, results, strict=True):
                apply(trainer, result)
        return done

    def flush(self) -> None:
        """Tell the child now which trainers were freed (a scheduler's worker does, when it has no slice to run), so
        that their copies do not outlive the sessions that trained them. A child that has died is left alone: a new
        one starts empty."""
        if self._forgotten:
            with self._lock:
                try:
                    self._send_forgotten()
                except RnnvizError:
                    pass

    def _send_forgotten(self) -> None:
        """The caller holds self._lock."""
        keys = []
        while self._forgotten:
            keys.append(self._forgotten.popleft())
        if keys and self._proc is not None and self._proc.poll() is None:
            self._call(("forget", keys))
            self.forgotten_sent += len(keys)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _acquire(lock, timeout: float) -> bool:
    if isinstance(lock, nullcontext):
        return True
    if hasattr(lock, "acquire"):
        return lock.acquire(timeout=timeout)
    lock.__enter__()
    return True


_local = threading.local()


def thread_process() -> TrainerProcess | None:
    """This thread's training process (a scheduler's worker thread has one each); None when ``RNNVIZ_TRAIN_PROCESSES``
    is 0."""
    if not enabled():
        return None
    proc = getattr(_local, "process", None)
    if proc is None:
        proc = _local.process = TrainerProcess()
    return proc


# Child side --------------------------------------------------------------------------------------------------------


def _write(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read(stream) -> bytes | None:
    """The next message's bytes, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def _loads(data: bytes):
    return pickle.loads(data)  # noqa: S301 - a pickle made by this server or its own child, never by a user


def _load(trainer: Trainer, state: dict, task) -> None:
    """The child's copy of a trainer, brought to the server's ``state``."""
    with torch.no_grad():
        for name, tensor in trainer.model.state_dict().items():
            tensor.copy_(torch.from_numpy(np.asarray(state["model"][name])))
    params = _params(trainer)
    trainer.optimizer.state.clear()
    for i, entries in state["optimizer"].items():
        trainer.optimizer.state[params[i]] = {
            k: torch.from_numpy(np.array(v, copy=True)) if isinstance(v, np.ndarray) else v for k, v in entries.items()}
    trainer.generator.set_state(torch.from_numpy(np.array(state["generator"], copy=True)))
    trainer.step_count, trainer.seconds, trainer.diverged = state["step_count"], state["seconds"], state["diverged"]
    trainer.history = History(steps=[], evals=list(state["evals"]))
    trainer.flows = dict.fromkeys(state["flows"])
    trainer.task, trainer.stop = task, False


def _numpy(sd: dict) -> dict:
    return {k: v.detach().numpy().copy() for k, v in sd.items()}


def _train(task, trainers: list[Trainer], steps: int, budget_s: float | None, flow: bool) -> tuple[int, list]:
    last: dict[int, tuple] = {}

    def on_event(trainer: Trainer, event: str, record: dict) -> None:
        if event == "eval" and trainer.step_count > 0:
            last[id(trainer)] = (trainer.step_count, _numpy(trainer.model.state_dict()))

    for trainer in trainers:
        trainer.callbacks = [on_event]
    done = advance_trainers(trainers, steps, budget_s)
    results = []
    for trainer in trainers:
        if flow and not trainer.diverged and trainer.flows.get(trainer.step_count) is None:
            trainer.flows.pop(trainer.step_count, None)
            trainer.snapshot_flow()
        params = _params(trainer)
        optimizer = {i: {k: v.detach().numpy().copy() if isinstance(v, torch.Tensor) else v
                         for k, v in trainer.optimizer.state[p].items()}
                     for i, p in enumerate(params) if p in trainer.optimizer.state}
        results.append({
            "steps": trainer.history.steps, "evals": trainer.history.evals, "last_eval": last.get(id(trainer)),
            "model": _numpy(trainer.model.state_dict()), "optimizer": optimizer,
            "generator": trainer.generator.get_state().numpy(), "step_count": trainer.step_count,
            "seconds": trainer.seconds, "diverged": trainer.diverged,
            "flows": {s: dh for s, dh in trainer.flows.items() if dh is not None},
        })
    return done, results


def _release_memory() -> None:
    """Free what dropped copies held, and hand the free pages back to the system (rnnviz.heap.trim)."""
    gc.collect()
    trim()


def serve(stdin, stdout) -> None:
    """The child's loop. ("task", key, task) and ("trainers", {key: trainer}) store what later slices use;
    ("advance", task key, [(trainer key, state)], steps, budget_s, flow) trains and answers ("ok", steps done,
    results), ("need_task",), ("need_trainers", keys) or ("error", exception)."""
    torch.set_num_threads(1)
    try:  # an operator may put interactive work first (RNNVIZ_TRAIN_NICE)
        os.nice(int(os.environ.get(NICE_ENV, DEFAULT_NICE)))
    except (OSError, ValueError, AttributeError):
        pass
    tasks: OrderedDict[str, object] = OrderedDict()
    copies: OrderedDict[str, Trainer] = OrderedDict()
    while (data := _read(stdin)) is not None:
        try:
            message = _loads(data)
        except Exception as err:  # noqa: BLE001 - answered, so the server is not left waiting
            _write(stdout, ("error", RnnvizError("The training process could not read a message: {what}",
                                                 what=f"{type(err).__name__}: {err}")))
            continue
        if message[0] == "task":
            tasks[message[1]] = message[2]
            while len(tasks) > TASKS_KEPT:
                tasks.popitem(last=False)
            _write(stdout, ("stored",))
            continue
        if message[0] == "forget":
            for k in message[1]:
                copies.pop(k, None)
            _release_memory()
            _write(stdout, ("stored",))
            continue
        if message[0] == "trainers":
            copies.update(message[1])
            while len(copies) > TRAINERS_KEPT:
                copies.popitem(last=False)
            _write(stdout, ("stored",))
            continue
        _, key, states, steps, budget_s, flow = message
        if key not in tasks:
            _write(stdout, ("need_task",))
            continue
        if missing := [k for k, _ in states if k not in copies]:
            _write(stdout, ("need_trainers", missing))
            continue
        tasks.move_to_end(key)
        try:
            trainers = []
            for k, st in states:
                copies.move_to_end(k)
                _load(copies[k], st, tasks[key])
                trainers.append(copies[k])
            _write(stdout, ("ok", *_train(tasks[key], trainers, steps, budget_s, flow)))
        except Exception as err:  # noqa: BLE001 - the server shows it on the session's page
            for k, _ in states:
                copies.pop(k, None)  # half-trained: the next slice starts again from the server's copy
            try:
                pickle.dumps(err)
            except Exception:  # noqa: BLE001 - an exception that does not pickle goes as its text
                err = RnnvizError("Training failed: {what}", what=f"{type(err).__name__}: {err}")
            _write(stdout, ("error", err))


def probe(busy_threads: int = 4, seconds: float = 2.0) -> None:
    """Print steps/s of a recall race alone, beside busy Python threads, and in a process beside them."""
    from .race import Race, RaceConfig

    def rate(train) -> float:
        race = Race(RaceConfig())
        train(race, 3, None)
        t0 = time.perf_counter()
        n = train(race, 10**6, seconds)
        return n / (time.perf_counter() - t0)

    def here(race, steps, budget):
        return race.advance(steps, budget_s=budget)

    proc = TrainerProcess()
    proc.start()

    def there(race, steps, budget):
        return proc.advance(race.task, race.live, steps, budget)

    print(f"in a thread, server idle:                {rate(here):7.1f} steps/s")
    stop = threading.Event()

    def busy():
        x = 0
        while not stop.is_set():
            for i in range(10000):
                x += i * i

    threads = [threading.Thread(target=busy, daemon=True) for _ in range(busy_threads)]
    for th in threads:
        th.start()
    print(f"in a thread, {busy_threads} threads busy with Python: {rate(here):7.1f} steps/s")
    print(f"in a process, {busy_threads} threads busy:          {rate(there):7.1f} steps/s")
    stop.set()
    proc.close()


def main() -> None:
    if "--probe" in sys.argv[1:]:
        probe()
        return
    stdin, stdout = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to the server's log, not into the messages
    try:
        serve(stdin, stdout)
    except (BrokenPipeError, KeyboardInterrupt):  # the server has gone: so does its training process
        pass


if __name__ == "__main__":
    main()
