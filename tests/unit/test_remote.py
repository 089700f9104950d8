"""rnnviz.remote: a race trained in a child process ends exactly where the same race trained here ends (weights,
optimizer, histories, snapshots, gradient flows); the task goes once per process; a crash or an error in the child
reaches the caller as an error and leaves the server's trainers as they were. Nothing here is timed."""

from __future__ import annotations

import os
import signal
import threading
import uuid

import pytest
import torch
from torch.overrides import TorchFunctionMode

import rnnviz.race as race_module
from rnnviz import InitConfig, RnnvizError, remote
from rnnviz.race import Race, RaceConfig
from rnnviz.remote import TrainerProcess, export, thread_process
from rnnviz.scheduler import Scheduler


@pytest.fixture(scope="module", autouse=True)
def neighbour():
    """What a test process has once an AppTest has started the server's scheduler: another thread's training process
    (an idle worker's) telling its child, every 10 ms, which trainers were freed; and each freed key
    reaching every process, these tests' too. A spy on the TrainerProcess class once saw those messages and failed
    in CI; here they are always there."""
    other = TrainerProcess()
    other.start()
    stop = threading.Event()

    def idle_worker():
        while not stop.wait(0.01):  # several times within a slice's READ_WAIT_S (50 ms)
            remote._forget(uuid.uuid4().hex)  # some session's trainer was freed
            other.flush()

    thread = threading.Thread(target=idle_worker, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()
    assert other.forgotten_sent > 0  # it did send while these tests ran
    other.close()


@pytest.fixture(scope="module")
def proc():
    p = TrainerProcess()
    yield p
    p.close()


def race(task="recall", cells=("rnn", "lstm"), **kw) -> Race:
    params = {"recall": (("lag", 4),), "sine": (), "letters": ()}[task]
    config = RaceConfig(task=task, params=params, cells=cells, hidden_size=8, batch_size=8, **kw)
    return Race(config, eval_every=7)


def without_seconds(records: list[dict]) -> str:
    """The records without their durations, as text: a diverged step's NaN loss equals itself there."""
    return repr([{k: v for k, v in r.items() if k != "seconds"} for r in records])


def assert_same(here: Race, there: Race) -> None:
    for cell, a in here.trainers.items():
        b = there.trainers[cell]
        assert a.step_count == b.step_count and a.diverged == b.diverged
        for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
            assert torch.equal(x, y)
        sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
        assert sa.keys() == sb.keys()
        for i in sa:
            for name in sa[i]:
                assert torch.equal(torch.as_tensor(sa[i][name]), torch.as_tensor(sb[i][name]))
        assert torch.equal(a.generator.get_state(), b.generator.get_state())
        assert without_seconds(a.history.steps) == without_seconds(b.history.steps)
        assert repr(a.history.evals) == repr(b.history.evals)
        assert a.flows.keys() == b.flows.keys()
        for s in a.flows:
            assert (a.flows[s] == b.flows[s]).all()
    assert here.snapshots.keys() == there.snapshots.keys()
    for cell, (model, card) in here.snapshots.items():
        other, other_card = there.snapshots[cell]
        assert card == other_card
        for x, y in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
            assert torch.equal(x, y)


@pytest.mark.parametrize("task, cells", [("recall", ("rnn", "lstm")), ("letters", ("gru",)),
                                         ("sine", ("lstm", "leaky"))])
def test_a_race_trained_in_the_process_ends_where_training_here_ends(proc, task, cells):
    here, there = race(task, cells), race(task, cells)
    for steps in (5, 9, 16):  # slices that end between validation passes (every 7 steps) and on one (step 30)
        assert here.advance(steps) == there.advance(steps, process=proc) == steps
    here.snapshot_flows()
    there.snapshot_flows()
    assert there.step == 30
    assert_same(here, there)
    assert there.snapshots["lstm" if "lstm" in cells else cells[0]][1]["training"]["steps"] == 28  # the last pass


def test_flow_is_taken_in_the_process_at_the_step_a_slice_ends_on(proc):
    here, there = race(), race()
    here.advance(12)
    here.snapshot_flows()  # here, after the slice
    there.advance(12, process=proc, flow=True)  # there, at the end of the slice
    assert {c: sorted(t.flows) for c, t in there.trainers.items()} == {"rnn": [0, 12], "lstm": [0, 12]}
    assert_same(here, there)


def test_a_diverging_cell_stops_there_as_it_does_here(proc):
    kw = dict(optimizer="sgd", lr=10.0, clip=None, init=InitConfig(forget_bias=1.0))
    config = RaceConfig(task="adding", params=(("length", 10),), cells=("rnn", "lstm"), hidden_size=8, **kw)
    here, there = Race(config), Race(config)
    here.advance(60)
    there.advance(60, process=proc)
    assert there.diverged and there.diverged == here.diverged
    assert_same(here, there)
    assert there.advance(5, process=proc) == 0


def test_the_task_is_sent_once_per_process_and_again_to_a_new_one():
    p = TrainerProcess()
    try:
        one, two = race(), race()
        one.advance(2, process=p)
        one.advance(2, process=p)
        assert (p.started, p.tasks_sent, p.trainers_sent) == (1, 1, 2)  # the task and each trainer once
        two.advance(2, process=p)  # another race, another task object: sent too
        assert p.tasks_sent == 2
        p.close()
        one.advance(2, process=p)  # a new process asks for it again
        assert (p.started, p.tasks_sent) == (2, 3)
    finally:
        p.close()


def test_a_process_that_died_between_slices_is_replaced_and_training_goes_on():
    p = TrainerProcess()
    try:
        r = race()
        r.advance(3, process=p)
        os.kill(p.pid, signal.SIGKILL)
        p._proc.wait()
        assert r.advance(3, process=p) == 3 and p.started == 2 and p.tasks_sent == 2 and r.step == 6
    finally:
        p.close()


def test_a_process_that_dies_during_a_slice_is_an_error_and_the_trainers_are_as_they_were(monkeypatch):
    p = TrainerProcess()
    try:
        r = race()
        r.advance(3, process=p)
        before = {c: (t.step_count, len(t.history.steps)) for c, t in r.trainers.items()}
        original = remote._write

        def write_then_die(stream, obj):
            original(stream, obj)
            if obj[0] == "advance" and stream is p._proc.stdin:  # this process's slice, not another thread's
                os.kill(p.pid, signal.SIGKILL)

        monkeypatch.setattr(remote, "_write", write_then_die)
        with pytest.raises(RnnvizError, match="training process stopped"):
            r.advance(3, process=p)
        monkeypatch.setattr(remote, "_write", original)
        assert {c: (t.step_count, len(t.history.steps)) for c, t in r.trainers.items()} == before
        assert r.advance(3, process=p) == 3 and p.started == 2 and r.step == 6
    finally:
        p.close()


def test_an_error_in_the_process_is_raised_here_and_changes_nothing(proc):
    r = race(cells=("lstm",))
    r.task.lag = "four"  # its batches now fail, in the child
    weights = [w.clone() for w in r.trainers["lstm"].model.state_dict().values()]
    with pytest.raises(TypeError):
        r.advance(3, process=proc)
    assert r.step == 0 and not r.trainers["lstm"].history.steps
    assert all(torch.equal(a, b) for a, b in zip(weights, r.trainers["lstm"].model.state_dict().values(), strict=True))


def test_a_message_the_child_cannot_read_is_answered_with_an_error():
    p = TrainerProcess()
    try:
        proc = p._ensure()
        data = b"not a pickle"
        proc.stdin.write(remote._HEADER.pack(len(data)) + data)
        proc.stdin.flush()
        kind, err = remote._loads(remote._read(proc.stdout))
        assert kind == "error" and isinstance(err, RnnvizError)
        assert race().advance(2, process=p) == 2 and p.started == 1  # the same child goes on
    finally:
        p.close()


class CountingLock:
    def __init__(self):
        self.entered, self._lock = 0, threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        self.entered += 1

    def __exit__(self, *exc):
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


def test_the_readers_lock_is_held_to_read_and_to_update_the_trainers_not_while_the_process_trains(proc, monkeypatch):
    r, lock = race(), CountingLock()
    seen = []
    original = proc._call

    def spy(message):
        seen.append(lock.locked())  # a page may read the race while the child trains
        return original(message)

    monkeypatch.setattr(proc, "_call", spy)  # this process only: other threads' processes may be calling theirs
    r.advance(4, process=proc, lock=lock)
    monkeypatch.undo()
    assert seen and not any(seen)
    assert lock.entered == 4  # read the trainers, copy them for the new child, put the results in, prune the flows


def test_export_sends_the_state_and_leaves_the_trainer_whole():
    r = race()
    r.advance(9)
    trainer = r.trainers["lstm"]
    out = export(trainer)
    assert out.task is None and out.callbacks == [] and out.history.steps == []
    assert out.history.evals == trainer.history.evals[-1:] and out.flows == dict.fromkeys(trainer.flows)
    assert trainer.task is r.task and trainer.callbacks and len(trainer.history.steps) == 9
    assert all(v is not None for v in trainer.flows.values())


def test_each_thread_has_its_own_process_and_zero_turns_them_off(monkeypatch):
    procs = []
    th = threading.Thread(target=lambda: procs.append(thread_process()))
    th.start()
    th.join()
    assert procs[0] is not thread_process() and thread_process() is thread_process()
    monkeypatch.setenv("RNNVIZ_TRAIN_PROCESSES", "0")
    assert thread_process() is None


def test_a_scheduler_job_with_its_own_lock_runs_its_slice_without_it(proc):
    sched, lock = Scheduler(threads=False), threading.Lock()
    held = []

    def work():
        held.append(lock.locked())
        return True

    job = sched.submit(work, lock=lock)
    plain = sched.submit(lambda: held.append(plain.lock.locked()) or True)
    sched.run_next()
    sched.run_next()
    assert job.lock is lock and held == [False, True]


class CountTorchCalls(TorchFunctionMode):
    """Counts the PyTorch functions called in this thread (each one lets go of the GIL and waits to get it back)."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def test_a_slice_costs_the_server_a_few_pytorch_calls_not_one_per_weight_or_step(proc):
    r = race(cells=("rnn", "lstm", "gru"))
    r.advance(8, process=proc)  # the first slice sends the trainers and makes the numpy views
    with CountTorchCalls() as counted:
        assert r.advance(40, process=proc, flow=True) == 40  # 40 steps and five validation passes, in the child
    assert len(counted.calls) <= 3 * 3, counted.calls  # the generators' states: a few calls per trainer
    with CountTorchCalls() as counted:
        r.snapshots  # noqa: B018 - the model copies are made when read, once
    assert len(counted.calls) > 3 * 3
    with CountTorchCalls() as counted:
        r.snapshots  # noqa: B018
    assert counted.calls == []


def test_a_slice_gives_its_turn_away_while_a_page_reads_the_race_rather_than_wait_for_it(proc, monkeypatch):
    r, lock = race(), threading.Lock()
    r.advance(2, process=proc, lock=lock)
    calls = []
    original = proc._call

    def spy(message):
        calls.append(message[0])
        return original(message)

    # This process only: a class-wide spy also saw other threads' processes (a scheduler left running by an earlier
    # test in this worker) send their "forget" messages.
    monkeypatch.setattr(proc, "_call", spy)
    with lock:  # a page's live view holds it
        assert r.advance(5, process=proc, lock=lock) == 0
    assert calls == [] and r.step == 2
    assert r.advance(5, process=proc, lock=lock) == 5
    # A trainer of an earlier test freed meanwhile is forgotten first, before the slice: that is not the slice.
    assert [c for c in calls if c != "forget"] == ["advance"]


def test_a_snapshot_that_a_slice_replaces_while_its_model_is_made_stays_pending(proc, monkeypatch):
    r = race()
    r.advance(14, process=proc)  # validation passes at 7 and 14: their weights wait, as numpy arrays
    assert set(r._pending) == {"rnn", "lstm"}
    older = r._pending["lstm"]
    newer = (older[0], {**older[1], "title": "newer"})
    made = []

    def load_while_a_slice_lands(model, weights):
        made.append(weights)
        remote.load_weights(model, weights)
        r._pending["lstm"] = newer  # a slice finished meanwhile (it holds the lock; materialize does not)

    monkeypatch.setattr(race_module, "load_weights", load_while_a_slice_lands)
    r.materialize()
    assert r._pending == {"lstm": newer} and "lstm" not in r._snapshots and "rnn" in r._snapshots
    monkeypatch.setattr(race_module, "load_weights", remote.load_weights)
    model, card = r.snapshots["lstm"]
    assert card["title"] == "newer" and not r._pending
    for name, tensor in model.state_dict().items():
        assert (tensor.numpy() == older[0][name]).all()


class Clocked:
    """A trainer whose steps advance fake clocks: each step costs ``cpu_s`` of CPU and ``wall_s`` of wall time."""

    def __init__(self, clocks: dict, cpu_s: float, wall_s: float):
        self.clocks, self.cpu_s, self.wall_s, self.diverged, self.steps, self.calls = clocks, cpu_s, wall_s, False, 0, 0

    def step(self, n: int) -> None:
        self.steps += n
        self.calls += 1
        self.clocks["cpu"] += n * self.cpu_s
        self.clocks["wall"] += n * self.wall_s


def budgeted(cpu_s: float, wall_s: float, budget_s: float = 0.25) -> Clocked:
    clocks = {"cpu": 0.0, "wall": 0.0}
    trainer = Clocked(clocks, cpu_s, wall_s)
    remote.advance_trainers([trainer], 10_000, budget_s, cpu=lambda: clocks["cpu"], wall=lambda: clocks["wall"])
    return trainer


def test_a_slice_spends_its_budget_in_cpu_time_however_many_cores_it_gets():
    alone = budgeted(cpu_s=0.01, wall_s=0.01)  # a core of its own
    shared = budgeted(cpu_s=0.01, wall_s=0.03)  # a third of a core: the same work, three times the wall time
    assert alone.steps == shared.steps == 25  # 0.25 s of CPU at 10 ms a step
    assert alone.calls < 10  # the chunk grew: not one call per step


def test_a_starved_slice_still_ends_after_its_wall_cap():
    starved = budgeted(cpu_s=0.01, wall_s=0.1)  # a tenth of a core: 0.25 s of CPU would take 2.5 s
    cap = remote.WALL_BUDGETS * 0.25
    assert starved.steps == round(cap / 0.1)  # 10 steps: the chunks were sized to end at the 1 s cap, not past it
    assert starved.clocks["wall"] <= cap + 1e-9


def test_a_slice_takes_one_step_even_when_it_costs_more_than_the_budget():
    slow = budgeted(cpu_s=2.0, wall_s=2.0)
    assert slow.steps == 1


def test_a_freed_trainer_s_copy_is_dropped_by_the_child_and_sent_again_if_needed():
    """The child keeps a copy of each trainer it trained. When the server frees a trainer (its session ended), the
    key goes to every process and the next call drops the copy: the child asks for a trainer with that key again."""
    import gc

    p = TrainerProcess()
    try:
        r = race()
        r.advance(2, process=p)
        assert p.trainers_sent == 2
        r.advance(2, process=p)
        assert p.trainers_sent == 2  # kept: sent once
        keys = [remote.trainer_key(t) for t in r.trainers.values()]
        # Other tests' trainers may be freed meanwhile (a collection in any thread): their keys come to p too, so
        # the counts below are at least, not exactly, this test's.
        remote._forget(keys[0])  # as when the trainer is freed
        p.flush()  # an idle worker's call
        assert p.forgotten_sent >= 1 and keys[0] not in p._forgotten
        r.advance(2, process=p)  # that key's copy is gone from the child: sent again
        assert p.trainers_sent == 3
        other = race()
        other.advance(1, process=p)
        other_keys = [remote.trainer_key(t) for t in other.trainers.values()]
        del other
        gc.collect()
        assert set(other_keys) <= set(p._forgotten)  # freeing the trainers queued their keys (weakref.finalize)
        sent = p.forgotten_sent
        r.advance(1, process=p)  # the next slice sends them first
        assert not set(other_keys) & set(p._forgotten) and p.forgotten_sent >= sent + len(other_keys)
    finally:
        p.close()


def test_an_idle_worker_runs_the_idle_hook():
    ran = threading.Event()
    s = Scheduler(workers=1, idle=ran.set)
    s.start()
    assert ran.wait(30)  # a worker with no slice to run calls it after a second
