"""A model or task cached for everyone is never trained or mutated: /train trains models of its own, built from the
same configuration, and they live in the session that trained them (pages.shared's docstring; STYLE.md)."""

from __future__ import annotations

import torch

from pages.shared import TRAINED_KEY, pretrained, random_model
from rnnviz.assets import list_pretrained
from tests.app.helpers import ok
from tests.app.test_train import open_page, race, step


def test_training_leaves_the_models_and_task_cached_for_everyone_as_they_were():
    at = open_page()  # recall at lag 5, 4 hidden units
    r = race(at)
    lstm = r.trainers["lstm"].model
    # The model every session would get from the Random source for this very configuration and seed.
    shared = random_model(lstm.config, lstm.init, lstm.vocab, r.config.seed)
    assert shared is not lstm and shared.fingerprint() == lstm.fingerprint()  # the same configuration, weights
    bundled = {card["name"]: pretrained(card["name"])[0] for card in list_pretrained()}
    before = {name: m.fingerprint() for name, m in bundled.items()} | {"random": shared.fingerprint()}
    task = r.task  # /train's cached task, shared by every session that picks these settings
    x_val, y_val = (t.clone() for t in task.validation())
    generator_state = task.generator.get_state()

    step(at, 10)
    step(at, 10)
    ok(at.button(key="train_reset").click().run())  # a new race, from the same cached task
    step(at, 10)

    assert race(at).task is task and race(at).step == 10 and lstm.fingerprint() != before["random"]  # it trained
    assert random_model(lstm.config, lstm.init, lstm.vocab, r.config.seed) is shared
    after = {name: pretrained(name)[0].fingerprint() for name in bundled} | {"random": shared.fingerprint()}
    assert after == before and all(pretrained(name)[0] is m for name, m in bundled.items())
    assert not shared.training and all(not m.training for m in bundled.values())
    assert all(torch.equal(a, b) for a, b in zip(task.validation(), (x_val, y_val), strict=True))
    assert torch.equal(task.generator.get_state(), generator_state)  # trainers draw from generators of their own
    # What was trained lives in this session only, and none of it is a cached object.
    store = at.session_state[TRAINED_KEY]
    cached = [shared, *bundled.values()]
    trained = [e["model"] for e in store.values()] + [t.model for t in race(at).trainers.values()]
    assert len(store) == 4 and not any(m is c for m in trained for c in cached)
