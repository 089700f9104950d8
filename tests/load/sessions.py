"""Many users at once against one server: each sees only its own text and models, and memory comes back.

    OMP_NUM_THREADS=1 python -m tests.load.sessions --sessions 20

One ``streamlit run app.py`` on localhost (tests.e2e.server), one headless Chromium, one browser context (so one
Streamlit session) per user, all driven at once through Playwright's async API. Each session:

1. opens Home and types its own marker into "Sequence" (``会话007·庚🐵``: Chinese, an emoji, its number) and waits
   for the heatmap to label its steps with those characters;
2. goes to Train live (the navigation, so the same session), sets the recall lag to its own value (``--lag-base``,
   5, plus its number, so its models have names no other session's have), presses Step, plays for a few seconds and
   pauses;
3. goes to Inside the cell, picks "Trained here" and reads the list: exactly the models /train listed for it; types
   its marker again, and searches its page (text, inputs, the URL, Plotly's data) for every other session's marker,
   marker characters and model names. None may be there; its own must be (else the search proves nothing).

With ``--play-s S`` each session plays S seconds and pauses, and the summary gives, per session, the steps it played,
the time from its Pause click to the step counter stopping and the steps the counter gained after the click, the
time Home took to open and /cell to draw the typed marker; per wave, the server's CPU (cores busy on average and in
the busiest second) and fairness (min/max of the steps played). Those figures are as the browsers show them, and on
a small machine the browsers share its cores with the server. So the server this script starts also logs its
scheduler's job events (rnnviz.scheduler.EventLog), and the summary adds what that log says (tests.load.joblog): from
the server receiving each Pause to the job stopping, the slices and steps trained after it, and the steps and slices
of each job over the stretch when all of them played at once. ``--url`` drives a server it did not start, such as
nginx in front of replicas (deploy/replicas.sh), reading CPU and memory from ``--pids``; memory is not checked then.

Sessions wait for one another between these steps, so every session's data is on the server when each one looks.
No page may show an exception (``stException``) or an error box, nor a JavaScript error. A second wave (``--waves``)
of new sessions, with markers of their own, follows once the first has closed: it must not see the first's data
either, and it tells memory held by closed sessions from memory the allocator keeps for reuse.

Memory is the server's resident set (VmRSS from /proc, with any child processes; VmHWM for the peak). Baseline: with
no session held, after one warm-up session has done everything once (imports, caches, code paths). Peak: while the
sessions run. After close: once the server has let the closed sessions go, measured the same way as the baseline.
Freed memory stays in the process for reuse (glibc, pymalloc). glibc spreads it over an arena per allocating thread,
and Streamlit runs each session in a thread of its own, so by default after close sat near the peak (+331 MiB after
20 sessions); the server here runs with MALLOC_ARENA_MAX=2, as README, Development, recommends for a shared server.
New users' text fills the bounded caches (st.cache_data, up to max_entries), which is growth by design: the growth
figures subtract what Streamlit's /_stcore/metrics says the caches gained, and the same metrics must show no closed
session's st.session_state still held. A leak shows as growth from one wave's after-close to the next.

How Streamlit 1.67 lets a closed session go: on disconnect it keeps the session, session_state and all, for
``server.disconnectedSessionTTL`` seconds (default 120) so that a reconnecting tab can resume it. Expiry is lazy: an
expired session is dropped only by a later write to that storage, i.e. when some other session disconnects; with
no more traffic it stays in memory. So, after the TTL, this script opens and closes one short probe session (Home
only), which is what any later visitor's leaving does, and it does the same before the baseline, so both figures
hold exactly one probe session. It reports the memory held before that probe too.

Exit status 1 if any check fails, memory after close is more than ``--max-growth-mb`` above the baseline, or the
last wave's after-close is more than ``--max-wave-growth-mb`` above the first's.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import tempfile
import time
import tomllib
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from rnnviz.scheduler import LOG_ENV, read_log, server_cores
from tests.e2e.conftest import CHROMIUM_ARGS, _chromium
from tests.e2e.helpers import _FINISHED, EXCEPTION, IDLE, STALE, VIEWPORT
from tests.e2e.server import ROOT, app_process
from tests.load import joblog

STREAMLIT_DEFAULT_TTL_S = 120  # server.disconnectedSessionTTL when .streamlit/config.toml does not set it
# Measured on the 2-core dev box (README, Development): after two waves of 20 sessions the server kept 15 MiB above
# its baseline (MALLOC_ARENA_MAX=2; 331 MiB after one wave without it). The bound leaves room for allocator slack
# and noise, and is far below one session's share of the peak (about 24 MiB) times the session count, which is what
# a leak of every closed session would keep.
MAX_GROWTH_MB = 150.0
MAX_WAVE_GROWTH_MB = 50.0
ERROR = '[data-testid="stAlertContentError"]'
# One character and one emoji per session. None is in the app's own text (were one there, every other session
# would report it as a leak).
CJK = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥鼠牛虎兔龙蛇猴鸡狗猪梅兰竹菊松柏桃李杏枫柳"
EMOJI = "🦊🐼🐨🦁🐯🐮🐷🐸🐵🐔🐧🐦🦆🦅🦉🦇🐺🐗🐴🦄🐝🐛🦋🐌🐞🐜🦗🦂🐢🐍🦎🦖🦕🐙🦑🦐🦞🦀🐡🐠🐟🐬🐳🐋🦈"
MAX_SESSIONS = min(len(CJK), len(EMOJI)) - 2  # sessions in all waves; 0 is the warm-up, the last the probe
MODEL_NAME = re.compile(r"^(RNN|LSTM|GRU) · recall lag \d+ · step [\d,]+$")

# Everything a user could see or that the page holds for display: text, SVG text, inputs, the URL, Plotly's data.
PAGE_TEXT = """() => {
  const parts = [document.documentElement.innerText || '', document.documentElement.textContent || ''];
  try { parts.push(decodeURIComponent(location.href.replace(/\\+/g, ' '))); } catch (e) { parts.push(location.href); }
  for (const e of document.querySelectorAll('input, textarea')) parts.push(e.value);
  for (const e of document.querySelectorAll('[title], [aria-label], [alt]'))
    parts.push(e.getAttribute('title') || '', e.getAttribute('aria-label') || '', e.getAttribute('alt') || '');
  for (const p of document.querySelectorAll('.js-plotly-plot'))
    parts.push(JSON.stringify(p.data || [], (k, v) => (k === 'z' ? undefined : v)), JSON.stringify(p.layout || {}));
  return parts.join('\\n');
}"""
# True once every character in `chars` is a tick label on some x axis of a chart on the page.
TICKS_SHOW = """(chars) => {
  const ticks = new Set([...document.querySelectorAll('[data-testid="stPlotlyChart"] g[class*="xtick"] text')]
    .map(t => t.textContent));
  return chars.every(c => ticks.has(c));
}"""


@dataclass
class Session:
    """One browser context: one Streamlit session, with its own marker and recall lag."""

    index: int
    timeout_s: float
    lag_base: int = 5  # its recall lag is this plus its number
    page: object = None  # playwright.async_api.Page
    runs: int = 0  # script runs finished, counted from the websocket
    seconds: dict[str, float] = field(default_factory=dict)  # phase: wall seconds
    trained: list[str] = field(default_factory=list)  # what /train listed as this session's models
    listed: list[str] = field(default_factory=list)  # what /cell's "Trained here" offered
    steps: int = 0
    played: int = 0  # steps trained between the Play click and the counter stopping
    pause_s: float = math.nan  # from the first Pause click to the step counter stopping
    past_pause: int = 0  # steps the counter gained after the Pause click (as the page showed them: an upper bound)
    pause_clicks: int = 0
    problems: list[str] = field(default_factory=list)
    context: object = None  # playwright.async_api.BrowserContext

    @property
    def marker(self) -> str:
        return f"会话{self.index:03d}·{self.cjk}{self.emoji}"

    @property
    def cjk(self) -> str:
        return CJK[self.index]

    @property
    def emoji(self) -> str:
        return EMOJI[self.index]

    @property
    def lag(self) -> int:
        return self.lag_base + self.index

    def needles(self) -> list[str]:
        """What only this session typed or trained: another session must find none of it on its page."""
        return [self.marker, self.cjk, self.emoji, f"recall lag {self.lag} ·"]


def foreign_data(text: str, own: Session, everyone: list[Session]) -> list[str]:
    """Every other session's marker, marker characters and model names found in ``text``."""
    return [f"session {other.index}'s {needle!r}" for other in everyone if other is not own
            for needle in other.needles() if needle in text]


# Server memory ---------------------------------------------------------------------------------------------------


def _status(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` field in KiB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        out.append(todo.pop())
        todo += children.get(out[-1], [])
    return out


def _tree(pids: int | tuple[int, ...]) -> list[int]:
    """The server processes (one, or the replicas behind nginx) and their children."""
    pids = (pids,) if isinstance(pids, int) else pids
    return [q for p in pids for q in (p, *_descendants(p))]


def rss_mb(pids: int | tuple[int, ...]) -> float:
    """Resident memory of the server(s) and their child processes, MiB."""
    return sum(_status(p, "VmRSS") for p in _tree(pids)) / 1024


def peak_rss_mb(pids: int | tuple[int, ...]) -> float:
    """The server processes' high-water marks of resident memory since they started, summed, MiB."""
    pids = (pids,) if isinstance(pids, int) else pids
    return sum(_status(p, "VmHWM") for p in pids) / 1024


def cpu_s(pids: int | tuple[int, ...]) -> float:
    """CPU seconds (user + system) the server(s) and their children have used, from /proc/PID/stat."""
    total = 0
    for p in _tree(pids):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def active_sessions(url: str) -> int:
    """Sessions with a live websocket, from Streamlit's own /_stcore/metrics."""
    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=30) as response:
        text = response.read().decode()
    match = re.search(r"^active_sessions (\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else -1


def held_mb(url: str) -> tuple[float, float]:
    """(session state, caches) in MiB, as Streamlit's /_stcore/metrics counts them: every live session's
    st.session_state, and every st.cache_data / st.cache_resource entry."""
    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=30) as response:
        text = response.read().decode()
    if "cache_memory_bytes{" not in text:
        raise RuntimeError("/_stcore/metrics has no cache_memory_bytes: Streamlit's metrics changed")
    state = caches = 0.0
    for kind, value in re.findall(r'^cache_memory_bytes\{cache_type="(\w+)"[^}]*\} ([\d.e+]+)$', text, re.MULTILINE):
        if kind == "st_session_state":
            state += float(value)
        else:
            caches += float(value)
    return state / 2**20, caches / 2**20


def session_ttl_s() -> int:
    config = ROOT / ".streamlit" / "config.toml"
    server = tomllib.loads(config.read_text()).get("server", {}) if config.exists() else {}
    return int(server.get("disconnectedSessionTTL", STREAMLIT_DEFAULT_TTL_S))


# Driving one session ---------------------------------------------------------------------------------------------


def _count_runs(s: Session):
    def on_websocket(ws) -> None:
        def on_frame(payload) -> None:
            if isinstance(payload, str) or len(payload) > 1024:  # script_finished is a few dozen bytes
                return
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished in _FINISHED:
                s.runs += 1

        ws.on("framereceived", on_frame)

    return on_websocket


async def new_page(s: Session, browser, url: str):
    """A browser context of its own (so a Streamlit session of its own) with one tab, its script runs counted."""
    context = await browser.new_context(viewport=VIEWPORT, base_url=url)
    context.set_default_timeout(1000 * s.timeout_s)  # Playwright's 30 s: too short for 20 tabs loading on 2 cores
    s.page = await context.new_page()
    s.page.on("websocket", _count_runs(s))
    return context


async def wait_idle(s: Session, timeout_s: float | None = None) -> None:
    ms = 1000 * (timeout_s or s.timeout_s)
    await s.page.wait_for_selector(IDLE, state="attached", timeout=ms)
    await s.page.wait_for_selector(STALE, state="detached", timeout=ms)


async def rerun(s: Session, action, what: str) -> None:
    """Await ``action`` (a click, a key press, a goto), then wait until a script run has finished and the page is
    idle. As tests.e2e.helpers.expect_rerun, for the async API."""
    before, deadline = s.runs, time.monotonic() + s.timeout_s
    await action
    while s.runs <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no script run finished within {s.timeout_s:.0f} s after {what}")
        await asyncio.sleep(0.05)
    await wait_idle(s, max(1.0, deadline - time.monotonic()))


async def type_sequence(s: Session, text: str) -> None:
    box = s.page.get_by_label("Sequence", exact=True)
    await box.fill(text)
    await rerun(s, box.press("Control+Enter"), "typing the marker")
    await s.page.wait_for_function(TICKS_SHOW, arg=list(text), polling=200, timeout=1000 * s.timeout_s)


async def go_to(s: Session, title: str) -> None:
    link = s.page.locator('[data-testid="stTopNavLink"]').filter(has_text=title)
    await rerun(s, link.click(), f"opening {title}")


async def set_number(s: Session, label: str, value: int) -> None:
    box = s.page.get_by_label(label, exact=True)
    if (await box.input_value()).replace(",", "") != str(value):
        await box.fill(str(value))
        await rerun(s, box.press("Enter"), f"setting {label}")


TRAINING = ("· playing", "· pausing…", "in the queue")  # how /train's progress line ends while a job is under way


def step_of(text: str) -> int:
    """The step in /train's progress line ("Step 1,234 of 5,000 · …"), -1 if there is none."""
    match = re.search(r"Step ([\d,]+) of", text)
    return int(match.group(1).replace(",", "")) if match else -1


async def progress(s: Session) -> str:
    return await s.page.locator('[data-testid="stProgress"]').inner_text()


async def check_page(s: Session, where: str) -> None:
    for selector, what in ((EXCEPTION, "an exception"), (ERROR, "an error")):
        boxes = s.page.locator(selector)
        if await boxes.count():
            s.problems.append(f"{where}: {what}: " + " | ".join(await boxes.all_inner_texts())[:300])


async def train(s: Session, steps: int, play_s: float, target: int, together: asyncio.Barrier | None = None) -> None:
    """Step ``steps`` times, play for ``play_s`` seconds, pause; remember what /train lists as trained. With
    ``together``, every session presses Play at the same moment, so that their steps played compare."""
    page = s.page
    await set_number(s, "Lag (steps of filler)", s.lag)
    if play_s > 0:
        await set_number(s, "Train for (steps)", target)
    for _ in range(steps):
        await rerun(s, page.get_by_role("button", name="Step", exact=True).click(), "pressing Step")
    if play_s > 0:
        before = step_of(await progress(s))
        if together is not None:
            await asyncio.wait_for(together.wait(), s.timeout_s)
        await rerun(s, page.get_by_role("radio", name="Play").click(), "pressing Play")
        await asyncio.sleep(play_s)
        deadline, last, clicked, at_click = time.monotonic() + s.timeout_s, 0.0, math.nan, 0
        while (text := await progress(s)).endswith(TRAINING):  # Play also stops by itself at `target`
            if time.monotonic() > deadline:
                raise TimeoutError(f"still playing {s.timeout_s:.0f} s after the first Pause")
            if time.monotonic() > last + 10:  # a Pause lost under load (issue 3) is clicked again
                if math.isnan(clicked):
                    at_click = step_of(text)
                await page.get_by_role("radio", name="Pause").click(force=True)  # force: charts redraw under it
                s.pause_clicks, last = s.pause_clicks + 1, time.monotonic()
                clicked = last if math.isnan(clicked) else clicked
            await asyncio.sleep(0.1)
        stopped = time.monotonic()
        if not math.isnan(clicked):
            s.pause_s, s.past_pause = stopped - clicked, step_of(text) - at_click
        s.played = step_of(text) - before
    await wait_idle(s)
    s.steps = step_of(await progress(s))
    # The list of models is drawn after the progress line, in the same run or (after a Pause that waited for its
    # slice) in the run the live view starts once the job has stopped: read it once it has caught up.
    deadline = time.monotonic() + s.timeout_s
    while True:
        s.trained = sorted(t for t in await page.locator("strong").all_inner_texts() if MODEL_NAME.match(t))
        if (s.trained and all(t.endswith(f" · step {s.steps:,}") for t in s.trained)) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
        await wait_idle(s)
    if not s.trained or not all(f"recall lag {s.lag} ·" in t for t in s.trained):
        s.problems.append(f"/train lists {s.trained} after {text!r}, not this session's recall lag {s.lag} models")


async def open_trained(s: Session) -> None:
    """Pick "Trained here" on Inside the cell and read every model it offers."""
    page = s.page
    source = page.locator('[data-testid="stRadio"]').filter(has_text="Model source")
    await rerun(s, source.get_by_text("Trained here", exact=True).click(), "picking Trained here")
    await page.locator('[data-testid="stSelectbox"]').filter(has_text="Model trained in this session").click()
    await page.get_by_role("option").first.wait_for(timeout=1000 * s.timeout_s)
    s.listed = sorted(await page.get_by_role("option").all_inner_texts())
    await page.keyboard.press("Escape")
    if s.listed != s.trained:
        s.problems.append(f"Inside the cell offers {s.listed}, but /train trained {s.trained}")


async def look_for_leaks(s: Session, everyone: list[Session], where: str) -> None:
    text = await s.page.evaluate(PAGE_TEXT)
    if s.marker not in text:  # the search must be able to find a marker, or finding none proves nothing
        s.problems.append(f"{where}: its own marker {s.marker!r} is not on its page")
    if leaked := foreign_data(text, s, everyone):
        s.problems.append(f"{where}: another session's data: {', '.join(leaked)}")


async def run_session(s: Session, browser, url: str, everyone: list[Session], barrier: asyncio.Barrier,
                      args: argparse.Namespace) -> None:
    context = await new_page(s, browser, url)
    page = s.page
    page.on("pageerror", lambda err: s.problems.append(f"JavaScript error: {err}"))
    phase, t0 = "open", time.monotonic()

    async def done(name: str, next_phase: str) -> None:
        nonlocal phase, t0
        await check_page(s, name)
        s.seconds[name] = time.monotonic() - t0
        phase = "wait"
        await asyncio.wait_for(barrier.wait(), args.timeout)  # every session's data is on the server
        phase, t0 = next_phase, time.monotonic()

    try:
        await rerun(s, page.goto("/", wait_until="commit"), "opening Home")
        s.seconds["open"] = time.monotonic() - t0
        await type_sequence(s, s.marker)
        await look_for_leaks(s, everyone, "Home")
        await done("type", "train")
        await go_to(s, "Train live")
        await train(s, args.steps, args.play_s, args.target, barrier)
        await done("train", "check")
        await go_to(s, "Inside the cell")
        await open_trained(s)
        typed = time.monotonic()
        await type_sequence(s, s.marker)
        s.seconds["cell"] = time.monotonic() - typed  # from typing to /cell's charts labelled with the marker
        await look_for_leaks(s, everyone, "Inside the cell")
        await done("check", "closing")
    except asyncio.CancelledError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure is this session's finding; the others go on
        if not isinstance(err, asyncio.BrokenBarrierError):
            s.problems.append(f"{phase}: {type(err).__name__}: {str(err).splitlines()[0][:300]}")
        await barrier.abort()  # the others stop waiting for this one
    finally:
        s.context = context


# The run ---------------------------------------------------------------------------------------------------------


@dataclass
class Wave:
    """Server memory around one wave of sessions, MiB."""

    sessions: list[Session]
    peak_mb: float = 0.0  # sampled every 0.25 s while the sessions ran
    cpu_cores: float = math.nan  # the server's CPU time over the wave's wall time: cores busy on average
    peak_cores: float = 0.0  # the same over the busiest second
    loaded_mb: float = math.nan  # every session open, all done
    held_mb: float = math.nan  # every context closed, the sessions still kept for reconnecting
    after_mb: float = math.nan  # after the server let them go
    state_mb: float = math.nan  # session state still held after close (metrics); only the probe's should be left
    cache_mb: float = math.nan  # what the bounded caches hold after close (metrics)
    seconds: float = 0.0
    began: float = math.nan  # time.monotonic() as the wave started and ended (the scheduler log's clock)
    ended: float = math.nan
    jobs: joblog.WaveFigures | None = None  # what the server's scheduler log says about its Play jobs


@dataclass
class Report:
    warmup: Session
    waves: list[Wave] = field(default_factory=list)
    baseline_mb: float = math.nan
    baseline_state_mb: float = math.nan
    baseline_cache_mb: float = math.nan
    hwm_mb: float = math.nan  # the server's own high-water mark (VmHWM) at the end
    wall_s: float = 0.0
    ttl_s: int = 0
    max_growth_mb: float = MAX_GROWTH_MB
    max_wave_growth_mb: float = MAX_WAVE_GROWTH_MB
    log: Path | None = None
    remote: bool = False  # --url: a server this script did not start; no memory checks
    jobs_log: Path | None = None  # the started server's scheduler log

    @property
    def sessions(self) -> list[Session]:
        return [s for wave in self.waves for s in wave.sessions]

    @property
    def after_mb(self) -> float:
        return self.waves[-1].after_mb if self.waves else math.nan

    @property
    def peak_mb(self) -> float:
        return max([w.peak_mb for w in self.waves] + [self.hwm_mb])

    @property
    def growth_mb(self) -> float:
        """RSS after close above the baseline, less what the bounded caches took on meanwhile (new users' inputs
        fill them up to their max_entries: growth by design, not a leak)."""
        return self.after_mb - self.baseline_mb - (self.waves[-1].cache_mb - self.baseline_cache_mb)

    @property
    def wave_growth_mb(self) -> float:
        """From the first wave's after-close to the last one's, less the caches' growth: what a later wave of the
        same size adds."""
        if len(self.waves) < 2:
            return 0.0
        first, last = self.waves[0], self.waves[-1]
        return last.after_mb - first.after_mb - (last.cache_mb - first.cache_mb)

    @property
    def state_left_mb(self) -> float:
        """Session state held after the last wave closed, above the baseline's (one probe session in each)."""
        return self.waves[-1].state_mb - self.baseline_state_mb if self.waves else 0.0

    @property
    def failures(self) -> list[str]:
        out = [f"session {s.index}: {p}" for s in [self.warmup, *self.sessions] for p in s.problems]
        if self.remote:
            return out
        if not self.growth_mb <= self.max_growth_mb:
            out.append(f"memory after close is {self.growth_mb:+.0f} MiB from the baseline, more than "
                       f"{self.max_growth_mb:.0f} MiB")
        if not self.state_left_mb <= 1.0:
            out.append(f"closed sessions' state is still held: {self.state_left_mb:+.1f} MiB of st.session_state "
                       "above the baseline's (Streamlit's metrics)")
        if not self.wave_growth_mb <= self.max_wave_growth_mb:
            out.append(f"memory after the last wave is {self.wave_growth_mb:+.0f} MiB from after the first, more "
                       f"than {self.max_wave_growth_mb:.0f} MiB: sessions that closed are still held")
        return out


async def _sample_peak(pid, wave: Wave, stop: asyncio.Event) -> None:
    t0, c0 = time.monotonic(), cpu_s(pid)
    last = (t0, c0)
    while not stop.is_set():
        wave.peak_mb = max(wave.peak_mb, rss_mb(pid))
        now, used = time.monotonic(), cpu_s(pid)
        if now - last[0] >= 1.0:
            wave.peak_cores, last = max(wave.peak_cores, (used - last[1]) / (now - last[0])), (now, used)
        await asyncio.sleep(0.25)
    wave.cpu_cores = (cpu_s(pid) - c0) / max(1e-9, time.monotonic() - t0)


async def _release(url: str, browser, ttl_s: int, pid: int, settle_s: float, say) -> tuple[float, float, float]:
    """Wait until no session is connected and their TTL has passed, then open and close one probe session (its
    disconnect reaps the expired ones), wait ``settle_s`` and return the server's RSS, session state and caches."""
    while await asyncio.to_thread(active_sessions, url) > 0:
        await asyncio.sleep(0.5)
    say(f"no session connected; waiting {ttl_s} s (server.disconnectedSessionTTL), then reaping with a probe")
    await asyncio.sleep(ttl_s + 1)
    probe = Session(index=len(CJK) - 1, timeout_s=300)
    context = await new_page(probe, browser, url)
    await rerun(probe, probe.page.goto("/", wait_until="commit"), "opening the probe")
    await context.close()
    while await asyncio.to_thread(active_sessions, url) > 0:
        await asyncio.sleep(0.2)
    await asyncio.sleep(settle_s)
    return rss_mb(pid), *await asyncio.to_thread(held_mb, url)


@contextmanager
def _given(url: str):
    """A server (nginx in front of replicas, deploy/replicas.sh) that this script did not start."""
    yield url.rstrip("/"), None


async def _settle(url: str, browser, ttl_s: int, pid, settle_s: float, say) -> tuple[float, float, float]:
    """:func:`_release` for a server given by --url: its /_stcore/metrics would answer for one replica only, so
    this waits ``settle_s`` and reads the given processes' memory; session state and caches are not known."""
    await asyncio.sleep(settle_s)
    return rss_mb(pid), math.nan, math.nan


async def _wave(wave: Wave, everyone: list[Session], browser, url: str, pid: int, args, say) -> None:
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_peak(pid, wave, stop))
    barrier = asyncio.Barrier(len(wave.sessions))
    t0 = wave.began = time.monotonic()
    await asyncio.gather(*(run_session(s, browser, url, everyone, barrier, args) for s in wave.sessions))
    wave.ended = time.monotonic()
    wave.seconds = wave.ended - t0
    wave.loaded_mb = rss_mb(pid)
    say(f"sessions done in {wave.seconds:.0f} s; RSS {wave.loaded_mb:.0f} MiB; closing them")
    for s in wave.sessions:
        await s.context.close()
    stop.set()
    await sampler
    await asyncio.sleep(2)
    wave.held_mb = rss_mb(pid)


async def run(args: argparse.Namespace, say=print) -> Report:
    from playwright.async_api import async_playwright

    chromium = _chromium()
    if chromium is None:
        raise SystemExit("Chromium not found: install Debian's chromium or set RNNVIZ_CHROMIUM.")
    if args.browser_nice:  # lighter clients: the browsers yield the cores to the server they measure
        wrapper = Path(tempfile.mkdtemp(prefix="rnnviz-chromium-")) / "chromium"
        wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(args.browser_nice)} {chromium} "$@"\n')
        wrapper.chmod(0o755)
        chromium = str(wrapper)
    n = args.sessions
    report = Report(Session(0, args.timeout, args.lag_base), max_growth_mb=args.max_growth_mb,
                    max_wave_growth_mb=args.max_wave_growth_mb)
    report.ttl_s = args.session_ttl if args.session_ttl is not None else session_ttl_s()
    options = [] if args.session_ttl is None else ["--server.disconnectedSessionTTL", str(args.session_ttl)]
    report.log = Path(tempfile.mkdtemp(prefix="rnnviz-load-")) / "streamlit.log"
    if not args.url:  # the server this script starts logs its scheduler's job events (rnnviz.scheduler.EventLog)
        report.jobs_log = report.log.with_name("scheduler.jsonl")
        os.environ[LOG_ENV] = str(report.jobs_log)
    elif args.scheduler_log:
        report.jobs_log = Path(args.scheduler_log)
    start = time.monotonic()
    report.remote = bool(args.url)
    release = _release if not report.remote else _settle
    with (app_process(report.log, options) if not report.remote else _given(args.url)) as (url, proc):
        pid = proc.pid if proc is not None else tuple(args.pids)
        say(f"server {url}, pid {pid}, log {report.log}; RSS at start {rss_mb(pid):.0f} MiB")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            warm, everyone = report.warmup, [report.warmup]
            if args.warmup:  # every page and code path once, so the baseline holds the imports and first caches
                await run_session(warm, browser, url, everyone, asyncio.Barrier(1), args)
                await warm.context.close()
                if warm.problems:
                    return report
            report.baseline_mb, report.baseline_state_mb, report.baseline_cache_mb = await release(
                url, browser, report.ttl_s, pid, args.settle_s, say)
            for w in range(args.waves):
                wave = Wave([Session(w * n + i, args.timeout, args.lag_base) for i in range(1, n + 1)])
                report.waves.append(wave)
                everyone += wave.sessions  # later sessions must not see earlier ones' data either
                say(f"wave {w + 1} of {args.waves}: {n} sessions at once (baseline {report.baseline_mb:.0f} MiB)")
                await _wave(wave, everyone, browser, url, pid, args, say)
                wave.after_mb, wave.state_mb, wave.cache_mb = await release(
                    url, browser, report.ttl_s, pid, args.settle_s, say)
                say(f"wave {w + 1}: peak {wave.peak_mb:.0f} MiB, after close {wave.after_mb:.0f} MiB")
                if report.jobs_log is not None and report.jobs_log.exists():
                    wave.jobs = joblog.play_figures(read_log(report.jobs_log), wave.began, wave.ended)
            report.hwm_mb = peak_rss_mb(pid)
            await browser.close()
    report.wall_s = time.monotonic() - start
    return report


# Summary ---------------------------------------------------------------------------------------------------------


def play_figures(report: Report) -> list[str]:
    """Pause times, steps past Pause and fairness (min/max steps played) for each wave that played."""
    out = []
    for i, w in enumerate(report.waves, 1):
        if w.jobs is not None:
            out.append(f"wave {i}, " + joblog.summary(w.jobs))
        played = [s for s in w.sessions if not math.isnan(s.pause_s)]
        if not played:
            continue
        pauses = sorted(s.pause_s for s in played)
        p95 = pauses[min(len(pauses) - 1, math.ceil(0.95 * len(pauses)) - 1)]
        steps = [s.played for s in played]
        fair = min(steps) / max(steps) if max(steps) > 0 else math.nan
        within = sum(p <= 2.0 for p in pauses)
        out.append(f"wave {i}: Pause took effect in {pauses[len(pauses) // 2]:.1f} s (median), {p95:.1f} s (95th "
                   f"percentile), {pauses[-1]:.1f} s at most; within 2 s for {within} of {len(pauses)}; at most "
                   f"{max(s.past_pause for s in played)} steps shown after the click; steps played {min(steps)} to "
                   f"{max(steps)}: fairness min/max {fair:.2f}; page opened in at most "
                   f"{max(s.seconds.get('open', math.nan) for s in w.sessions):.1f} s")
    return out


def summary(report: Report) -> str:
    lines = [f"{'#':>3} {'marker':<13} {'lag':>3} {'steps':>5} {'played':>6} {'open':>6} {'type':>6} {'train':>6} "
             f"{'check':>6} {'cell':>6} {'pause':>6} {'past':>5} {'clicks':>6}  "
             f"{'trained here (as /cell lists it)':<32}  result"]
    for s in [report.warmup] * bool(report.warmup.seconds) + report.sessions:
        t = [f"{s.seconds[k]:6.1f}" if k in s.seconds else f"{'-':>6}"
             for k in ("open", "type", "train", "check", "cell")]
        listed = ", ".join(f"{name.split(' · ')[0]} @{name.split(' step ')[-1]}" for name in s.listed) or "-"
        result = "ok" if not s.problems else f"FAIL ({len(s.problems)})"
        lines.append(f"{s.index if s.index else 'w':>3} {s.marker:<12} {s.lag:>3} {s.steps:>5} {s.played:>6} "
                     f"{' '.join(t)} {s.pause_s:6.1f} {s.past_pause:>5} {s.pause_clicks:>6}  {listed:<32}  {result}")
    b, n = report.baseline_mb, len(report.waves[0].sessions) if report.waves else 0
    lines += ["", "seconds per phase of each session (open: Home's first run; cell: typing on Inside the cell to its "
              "charts showing the text); w = the warm-up (not in the figures below); played: steps from the Play click "
              "to the counter stopping; pause: seconds from the Pause click to the counter stopping; past: steps the "
              "counter gained after that click, as the page showed them (its redraws lag the server: an upper bound); "
              "clicks: Pause clicks (more than 1: one was not answered within 10 s)", *play_figures(report),
              f"server RSS (MiB) with {n} sessions at once, server.disconnectedSessionTTL {report.ttl_s} s:",
              f"  {'baseline (no session held, after the warm-up)':<48} {b:8.1f}   session state "
              f"{report.baseline_state_mb:.2f}, caches {report.baseline_cache_mb:.1f}"]
    for i, w in enumerate(report.waves, 1):
        growth = w.after_mb - b
        lines += [f"  wave {i} ({w.seconds:.0f} s)",
                  f"    {'server CPU, cores busy on average / busiest second':<46} {w.cpu_cores:8.2f}   "
                  f"{w.peak_cores:.2f} of {server_cores()}",
                  f"    {'peak while the sessions ran':<46} {w.peak_mb:8.1f}   +{w.peak_mb - b:.0f}, "
                  f"{(w.peak_mb - b) / max(n, 1):.1f} per session",
                  f"    {'every session open, all done':<46} {w.loaded_mb:8.1f}",
                  f"    {'contexts closed, sessions kept for reconnect':<46} {w.held_mb:8.1f}",
                  f"    {'after close (sessions released)':<46} {w.after_mb:8.1f}   growth {growth:+.1f} MiB "
                  f"({100 * growth / b if b else math.nan:+.1f}%)",
                  f"    {'  of which the bounded caches':<46} {w.cache_mb - report.baseline_cache_mb:+8.1f}   "
                  f"session state left {w.state_mb:.2f}"]
    lines += [f"  {'server high-water mark (VmHWM)':<48} {report.hwm_mb:8.1f}",
              f"growth after close, caches aside, {report.growth_mb:+.1f} MiB (bound {report.max_growth_mb:.0f}); last "
              f"wave vs first, caches aside, {report.wave_growth_mb:+.1f} MiB (bound {report.max_wave_growth_mb:.0f}); "
              f"session state left {report.state_left_mb:+.2f} MiB (bound 1)",
              f"wall time {report.wall_s:.0f} s; server log {report.log}"]
    failures = report.failures
    memory = ("memory not checked (--url: a server this script did not start)." if report.remote else
              "memory came back within the bounds.")
    lines += ["", "FAILED:" if failures else "PASSED: every session saw only its own text and models, no errors, "
              + memory, *(f"  - {f}" for f in failures)]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.load.sessions", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions at once")
    parser.add_argument("--url", help="drive this server (e.g. nginx from deploy/replicas.sh) instead of starting one; "
                                      "memory is then read from --pids only, and not checked")
    parser.add_argument("--scheduler-log", help="with --url: the file the servers' schedulers log to (start them with "
                                                "RNNVIZ_SCHEDULER_LOG set to it; replicas may share one)")
    parser.add_argument("--pids", type=int, nargs="*", default=[],
                        help="with --url: the server processes whose CPU and memory to read")
    parser.add_argument("--waves", type=int, default=2, help="waves of sessions, one after another")
    parser.add_argument("--lag-base", type=int, default=5,
                        help="each session's recall lag is this plus its number, so its models' names are its own. A "
                             "step costs about lag + 1 time steps: with 20 sessions, 5 makes the last one's steps cost "
                             "3.7 times the first's, and time-fair slices then give it fewer steps; 50 keeps them "
                             "within 1.4 times, for a fairness figure in steps")
    parser.add_argument("--steps", type=int, default=2, help="presses of Step on /train (10 steps each)")
    parser.add_argument("--play-s", type=float, default=3.0, help="seconds of Play before Pause (0: no Play)")
    parser.add_argument("--target", type=int, default=300, help="/train's 'Train for (steps)': where Play stops")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds any one wait may take")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="run the browsers at this niceness (1-19): on one machine with the server, its sessions' "
                             "browsers then take the cores only when the server and its training leave them idle, "
                             "as browsers on the students' own machines would")
    parser.add_argument("--session-ttl", type=int, default=None,
                        help="server.disconnectedSessionTTL for this server (default: the app's config)")
    parser.add_argument("--settle-s", type=float, default=10.0, help="seconds between the reaping probe and a reading")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the warm-up session (the baseline then lacks the app's first imports)")
    parser.add_argument("--max-growth-mb", type=float, default=MAX_GROWTH_MB,
                        help="fail if RSS after close exceeds the baseline by more than this (MiB)")
    parser.add_argument("--max-wave-growth-mb", type=float, default=MAX_WAVE_GROWTH_MB,
                        help="fail if RSS after the last wave exceeds that after the first by more than this (MiB)")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.waves < 1 or args.sessions * args.waves > MAX_SESSIONS:
        parser.error(f"--sessions × --waves must be from 1 to {MAX_SESSIONS}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the load test; print the summary; 0 if every check passed, else 1."""
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the server inherits it: one torch thread per op
    # The server inherits it too: glibc gives each thread that allocates an arena of its own (up to 8 per core), and
    # Streamlit runs every session's script in a thread of its own, so freed session memory stays spread over many
    # arenas and is not reused. Measured: README, Development.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    report = asyncio.run(run(args, say=lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)))
    print(summary(report), flush=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
