"""A class at once, with light clients: each session speaks Streamlit's websocket protocol itself and draws nothing.

    OMP_NUM_THREADS=1 python -m tests.load.wire --sessions 20 --play-s 40

tests.load.sessions drives each session with a real Chromium page. On a small machine those pages share the cores
with the server they measure: with 20 of them on two cores, a page took up to 30 s to open and showed a Pause seconds
after the server had acted on it. Here each session is one websocket and a few kilobytes of Python, as the issue
allows ("measure with fewer or lighter clients"). Each sends the browser's own messages (BackMsg rerun_script with
the page, the query string and the widgets it changed) and reads the server's (ForwardMsg deltas, script_finished,
auto_rerun), so the server does exactly the work it does for a browser: the same script runs, the same figures built
and serialized, the same websocket writes. What it leaves out is the browser's share: downloading the JavaScript
bundle (cached after a first visit), parsing and drawing. The live view's timer is the browser's too
(``st.fragment(run_every=…)`` sends an ``auto_rerun`` message; the browser then asks for the fragment's run every
interval while no run is under way), so it is emulated here the same way.

Each session:

1. opens ``/train?lang=en`` (the HTML page, then the websocket and the page's first run: "open");
2. sets its recall lag (``--lag-base`` plus its number) and "Train for (steps)" to ``--target``;
3. waits for the others, presses Play, lets the live view redraw for ``--play-s`` seconds, presses Pause, and reads
   the progress line until it no longer says the job is under way ("pause": from sending Pause to that answer;
   "past": the steps the line gained after the Pause, an upper bound of what was trained after it);
4. opens Inside the cell (the navigation, so the same session) as soon as the progress line shows the pause, as a
   hurried student does (which cuts the rest of /train's run short), picks "Trained here", whose list must hold its
   own models and only those, types its marker into "Sequence" and waits for the run to finish ("cell"); the
   heatmap's figure must carry the marker's characters;
5. everything the server sent it is searched for every other session's marker and recall-lag model names: none may be
   there (its own must be).

No page may show an exception or an error box. The summary gives each session's figures, the server's CPU and
memory (resident set, with the training processes, before, at the peak and after close), the scheduler log's
figures (tests.load.joblog) and the issue's targets: Pause within 2 s for 95% of clicks, at most one slice past a
Pause, a page opening within 5 s, fairness (min/max steps played) at least 0.5. ``--url`` drives a server it did
not start (nginx in front of replicas, deploy/replicas.sh); each session then keeps the sticky cookie nginx gives it,
as a browser does, and the script checks that it stayed on one replica (its own data were always there).

Exit status 1 if any session failed a check.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import http.cookies
import json
import math
import os
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from google.protobuf import text_format
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from rnnviz.scheduler import LOG_ENV, read_log, server_cores
from tests.e2e.server import app_process
from tests.load import joblog
from tests.load.sessions import (
    CJK,
    EMOJI,
    MAX_GROWTH_MB,
    MAX_WAVE_GROWTH_MB,
    TRAINING,
    _sample_peak,
    _status,
    active_sessions,
    held_mb,
    rss_mb,
    step_of,
)

MAX_SESSIONS = min(len(CJK), len(EMOJI)) - 1
REPLICA_HEADER = "X-Rnnviz-Replica"  # deploy/nginx.conf: the upstream that answered
PLAY, PAUSE = "Play", "Pause"  # the words on /train's Play/Pause control (?lang=en)


@dataclass
class Wire:
    """One Streamlit session over one websocket, driven as a browser would drive it."""

    index: int
    url: str
    timeout_s: float
    lag_base: int = 50
    ws: object = None
    cookie: str = ""  # the replica cookie nginx set, sent back with the websocket (sticky sessions)
    replica: str = ""  # which replica served the page, as nginx says (deploy/nginx.conf); "" without nginx
    widgets: dict = field(default_factory=dict)  # label: (kind, proto) of the last time each widget was drawn
    progress: str = ""  # /train's progress line, as last drawn
    progress_at: float = 0.0
    full_runs: int = 0  # full script runs finished (not cut short for a newer run)
    starts: int = 0  # script runs started (each begins with a new_session message)
    finished_start: int = 0  # the number of the run (by starts) that last finished in full
    path: str = ""  # the page shown, by its URL path ("" for Home), as the navigation message names it
    running: bool = False
    received: list = field(default_factory=list)  # the text of each element drawn since the last clear()
    transcript: list = field(default_factory=list)  # all of it, for the leak search
    errors: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    listed: list = field(default_factory=list)  # what /cell offers as trained here
    steps: int = 0
    played: int = 0
    pause_s: float = math.nan
    past_pause: int = 0
    page: str = "train"
    page_hash: str = ""  # the page shown, as the navigation message names it
    query: str = ""  # the link's query string, as the page last wrote it
    _timers: dict = field(default_factory=dict)  # fragment id: the task asking for its runs
    _registered: set = field(default_factory=set)  # fragment timers the current full run asked for
    _reader: object = None

    @property
    def marker(self) -> str:
        return f"线{self.index:03d}·{CJK[self.index]}{EMOJI[self.index]}"

    @property
    def lag(self) -> int:
        return self.lag_base + self.index

    def needles(self) -> list[str]:
        """What only this session typed or trained (its own character and emoji are in no text of the app's): the
        server sends a typed text back character by character (the charts' step labels), not whole."""
        return [CJK[self.index], EMOJI[self.index], f"recall lag {self.lag} ·"]

    # The protocol ------------------------------------------------------------------------------------------------

    async def open(self, path: str, query: str) -> None:
        """What a browser does for a link: fetch the page, open the websocket, ask for the page's first run."""
        t0 = time.monotonic()
        self.cookie = await asyncio.to_thread(self._fetch, f"{self.url}/{path}?{query}")
        ws_url = self.url.replace("http", "ws", 1) + "/_stcore/stream"
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], additional_headers=headers,
                                           max_size=None, open_timeout=self.timeout_s, ping_interval=None)
        self._reader = asyncio.create_task(self._read())
        answered = self.ws.response.headers.get(REPLICA_HEADER, "")
        if answered != self.replica:  # behind nginx: the cookie must take the websocket where the page came from
            self.problems.append(f"the page came from replica {self.replica}, its websocket went to {answered}")
        self.page, self.query = path, query
        await self.rerun(page=path)
        self.seconds["open"] = time.monotonic() - t0

    def _fetch(self, url: str) -> str:
        with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
            response.read()
            self.replica = response.headers.get(REPLICA_HEADER, "")
            jar = http.cookies.SimpleCookie()
            for header in response.headers.get_all("Set-Cookie") or []:
                jar.load(header)
            return "; ".join(f"{k}={m.value}" for k, m in jar.items())

    async def send(self, widgets: list[WidgetState] = (), page: str | None = None, query: str | None = None,
                   fragment_id: str = "") -> None:
        """A rerun request as the browser makes it: the link's query string and the page shown (by its script's
        hash, or by its name in the URL when opening one), with the widgets that changed."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query if query is None else query
        if page is not None:
            state.page_name = page
        else:
            state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = bool(fragment_id)
        state.widget_states.widgets.extend(widgets)
        await self.ws.send(msg.SerializeToString())

    async def rerun(self, widgets: list[WidgetState] = (), page: str | None = None, query: str | None = None) -> None:
        """Send a full rerun and wait until a full run that started after it has finished (on ``page``, when it
        opens one): a run already under way (the live view's own rerun once a job stops) may finish meanwhile."""
        before, deadline = self.starts, time.monotonic() + self.timeout_s
        await self.send(widgets, page, query)
        while self.finished_start <= before or self.running or (page is not None and self.path != page):
            if self._reader.done():
                raise RuntimeError(f"the websocket closed: {self._reader.exception()!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no run finished within {self.timeout_s:.0f} s")
            await asyncio.sleep(0.01)

    async def _read(self) -> None:
        async for payload in self.ws:
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element)
            elif kind == "session_status_changed":
                was, self.running = self.running, msg.session_status_changed.script_is_running
                if self.running and not was:
                    self._registered = set()
            elif kind == "new_session":  # sent as every run starts
                self.starts += 1
            elif kind == "navigation":
                self.page_hash = msg.navigation.page_script_hash
                self.path = next((p.url_pathname for p in msg.navigation.app_pages
                                  if p.page_script_hash == self.page_hash), "")
            elif kind == "page_info_changed":  # the page wrote its link: the browser's address bar
                self.query = msg.page_info_changed.query_string
                self.transcript.append(urllib.parse.unquote_plus(self.query))
            elif kind == "auto_rerun":
                self._registered.add(msg.auto_rerun.fragment_id)
                self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
            elif kind == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    for fragment in set(self._timers) - self._registered:  # the run no longer asks for it
                        self._timers.pop(fragment).cancel()
                    self.full_runs += 1
                    self.finished_start = self.starts
                    self.running = False
                elif msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                    self.running = False

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        if kind == "progress":
            self.progress, self.progress_at = proto.text, time.monotonic()
        elif kind == "exception":
            self.errors.append(f"{self.page}: exception {proto.type}: {proto.message[:200]}")
        elif kind == "alert" and proto.format == Alert.ERROR:
            self.errors.append(f"{self.page}: error box: {proto.body[:200]}")
        if getattr(proto, "id", "") and getattr(proto, "label", ""):
            self.widgets[proto.label] = (kind, proto)
        # as a person would read it: protobuf's text form and Plotly's JSON both escape what is not ASCII
        text = (text_format.MessageToString(proto, as_utf8=True) if kind != "plotly_chart" else
                json.dumps(json.loads(proto.spec), ensure_ascii=False))
        self.received.append(text)
        self.transcript.append(text)

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        if fragment_id in self._timers:
            self._timers.pop(fragment_id).cancel()

        async def tick() -> None:  # as the browser: ask for the fragment's run each interval while none is under way
            while True:
                await asyncio.sleep(interval)
                if not self.running:
                    self.running = True
                    await self.send(fragment_id=fragment_id)

        self._timers[fragment_id] = asyncio.create_task(tick())

    async def close(self) -> None:
        for task in self._timers.values():
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    # Widgets -----------------------------------------------------------------------------------------------------

    def widget(self, label: str):
        if label not in self.widgets:
            said = [t.split("\n")[0] for t in self.received if t.startswith("body:")][-6:]
            raise LookupError(f"{self.page}: no widget labelled {label!r}; the page said {said}")
        return self.widgets[label][1]

    async def set_number(self, label: str, value: float) -> None:
        await self.rerun([WidgetState(id=self.widget(label).id, double_value=value)])

    async def set_text(self, label: str, text: str) -> None:
        await self.rerun([WidgetState(id=self.widget(label).id, string_value=text)])

    async def pick(self, label: str, option: str) -> None:
        """Pick an option of a radio or selectbox by the words it shows."""
        proto = self.widget(label)
        if option not in proto.options:
            raise LookupError(f"{label!r} offers no {option!r}: {list(proto.options)}")
        await self.rerun([WidgetState(id=proto.id, string_value=option)])

    async def choose(self, label: str, word: str) -> None:
        """Pick the option of a segmented control whose label ends with ``word``."""
        proto = self.widget(label)
        # the value on the wire is the option as format_func wrote it: a leading icon, then the words
        wire = [f"{o.content_icon} {o.content}" if o.content_icon else o.content for o in proto.options]
        shown = [w for w in wire if w.endswith(word)]
        if len(shown) != 1:
            raise LookupError(f"{label!r} has no single option ending with {word!r}: {wire}")
        state = WidgetState(id=proto.id)
        state.string_array_value.data.extend(shown)
        await self.send([state])


# One session -----------------------------------------------------------------------------------------------------


async def run_session(s: Wire, args: argparse.Namespace, together: asyncio.Barrier, everyone: list[Wire]) -> None:
    phase = "open"
    try:
        await s.open("train", "lang=en")
        phase = "settings"
        await s.set_number("Lag (steps of filler)", s.lag)
        await s.set_number("Train for (steps)", args.target)
        phase = "play"
        await asyncio.wait_for(together.wait(), args.timeout)
        await play(s, args)
        phase = "cell"
        await asyncio.wait_for(together.wait(), args.timeout)  # every session's models exist before any looks
        s.page = "cell"
        t0 = time.monotonic()
        await s.rerun(page="cell", query="lang=en")  # the navigation link: the new page, the language kept
        s.seconds["cell open"] = time.monotonic() - t0
        await s.pick("Model source", "Trained here")
        s.listed = list(s.widget("Model trained in this session").options)
        if not s.listed or not all(f"recall lag {s.lag} ·" in name for name in s.listed):
            s.problems.append(f"/cell offers {s.listed} as trained here, not only this session's recall lag {s.lag}")
        s.received.clear()  # what /cell sends from here on is searched for the typed text
        t0 = time.monotonic()
        await s.set_text("Sequence", s.marker)
        s.seconds["cell"] = time.monotonic() - t0
        if not any(all(c in spec for c in s.marker) for spec in s.received if spec.startswith('{"data"')):
            s.problems.append("/cell: no figure carries the typed marker's characters")
        await asyncio.wait_for(together.wait(), args.timeout)
    except asyncio.CancelledError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure is this session's finding; the others go on
        if not isinstance(err, asyncio.BrokenBarrierError):
            s.problems.append(f"{phase}: {type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}")
        await together.abort()


async def play(s: Wire, args: argparse.Namespace) -> None:
    before = step_of(s.progress)
    await s.choose("Play or pause", PLAY)
    # a class does not click at one instant: with --pause-spread, session i of n pauses (i - 1) / (n - 1) of it later
    spread = args.pause_spread * (s.index - 1) / max(1, args.sessions - 1)
    await asyncio.sleep(args.play_s + spread)
    at_click, clicked = step_of(s.progress), time.monotonic()
    await s.choose("Play or pause", PAUSE)
    deadline = clicked + args.timeout
    while True:  # the progress line as the server draws it after the click
        if s.progress_at > clicked and not s.progress.endswith(TRAINING):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"still playing {args.timeout:.0f} s after Pause: {s.progress!r}")
        await asyncio.sleep(0.01)
    s.pause_s = s.progress_at - clicked  # and on at once, as a hurried student: the next page cuts this run short
    s.steps = step_of(s.progress)
    s.played, s.past_pause = s.steps - before, s.steps - at_click


def look_for_leaks(s: Wire, everyone: list[Wire], seen: str) -> None:
    if missing := [n for n in s.needles() if n not in seen]:
        s.problems.append(f"its own {missing} not in what the server sent it (the search would prove nothing)")
    for other in everyone:
        if other is not s and (found := [n for n in other.needles() if n in seen]):
            s.problems.append(f"session {other.index}'s {found} in what the server sent it")


# The run ---------------------------------------------------------------------------------------------------------


@dataclass
class Wave:
    sessions: list[Wire]
    cpu_cores: float = math.nan  # the server's CPU time over the wave's wall time: cores busy on average
    peak_cores: float = 0.0  # the same over the busiest second
    peak_mb: float = 0.0
    after: tuple = (math.nan,) * 4  # after close: RSS, session state, caches, the server alone, MiB (release)
    seconds: float = math.nan
    jobs: joblog.WaveFigures | None = None


@dataclass
class Report:
    waves: list[Wave] = field(default_factory=list)
    baseline: tuple = (math.nan,) * 4  # as Wave.after, after the warm-up session
    log: Path | None = None
    own: bool = True  # this script started the server (else --url: memory is reported, not checked)

    @property
    def sessions(self) -> list[Wire]:
        return [s for w in self.waves for s in w.sessions]


async def release(url: str, pids, own: bool, args: argparse.Namespace) -> tuple[float, float, float]:
    """The server's memory once closed sessions are gone: RSS of its processes, and (for a server this script
    started) the session state and caches Streamlit's /_stcore/metrics counts, MiB. Streamlit keeps a closed session
    for server.disconnectedSessionTTL seconds and drops it on a later disconnect, so after the TTL one short session
    opens and closes (tests.load.sessions does the same)."""
    if not pids:
        return math.nan, math.nan, math.nan, math.nan
    while own and await asyncio.to_thread(active_sessions, url) > 0:
        await asyncio.sleep(0.2)
    await asyncio.sleep(args.session_ttl + 1)
    probe = Wire(MAX_SESSIONS, url, args.timeout)
    await probe.open("", "lang=en")
    await probe.close()
    await asyncio.sleep(args.settle_s)
    state, caches = await asyncio.to_thread(held_mb, url) if own else (math.nan, math.nan)
    return rss_mb(pids), state, caches, own_rss_mb(pids)


def own_rss_mb(pids) -> float:
    """Resident memory of the server processes alone, without their training processes (rnnviz.remote), which keep
    copies of the trainers they trained last (up to TRAINERS_KEPT, by design), MiB."""
    pids = (pids,) if isinstance(pids, int) else pids
    return sum(_status(p, "VmRSS") for p in pids) / 1024


@contextmanager
def _given(url: str):
    yield url.rstrip("/"), None


async def run(args: argparse.Namespace, say=print) -> Report:
    log = Path(tempfile.mkdtemp(prefix="rnnviz-wire-")) / "streamlit.log"
    jobs_log = Path(args.scheduler_log) if args.scheduler_log else None
    if not args.url:
        jobs_log = log.with_name("scheduler.jsonl")
        os.environ[LOG_ENV] = str(jobs_log)
    options = ["--server.disconnectedSessionTTL", str(args.session_ttl)]
    report = Report(log=log)
    with (app_process(log, options) if not args.url else _given(args.url)) as (url, proc):
        pids, own = (proc.pid, True) if proc is not None else (tuple(args.pids), False)
        report.own = own
        # imports, caches and the training processes, once per server: behind nginx, warm-up sessions until every
        # replica (one per --pids) has served one, as far as the cookie's hash lets them land (at most 12 tries)
        warmed: set[str] = set()
        for _ in range(1 if own else 12):
            warm = Wire(0, url, args.timeout, args.lag_base)
            short = argparse.Namespace(**{**vars(args), "play_s": 3.0, "pause_spread": 0.0})  # steps to list
            await run_session(warm, short, asyncio.Barrier(1), [warm])
            await warm.close()
            if warm.problems or warm.errors:
                raise SystemExit(f"the warm-up session failed: {warm.problems + warm.errors}")
            warmed.add(warm.replica)
            if len(warmed) >= len(args.pids):
                break
        report.baseline = await release(url, pids, own, args)
        everyone: list[Wire] = []
        for w in range(args.waves):
            n = args.sessions
            wave = Wave([Wire(w * n + i, url, args.timeout, args.lag_base) for i in range(1, n + 1)])
            report.waves.append(wave)
            everyone += wave.sessions  # a later wave must not see an earlier one's data either
            say(f"wave {w + 1}: {n} sessions at once; RSS {report.baseline[0]:.0f} MiB after the warm-up")
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sample_peak(pids, wave, stop)) if pids else None
            together = asyncio.Barrier(n)
            began = time.monotonic()
            await asyncio.gather(*(run_session(s, args, together, everyone) for s in wave.sessions))
            wave.seconds = time.monotonic() - began
            for s in wave.sessions:
                look_for_leaks(s, everyone, "\n".join(s.transcript))
                await s.close()
            stop.set()
            if sampler is not None:
                await sampler
            if jobs_log is not None and jobs_log.exists():
                wave.jobs = joblog.play_figures(read_log(jobs_log), began, began + wave.seconds)
            wave.after = await release(url, pids, own, args)
    return report


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]


def wave_figures(w: Wave, i: int) -> tuple[list[str], bool]:
    """The wave's Pause, page and fairness figures against the issue's targets; whether all were met."""
    done = [s for s in w.sessions if not math.isnan(s.pause_s)]
    opens = [s.seconds["open"] for s in w.sessions if "open" in s.seconds]
    if not done or not opens:
        return [f"wave {i}: no session got as far as its Pause"], False
    pauses = sorted(s.pause_s for s in done)
    steps = [s.played for s in done]
    fair = min(steps) / max(steps) if max(steps) > 0 else math.nan
    within = sum(p <= 2.0 for p in pauses)
    lines = [f"wave {i}: Pause answered in {pauses[len(pauses) // 2]:.2f} s (median), {_p95(pauses):.2f} s (95th "
             f"percentile), {pauses[-1]:.2f} s at most; within 2 s for {within} of {len(pauses)} (target: 95%)",
             f"wave {i}: /train opened in {sorted(opens)[len(opens) // 2]:.2f} s (median), {max(opens):.2f} s at most "
             f"(target 5 s); /cell ran the typed text in {max(s.seconds.get('cell', math.nan) for s in done):.2f} s "
             "at most",
             f"wave {i}: steps played {min(steps)} to {max(steps)}: fairness min/max {fair:.2f} (target 0.5)"]
    replicas = collections.Counter(s.replica for s in w.sessions if s.replica)
    if replicas:  # behind nginx: the scheduler is per replica, so fairness across replicas depends on this split
        lines.append(f"wave {i}: sessions per replica: " + ", ".join(f"{r} {n}" for r, n in sorted(replicas.items())))
    if w.jobs is not None:
        lines.append(f"wave {i}, " + joblog.summary(w.jobs))
    met = within >= 0.95 * len(pauses) and max(opens) <= 5 and fair >= 0.5
    if w.jobs is not None:
        met = met and max(w.jobs.slices_past, default=0) <= 1
    return lines, met


def summary(r: Report, args: argparse.Namespace) -> tuple[str, bool]:
    """The report, and whether every check passed (errors, leaks, memory). The issue's targets are reported, not
    checked: they depend on the machine."""
    lines = [f"{'#':>3} {'lag':>4} {'open':>6} {'played':>6} {'pause':>6} {'past':>5} {'cell open':>9} {'cell':>6}"
             "  result"]
    for s in r.sessions:
        bad = s.problems + s.errors
        lines.append(f"{s.index:>3} {s.lag:>4} {s.seconds.get('open', math.nan):6.2f} {s.played:>6} {s.pause_s:6.2f} "
                     f"{s.past_pause:>5} {s.seconds.get('cell open', math.nan):9.2f} "
                     f"{s.seconds.get('cell', math.nan):6.2f}  {'ok' if not bad else 'FAIL: ' + '; '.join(bad)[:300]}")
    lines += ["", "open: /train's page, websocket and first run; pause: from sending Pause to the progress line no "
              "longer saying the job is under way; past: steps that line gained after the Pause (an upper bound); "
              "cell open / cell: /cell's first run, and its run after typing the marker. Seconds as a client that "
              "draws nothing sees them."]
    failures = [f"session {s.index}: {p}" for s in r.sessions for p in s.problems + s.errors]
    met = True
    b_rss, b_state, b_cache, b_own = r.baseline
    for i, w in enumerate(r.waves, 1):
        figures, ok = wave_figures(w, i)
        lines += figures
        met = met and ok
        rss, state, caches, own = w.after
        # the server process, its bounded caches aside; its training processes' copies of trainers are bounded too,
        # and a leak anywhere shows as growth from one wave to the next (--waves 2)
        growth = own - b_own - (max(0.0, caches - b_cache) if not math.isnan(caches) else 0.0)
        lines.append(f"wave {i}: server CPU {w.cpu_cores:.2f} cores busy on average, {w.peak_cores:.2f} in the busiest "
                     f"second, of {server_cores()}; RSS {b_rss:.0f} MiB before (no session held), {w.peak_mb:.0f} at "
                     f"the peak, {rss:.0f} after close: {rss - b_rss:+.0f}, of which the server process "
                     f"{own - b_own:+.0f} (its bounded caches {caches - b_cache:+.0f}) and the training processes "
                     f"{rss - own - (b_rss - b_own):+.0f}; session state left {state - b_state:+.2f} MiB; "
                     f"{w.seconds:.0f} s")
        if r.own and growth > args.max_growth_mb:
            failures.append(f"wave {i}: the server's memory after close, caches aside, {growth:+.0f} MiB above the "
                            f"baseline (bound {args.max_growth_mb:.0f})")
        if state - b_state > 1:
            failures.append(f"wave {i}: {state - b_state:.2f} MiB of closed sessions' state still held")
    if r.own and len(r.waves) > 1 and r.waves[-1].after[0] - r.waves[0].after[0] > args.max_wave_growth_mb:
        failures.append(f"the last wave's after-close is {r.waves[-1].after[0] - r.waves[0].after[0]:+.0f} MiB above "
                        f"the first's (bound {args.max_wave_growth_mb:.0f})")
    came_back = "memory came back" if r.own else "memory not checked (--url: servers this script did not start)"
    lines += ["", (f"PASSED: no error, every session saw only its own data, {came_back}." if not failures else
                   "FAILED:"), *(f"  - {f}" for f in failures),
              "The issue's targets (Pause within 2 s for 95%, at most one slice after it, pages within 5 s, fairness "
              "0.5): " + ("met." if met else "not all met.")]
    return "\n".join(lines), not failures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.load.wire", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20, help="sessions at once")
    parser.add_argument("--play-s", type=float, default=40.0, help="seconds of Play before Pause")
    parser.add_argument("--pause-spread", type=float, default=0.0,
                        help="seconds over which the sessions' Pause clicks spread (0: all at once, the worst case)")
    parser.add_argument("--target", type=int, default=5000, help="/train's 'Train for (steps)': where Play stops")
    parser.add_argument("--lag-base", type=int, default=50,
                        help="each session's recall lag is this plus its number (50 keeps their steps' costs within "
                             "1.4 times, for a fairness figure in steps)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds any one wait may take")
    parser.add_argument("--session-ttl", type=int, default=10, help="server.disconnectedSessionTTL for this server")
    parser.add_argument("--settle-s", type=float, default=5.0, help="seconds between the reaping probe and a reading")
    parser.add_argument("--waves", type=int, default=1, help="waves of sessions, one after another")
    parser.add_argument("--max-growth-mb", type=float, default=MAX_GROWTH_MB,
                        help="fail if the server process's RSS after close, caches aside, exceeds the baseline by "
                             "more than this (MiB)")
    parser.add_argument("--max-wave-growth-mb", type=float, default=MAX_WAVE_GROWTH_MB,
                        help="fail if RSS after the last wave exceeds that after the first by more than this (MiB)")
    parser.add_argument("--url", help="drive this server (nginx from deploy/replicas.sh) instead of starting one")
    parser.add_argument("--pids", type=int, nargs="*", default=[], help="with --url: the server processes to read")
    parser.add_argument("--scheduler-log", help="with --url: the file the servers' schedulers log to")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.waves < 1 or args.sessions * args.waves >= MAX_SESSIONS:
        parser.error(f"--sessions × --waves must be from 1 to {MAX_SESSIONS - 1}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    report = asyncio.run(run(args, say=lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)))
    text, passed = summary(report, args)
    print(text, flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
