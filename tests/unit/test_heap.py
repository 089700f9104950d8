"""The server's heap (rnnviz.heap): the imported libraries frozen once, garbage made later still collected; and
Streamlit's collection after every script run kept off."""

import gc
import tomllib
import weakref
from pathlib import Path

import pytest

from rnnviz import heap

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(heap, "_frozen", False)
    frozen_before = gc.get_freeze_count()
    yield
    if frozen_before == 0:
        gc.unfreeze()  # what this test froze goes back to the collector


class Node:
    def __init__(self):
        self.other = self  # a cycle: only the collector frees it


def test_the_imports_are_frozen_once_per_process(fresh):
    kept = Node()  # alive before the freeze: frozen with the libraries
    before = gc.get_freeze_count()
    assert heap.freeze_imports(("json", "csv")) is True
    assert gc.get_freeze_count() > before
    assert not any(o is kept for o in gc.get_objects())  # the collector no longer walks it
    assert heap.freeze_imports(("json",)) is False  # once per process


def test_garbage_made_after_the_freeze_is_still_collected(fresh):
    heap.freeze_imports(("json",))
    node = Node()
    gone = weakref.ref(node)
    del node
    assert gone() is not None  # a cycle: reference counts alone do not free it
    gc.collect()
    assert gone() is None


def test_streamlit_does_not_collect_after_every_script_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_the_freeze_can_be_turned_off_for_a_measurement(fresh, monkeypatch):
    monkeypatch.setenv("RNNVIZ_GC_FREEZE", "0")
    kept = Node()
    assert heap.freeze_imports(("json",)) is False
    assert any(o is kept for o in gc.get_objects())  # not frozen: the collector still walks it


def test_an_idle_collection_runs_at_most_every_interval_and_frees_cycles():
    now = [1000.0]
    collect = heap.IdleCollector(clock=lambda: now[0])  # its own: the server's idle workers may call the module's
    freed = []
    c = Node()
    weakref.finalize(c, freed.append, "cycle")
    del c  # unreachable, but in a cycle: only a collection frees it
    assert collect() and freed == ["cycle"]
    now[0] += heap.IDLE_COLLECT_S / 2
    assert not collect()  # too soon
    now[0] += heap.IDLE_COLLECT_S / 2
    assert collect()


def test_the_server_s_idle_collection_waits_its_interval_between_collections():
    heap.collect_when_idle()  # whether this one collects depends on when a worker last did
    assert heap._idle.interval == heap.IDLE_COLLECT_S == 30.0
    assert not heap.collect_when_idle()  # one ran within the interval: this one, or a worker's
