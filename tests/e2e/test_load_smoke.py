"""The load test (tests/load/sessions.py) at its smallest, so that it keeps working: two sessions at once, one Step
each, a one-second session TTL. Its memory bounds are not what this checks (no warm-up, so the baseline lacks the
app's first imports); the full run is ``python -m tests.load.sessions --sessions 20`` (README, Development)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import _chromium
from tests.load import sessions, wire

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_leak_search_finds_another_session_s_marker_and_model_names():
    a, b, c = (sessions.Session(i, 1) for i in (1, 2, 3))
    page = f"{a.marker} … LSTM · recall lag {a.lag} · step 10"
    assert sessions.foreign_data(page, a, [a, b, c]) == []
    assert sessions.foreign_data(page + f" {b.emoji}", a, [a, b, c]) == [f"session 2's {b.emoji!r}"]
    leaked = sessions.foreign_data(f"RNN · recall lag {c.lag} · step 10", a, [a, b, c])
    assert leaked == [f"session 3's 'recall lag {c.lag} ·'"]  # lag 8, not a prefix of lag 18's name
    assert c.lag == 8 and sessions.foreign_data("recall lag 18 ·", a, [a, c]) == []


def test_the_summary_gives_pause_times_and_fairness():
    wave = sessions.Wave([sessions.Session(i, 1) for i in (1, 2, 3, 4)])
    for s, played, pause_s, past in zip(wave.sessions, (40, 80, 60, 50), (0.5, 3.0, 1.0, 1.5), (2, 9, 4, 3),
                                        strict=True):
        s.played, s.pause_s, s.past_pause, s.seconds["open"] = played, pause_s, past, pause_s * 2
    [line] = sessions.play_figures(sessions.Report(sessions.Session(0, 1), waves=[wave]))
    assert f"fairness min/max {40 / 80:.2f}" in line and "steps played 40 to 80" in line
    assert "1.5 s (median)" in line and "3.0 s at most" in line and "within 2 s for 3 of 4" in line
    assert "at most 9 steps shown after the click" in line and "page opened in at most 6.0 s" in line
    assert sessions.step_of("Step 1,234 of 5,000 · 12.0 s of training · pausing…") == 1234


def test_two_sessions_at_once_see_only_their_own_text_and_models():
    if _chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing; browser tests cannot be skipped under CI=true.")
        pytest.skip("Chromium not found (install Debian's chromium or set RNNVIZ_CHROMIUM).")
    argv = ["--sessions", "2", "--waves", "1", "--steps", "1", "--play-s", "0", "--session-ttl", "1",
            "--settle-s", "1", "--no-warmup", "--max-growth-mb", "4000", "--timeout", "120"]
    with ThreadPoolExecutor(1) as pool:  # its own thread: asyncio.run beside the session's sync Playwright
        assert pool.submit(sessions.main, argv).result() == 0


def test_the_light_client_s_leak_search_needs_its_own_data_and_finds_another_s():
    a, b = (wire.Wire(i, "http://x", 1) for i in (1, 2))
    mine = f"{wire.CJK[1]} {wire.EMOJI[1]} LSTM · recall lag {a.lag} · step 10"
    wire.look_for_leaks(a, [a, b], mine)
    assert a.problems == []
    wire.look_for_leaks(a, [a, b], mine + f" GRU · recall lag {b.lag} · step 20")
    assert a.problems == [f"session 2's ['recall lag {b.lag} ·'] in what the server sent it"]
    wire.look_for_leaks(b, [a, b], "nothing of its own")  # finding nothing of its own would prove nothing
    assert len(b.problems) == 1 and "its own" in b.problems[0]


def test_two_light_clients_play_pause_and_see_only_their_own_data():
    """tests/load/wire.py against the app itself: the protocol it speaks (the widgets it finds by label, the
    Play/Pause values it sends, the live view's timer it keeps) still drives /train and /cell. Each session opens
    /cell as soon as its Pause shows, cutting /train's run short: its models must be listed there all the same
    (Pause's callback lists them, not only the end of the run)."""
    argv = ["--sessions", "2", "--play-s", "2", "--session-ttl", "1", "--settle-s", "1", "--max-growth-mb", "4000",
            "--timeout", "120"]
    with ThreadPoolExecutor(1) as pool:  # its own thread: asyncio.run beside another test's sync Playwright
        assert pool.submit(wire.main, argv).result() == 0
