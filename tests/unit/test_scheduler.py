"""rnnviz.scheduler: round-robin slices, a share that shrinks as more jobs play, Pause at the slice boundary, the
queue past max_active. Slices are counted; nothing here asserts how long anything takes."""

from __future__ import annotations

import threading

import pytest

from rnnviz import scheduler as S
from rnnviz.scheduler import DONE, FAILED, PAUSED, PAUSING, PLAYING, WAITING, Scheduler


class Counter:
    """A job's work: counts its slices, appends its name to a shared log, stops after ``limit`` slices."""

    def __init__(self, name: str, log: list[str], limit: int = 10**9):
        self.name, self.log, self.limit, self.slices = name, log, limit, 0
        self.during = None  # called inside the next slice (a click that arrives while the slice trains)

    def __call__(self) -> bool:
        self.slices += 1
        self.log.append(self.name)
        if self.during is not None:
            self.during()
            self.during = None
        return self.slices < self.limit


def jobs(sched: Scheduler, names: str, log: list[str], limit: int = 10**9):
    works = [Counter(n, log, limit) for n in names]
    return works, [sched.submit(w, name=w.name) for w in works]


def test_slices_go_round_robin_and_each_job_gets_an_equal_share():
    sched, log = Scheduler(threads=False), []
    works, _ = jobs(sched, "abc", log)
    for _ in range(30):
        sched.run_next()
    assert log == list("abc") * 10
    assert [w.slices for w in works] == [10, 10, 10]


def test_the_share_shrinks_as_more_jobs_play():
    sched, log = Scheduler(threads=False), []
    jobs(sched, "ab", log)
    for _ in range(10):
        sched.run_next()
    assert log.count("a") == log.count("b") == 5  # half each
    log.clear()
    jobs(sched, "cd", log)
    for _ in range(20):
        sched.run_next()
    assert {n: log.count(n) for n in "abcd"} == {"a": 5, "b": 5, "c": 5, "d": 5}  # a quarter each


def test_a_pause_clicked_during_a_slice_takes_effect_at_its_end():
    sched, log = Scheduler(threads=False), []
    works, (a, b) = jobs(sched, "ab", log)
    for _ in range(4):
        sched.run_next()
    states = []
    works[0].during = lambda: (a.pause(), states.append(a.state))  # the click's callback, mid-slice
    assert sched.run_next() is a
    assert states == [PAUSING]  # "pausing…" while the slice finishes
    assert a.state == PAUSED and works[0].slices == 3  # the slice that was running, and not one more
    for _ in range(5):
        assert sched.run_next() is b
    assert works[0].slices == 3 and a.slices == 3


def test_a_pause_between_slices_stops_at_once():
    sched, log = Scheduler(threads=False), []
    works, (a, b) = jobs(sched, "ab", log)
    sched.run_next()
    a.pause()  # a is waiting for its turn: no slice is running
    assert a.state == PAUSED and a.wait(0)
    for _ in range(3):
        sched.run_next()
    assert log == ["a", "b", "b", "b"]


def test_past_max_active_play_waits_in_a_queue_with_its_position():
    sched, log = Scheduler(max_active=2, threads=False), []
    works, (a, b, c, d) = jobs(sched, "abcd", log)
    assert [j.state for j in (a, b, c, d)] == [PLAYING, PLAYING, WAITING, WAITING]
    assert (a.position, c.position, d.position) == (None, 1, 2)
    assert sched.playing == 4 and sched.queued == 2
    for _ in range(6):
        sched.run_next()
    assert set(log) == {"a", "b"}  # the queued jobs train nothing
    a.pause()
    assert c.state == PLAYING and d.position == 1
    log.clear()
    for _ in range(4):
        sched.run_next()
    assert log == ["b", "c", "b", "c"]


def test_a_waiting_job_can_be_paused_and_leaves_the_queue():
    sched, log = Scheduler(max_active=1, threads=False), []
    _, (a, b, c) = jobs(sched, "abc", log)
    b.pause()
    assert b.state == PAUSED and c.position == 1 and sched.playing == 2


def test_done_and_failed_jobs_leave_and_let_the_next_one_in():
    sched, log = Scheduler(max_active=1, threads=False), []
    _, (a, b) = jobs(sched, "ab", log, limit=2)

    def broken() -> bool:
        raise ValueError("no")

    c = sched.submit(broken)
    sched.run_next(), sched.run_next()
    assert a.state == DONE and a.slices == 2 and b.state == PLAYING
    sched.run_next(), sched.run_next()
    assert b.state == DONE and c.state == PLAYING
    assert sched.run_next() is c
    assert c.state == FAILED and isinstance(c.error, ValueError) and sched.playing == 0
    assert sched.run_next() is None


def test_a_job_nobody_looks_at_is_paused_as_idle():
    now = [0.0]
    sched, log = Scheduler(idle_s=60, threads=False, clock=lambda: now[0]), []
    _, (a, b) = jobs(sched, "ab", log)
    now[0] = 50.0
    b.touch()
    sched.run_next()
    now[0] = 70.0  # a was last touched 70 s ago, b 20 s ago
    sched.run_next()
    assert a.state == PAUSED and a.idle and b.state == PLAYING and not b.idle
    assert log == ["a", "b"]


def test_worker_threads_never_run_more_slices_at_once_than_workers():
    sched = Scheduler(workers=2, threads=True)
    lock, running, most = threading.Lock(), [0], [0]

    def work(counter: list[int]) -> bool:  # each job: 5 slices
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.002)  # lets another worker start a slice meanwhile, if it may
        with lock:
            running[0] -= 1
        counter[0] += 1
        return counter[0] < 5

    started = [sched.submit(lambda c=[0]: work(c)) for _ in range(6)]
    assert all(job.wait(60) for job in started)
    assert [job.state for job in started] == [DONE] * 6 and [job.slices for job in started] == [5] * 6
    assert 1 <= most[0] <= 2


def test_the_redraw_tick_stretches_with_the_sessions_playing():
    ticks = [S.redraw_tick_s(n, cost_s=0.1) for n in range(0, 200)]
    assert ticks[0] == ticks[1] == 1.0 and ticks[-1] == 10.0
    assert all(a <= b for a, b in zip(ticks, ticks[1:], strict=False))


def test_the_redraw_tick_follows_the_measured_cost_of_a_redraw():
    cheap = [S.redraw_tick_s(n, cost_s=0.05) for n in range(1, 40)]
    dear = [S.redraw_tick_s(n, cost_s=0.4) for n in range(1, 40)]
    assert all(a <= b for a, b in zip(cheap, dear, strict=True)) and cheap != dear
    # 20 sessions whose redraws cost 0.2 s each may keep half of one core busy: every 8 s each
    assert S.redraw_tick_s(20, cost_s=0.2) == 8.0
    assert S.redraw_tick_s(20, cost_s=0.001) == 1.0  # never faster than the base tick


def test_the_redraw_cost_is_a_running_average_over_windows():
    now, cpu = [0.0], [0.0]
    cost = S.RedrawCost(initial_s=0.25, weight=0.5, window_s=1.0, cpu=lambda: cpu[0], clock=lambda: now[0])

    def window(per_redraw: float) -> None:  # two redraws 0.5 s apart close a 1 s window
        for _ in range(2):
            now[0] += 0.5
            cpu[0] += per_redraw
            cost.redrawn()

    cost.redrawn()  # opens the first window
    window(0.05)
    assert cost.value == pytest.approx(0.15) and cost.samples == 1
    now[0] += 0.5
    cpu[0] -= 1.0  # a CPU clock that reads less (it never should) counts as no cost, never a negative one
    cost.redrawn()
    now[0] += 0.5
    cost.redrawn()
    assert cost.samples == 2 and cost.value == pytest.approx(0.075)
    for _ in range(30):
        window(0.6)
    assert cost.value == pytest.approx(0.6, rel=1e-6) and cost.samples == 32


def test_the_redraw_cost_is_the_servers_cpu_per_redraw_over_a_window():
    now, cpu = [0.0], [0.0]
    cost = S.RedrawCost(initial_s=0.25, weight=1.0, window_s=2.0, cpu=lambda: cpu[0], clock=lambda: now[0])
    cost.redrawn()  # opens the window: nothing measured yet
    assert cost.samples == 0
    for _ in range(5):  # a redraw every 0.5 s, while the process spends 0.12 s of CPU (its event loop's writes too)
        now[0] += 0.5
        cpu[0] += 0.12
        cost.redrawn()
    assert cost.samples == 1 and cost.value == pytest.approx(0.12)  # the window closed at its 4th redraw: 2 s
    now[0] += 0.5
    cpu[0] += 0.3
    cost.redrawn()  # the next window has two redraws in 1 s: not closed
    assert cost.samples == 1
    now[0] += 100  # a quiet spell: the window that spans it is dropped, not averaged in
    cpu[0] += 5.0
    cost.redrawn()
    assert cost.samples == 1 and cost.value == pytest.approx(0.12)
    for _ in range(4):  # the next window, begun at the end of that spell: 0.1 s of CPU per redraw
        now[0] += 0.5
        cpu[0] += 0.1
        cost.redrawn()
    assert cost.samples == 2 and cost.value == pytest.approx(0.1)


def test_each_worker_thread_runs_setup_once_before_its_first_slice():
    ran, done = [], threading.Event()
    sched = Scheduler(workers=2, setup=lambda: ran.append(threading.current_thread().name))
    job = sched.submit(lambda: done.set() or False)
    assert job.wait(30) and done.is_set()
    sched.start()  # the threads run already: no more of them, no second setup
    deadline = threading.Event()
    for _ in range(300):
        if len(ran) == 2:
            break
        deadline.wait(0.1)
    assert sorted(ran) == ["rnnviz-trainer-0", "rnnviz-trainer-1"]


def test_the_event_log_tells_the_load_script_each_pause_and_the_steps_of_each_job(tmp_path):
    from tests.load.joblog import play_figures, summary

    ticks = iter(range(10**6))  # a clock that moves at every reading: events never share a time
    sched = Scheduler(threads=False, log=tmp_path / "jobs.jsonl", clock=lambda: float(next(ticks)), idle_s=1e9)
    log = []
    steps = {"a": 0, "b": 0, "c": 0}
    per_slice = {"a": 10, "b": 10, "c": 5}  # c's steps cost twice as much: half as many in a slice of equal time

    def work(name):
        counter = Counter(name, log)

        def run() -> bool:
            more = counter()  # a click during the slice comes before its steps land, as they land at its end
            steps[name] += per_slice[name]
            return more

        return counter, run

    made = {n: work(n) for n in "abc"}
    jobs_ = {n: sched.submit(run, name=f"play:{n}", progress=lambda n=n: steps[n]) for n, (_, run) in made.items()}
    sched.submit(Counter("s", log, limit=1), name="step:s")  # a Step's job: not in the Play figures
    for _ in range(3 * 4 + 1):  # four rounds of a, b, c, and the Step's one slice
        sched.run_next()
    made["a"][0].during = lambda: jobs_["a"].pause()  # a's Pause arrives while its slice trains
    sched.run_next()  # a: the slice that was running goes on to its end
    jobs_["b"].pause()  # b's arrives between its slices: it stops at once
    for _ in range(4):
        sched.run_next()  # c alone
    jobs_["c"].pause()

    wave = play_figures(S.read_log(tmp_path / "jobs.jsonl"))
    by = {j.name: j for j in wave.jobs}
    assert sorted(by) == ["play:a", "play:b", "play:c"]
    assert by["play:a"].slices_past == 1 and by["play:a"].steps_past == 10
    assert by["play:b"].slices_past == 0 and by["play:b"].steps_past == 0
    assert by["play:c"].step_at_stop == 5 * 8 and by["play:a"].step_at_stop == 50
    assert all(s >= 0 for s in wave.pause_s) and len(wave.pause_s) == 3
    # From c's first slice (the last of the three to start) to a's Pause: a and b trained 3 more slices of 10 steps
    # each (their 2nd to 4th), c 3 of 5 (the Step's slice sits among them and counts for nobody).
    assert wave.window_slices == [3, 3, 3] and wave.window_steps == [30, 30, 15]
    assert wave.fairness == pytest.approx(0.5) and wave.slice_fairness == 1.0
    assert len(wave.window_seconds) == 3 and all(s >= 0 for s in wave.window_seconds)
    assert len(wave.rates) == 3 and all(r > 0 for r in wave.rates)
    job = by["play:c"]  # c: 40 steps between its Play and its Pause
    assert job.rate == pytest.approx(40 / (job.paused_at - job.submitted))
    assert "fairness min/max 0.50" in summary(wave)


def test_the_event_log_is_off_unless_named_and_skips_a_cut_line(tmp_path):
    sched = Scheduler(threads=False)
    assert sched.log is None
    path = tmp_path / "jobs.jsonl"
    sched = Scheduler(threads=False, log=path)
    job = sched.submit(lambda: False, name="play:x", progress=lambda: 1 // 0)  # a broken progress: step None
    sched.run_next()
    with open(path, "a") as out:
        out.write('{"t": 1, "event": "sl')  # a crash mid-line
    events = S.read_log(path)
    assert [e["event"] for e in events] == ["submit", "slice", "stopped"]
    assert all(e["step"] is None and e["job"] == "play:x" for e in events) and job.state == DONE
