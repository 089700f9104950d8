"""What the server's scheduler log (rnnviz.scheduler.EventLog) says about a wave of sessions that played and paused:
figures measured where the training happens, apart from how late the browsers show them.

    events = read_log(path)
    figures = play_figures(events, since=t0, until=t1)   # the "play:" jobs submitted between t0 and t1
    figures.pause_s, figures.slices_past, figures.fairness

For each Play job: from the server receiving the Pause (the click's callback) to the job stopping; the slices that
ended after it (at most the one that was running: the issue's "one slice past its Pause"); the steps those slices
trained. And over the stretch when every job of the wave was playing at once (from the last one's first slice to the
first Pause), each job's steps and slices: their min/max ratio is the scheduler's fairness, free of the browsers'
timing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class JobFigures:
    name: str
    submitted: float
    first_slice: float = math.nan
    paused_at: float = math.nan  # the first "pause" event
    stopped_at: float = math.nan
    step_at_pause: int | None = None
    step_at_stop: int | None = None
    slices_past: int = 0  # slices that ended after the Pause arrived
    steps: list[tuple[float, int]] = field(default_factory=list)  # (t, step) after each slice, and at submit
    slices: list[tuple[float, float]] = field(default_factory=list)  # (t, seconds) of each slice, at its end

    @property
    def pause_s(self) -> float:
        return self.stopped_at - self.paused_at

    @property
    def steps_past(self) -> int | None:
        if self.step_at_pause is None or self.step_at_stop is None:
            return None
        return self.step_at_stop - self.step_at_pause

    @property
    def rate(self) -> float:
        """Steps per second from its Play reaching the server to its Pause doing so (nan without a Pause)."""
        if math.isnan(self.paused_at) or self.step_at_pause is None or self.paused_at <= self.submitted:
            return math.nan
        return (self.step_at_pause - self.steps[0][1]) / (self.paused_at - self.submitted)

    def step_at(self, t: float) -> int | None:
        """The step after the last slice that ended at or before ``t``."""
        known = [s for when, s in self.steps if when <= t]
        return known[-1] if known else None

    def slices_between(self, t0: float, t1: float) -> int:
        return sum(1 for when, _ in self.slices if t0 < when <= t1)

    def seconds_between(self, t0: float, t1: float) -> float:
        """Wall seconds of the slices that ended in (t0, t1]: this job's share of the training workers."""
        return sum(seconds for when, seconds in self.slices if t0 < when <= t1)


@dataclass
class WaveFigures:
    jobs: list[JobFigures]
    window: tuple[float, float] = (math.nan, math.nan)  # every job playing at once
    window_steps: list[int] = field(default_factory=list)
    window_slices: list[int] = field(default_factory=list)
    window_seconds: list[float] = field(default_factory=list)

    @property
    def pause_s(self) -> list[float]:
        return sorted(j.pause_s for j in self.jobs if not math.isnan(j.pause_s))

    @property
    def slices_past(self) -> list[int]:
        return [j.slices_past for j in self.jobs if not math.isnan(j.paused_at)]

    @property
    def steps_past(self) -> list[int]:
        return [j.steps_past for j in self.jobs if j.steps_past is not None]

    @property
    def fairness(self) -> float:
        """min/max of the steps each job trained while all played at once (nan without such a stretch)."""
        return _ratio(self.window_steps)

    @property
    def rates(self) -> list[float]:
        return [j.rate for j in self.jobs if not math.isnan(j.rate)]

    @property
    def rate_fairness(self) -> float:
        """min/max of the jobs' steps per second of their own play: unlike the stretch when all played at once, this
        does not shrink when the browsers press Play and Pause at different moments."""
        return _ratio(self.rates)

    @property
    def slice_fairness(self) -> float:
        return _ratio(self.window_slices)

    @property
    def time_fairness(self) -> float:
        return _ratio(self.window_seconds)


def _ratio(values: list) -> float:
    """min/max, nan when there is nothing to compare."""
    return min(values) / max(values) if values and max(values) > 0 else math.nan


def play_figures(events: list[dict], since: float = -math.inf, until: float = math.inf) -> WaveFigures:
    """The figures of the "play:" jobs submitted between ``since`` and ``until`` (monotonic seconds)."""
    jobs: dict[str, JobFigures] = {}
    for e in events:
        name = e.get("job", "")
        if e["event"] == "submit":
            if name.startswith("play:") and since <= e["t"] <= until:
                jobs[name] = JobFigures(name, e["t"], steps=[(e["t"], e.get("step") or 0)])
            else:
                jobs.pop(name, None)  # a later Step or Play of the same race starts over
            continue
        job = jobs.get(name)
        if job is None:
            continue
        if e["event"] == "slice":
            if math.isnan(job.first_slice):
                job.first_slice = e["t"]
            if e.get("step") is not None:
                job.steps.append((e["t"], e["step"]))
            job.slices.append((e["t"], float(e.get("seconds") or 0.0)))
            if not math.isnan(job.paused_at) and math.isnan(job.stopped_at):
                job.slices_past += 1
        elif e["event"] == "pause" and math.isnan(job.paused_at) and math.isnan(job.stopped_at):
            job.paused_at, job.step_at_pause = e["t"], e.get("step")
        elif e["event"] == "stopped" and math.isnan(job.stopped_at):
            job.stopped_at, job.step_at_stop = e["t"], e.get("step")
    wave = WaveFigures(sorted(jobs.values(), key=lambda j: j.submitted))
    played = [j for j in wave.jobs if not math.isnan(j.first_slice)]
    if played and len(played) == len(wave.jobs):
        start = max(j.first_slice for j in played)
        end = min(j.paused_at if not math.isnan(j.paused_at) else j.stopped_at for j in played)
        if end > start:
            wave.window = (start, end)
            wave.window_steps = [j.step_at(end) - j.step_at(start) for j in played]
            wave.window_slices = [j.slices_between(start, end) for j in played]
            wave.window_seconds = [j.seconds_between(start, end) for j in played]
    return wave


def summary(wave: WaveFigures) -> str:
    """One paragraph for the load script's report."""
    if not wave.jobs:
        return "server's scheduler log: no Play in this wave"
    pauses = wave.pause_s
    parts = [f"server's scheduler log ({len(wave.jobs)} Play jobs):"]
    if pauses:
        p95 = pauses[min(len(pauses) - 1, math.ceil(0.95 * len(pauses)) - 1)]
        parts.append(f"from the server receiving a Pause to the job stopping {pauses[len(pauses) // 2]:.2f} s "
                     f"(median), {p95:.2f} s (95th percentile), {pauses[-1]:.2f} s at most;")
    if wave.slices_past:
        parts.append(f"slices that ended after a Pause: at most {max(wave.slices_past)} (steps they trained: at "
                     f"most {max(wave.steps_past, default=0)});")
    if wave.rates:
        parts.append(f"steps per second of each job's own play (Play to Pause, as the server got them) "
                     f"{min(wave.rates):.2f} to {max(wave.rates):.2f} (fairness min/max {wave.rate_fairness:.2f});")
    if wave.window_steps:
        t0, t1 = wave.window
        parts.append(f"in the {t1 - t0:.1f} s when all {len(wave.window_steps)} played at once, steps per job "
                     f"{min(wave.window_steps)} to {max(wave.window_steps)} (fairness min/max {wave.fairness:.2f}), "
                     f"slices {min(wave.window_slices)} to {max(wave.window_slices)} "
                     f"(min/max {wave.slice_fairness:.2f}), seconds in slices {min(wave.window_seconds):.1f} to "
                     f"{max(wave.window_seconds):.1f} (min/max {wave.time_fairness:.2f})")
    else:
        parts.append("no stretch when every job played at once")
    return " ".join(parts)
