"""rnnviz.sample: seeded sampling, greedy decoding, the recorded probabilities, temperature, unknown characters."""

import math

import numpy as np
import pytest
import torch

from rnnviz import UNK, InputError, Model, ModelConfig, Vocab
from rnnviz.figures.text import generation_html, token_tip
from rnnviz.sample import MAX_LENGTH, check_generative, entropy_bits, generate, temperature_probs
from rnnviz.stepthrough import train_letters

CODE = "def add(a, b):\n    return a + b\n\nclass Point:\n    x = 0\n"


@pytest.fixture(scope="module")
def model() -> Model:
    """An untrained but sharply opinionated character model (scaled weights), so temperature matters."""
    m = Model(ModelConfig(cell="lstm", hidden_size=24), Vocab.from_text(CODE),
              generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        m.head.weight.mul_(8)
    return m.eval()


def test_the_same_seed_gives_the_same_text_whatever_the_global_rng(model):
    torch.manual_seed(123)
    a = generate(model, "def ", 200, 1.0, seed=7)
    torch.manual_seed(456)
    torch.rand(10)
    b = generate(model, "def ", 200, 1.0, seed=7)
    c = generate(model, "def ", 200, 1.0, seed=8)
    assert a.text == b.text and len(a.text) == 200
    np.testing.assert_array_equal(a.prob, b.prob)
    assert a.text != c.text


def full_prefix_probs(model: Model, ids: list[int]) -> np.ndarray:
    """p(next | prefix) for the last position, from a fresh run over the whole prefix (no carried state)."""
    with torch.no_grad():
        out, _ = model(torch.tensor([ids]))
    return torch.softmax(out[0, -1].double(), -1).numpy()


def test_greedy_takes_the_most_likely_token_at_every_step(model):
    gen = generate(model, "class", 40, 1.0, seed=0, greedy=True)
    ids = model.vocab.encode("class").tolist()
    for t in range(gen.prime_len, len(gen.tokens)):
        p = full_prefix_probs(model, ids)
        p[0] = 0  # the unknown token is never written
        expected = int(np.argmax(p))
        assert gen.tokens[t] == model.vocab.tokens[expected]
        ids.append(expected)
    assert np.all(gen.entropy[gen.generated] == 0) and np.all(gen.sample_prob[gen.generated] == 1)


def test_recorded_probabilities_and_top5_match_a_fresh_forward_pass(model):
    gen = generate(model, "def a", 30, 0.7, seed=3)
    ids = [model.vocab.index(t) for t in gen.tokens]
    assert math.isnan(gen.prob[0]) and gen.top(0) == []
    for t in range(1, len(ids)):
        p = full_prefix_probs(model, ids[:t])
        assert gen.prob[t] == pytest.approx(p[ids[t]], abs=1e-6)
        top = gen.top(t)
        assert [model.vocab.index(tok) for tok, _ in top] == list(np.argsort(-p)[:5])
        assert [q for _, q in top] == pytest.approx(sorted(p, reverse=True)[:5], abs=1e-6)


def test_lower_temperature_means_lower_entropy(model):
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0, 0.0])
    entropies = [float(entropy_bits(temperature_probs(logits, t, mask_unk=False))) for t in (0.1, 0.5, 1.0, 2.0)]
    assert entropies == sorted(entropies) and entropies[0] < 0.01 < entropies[-1]
    cold = generate(model, "def ", 300, 0.3, seed=0)
    hot = generate(model, "def ", 300, 1.8, seed=0)
    assert np.nanmean(cold.entropy) < np.nanmean(hot.entropy)
    assert np.mean(cold.prob[cold.generated]) > np.mean(hot.prob[hot.generated])


def test_unknown_prime_characters_are_shown_as_the_unknown_token_not_dropped(model):
    gen = generate(model, "dé€f", 5, 1.0, seed=0)
    assert gen.prime_len == 4
    assert gen.tokens[:4] == ["d", UNK, UNK, "f"] and gen.typed[:4] == list("dé€f")
    assert gen.unknown[:4] == [False, True, True, False]
    assert UNK not in gen.tokens[4:]
    html = generation_html(gen)
    assert html.count('class="tk prime unk"') == 2 and "&lt;unk&gt;" in html
    assert "é is not in the vocabulary" in token_tip(gen, 1)


def test_the_unknown_token_is_never_written_even_when_the_model_prefers_it(model):
    with torch.no_grad():
        bias = model.head.bias.clone()
        model.head.bias[0] = 50.0
    try:
        for greedy in (False, True):
            gen = generate(model, "x", 50, 2.0, seed=1, greedy=greedy)
            assert UNK not in gen.tokens[1:]
            assert gen.top(1)[0][0] == UNK  # the model's own probabilities are still reported honestly
    finally:
        with torch.no_grad():
            model.head.bias.copy_(bias)


def test_a_letter_model_continues_the_alphabet_in_a_closed_vocabulary():
    letters, _ = train_letters("rnn", "one", "onehot", seed=0)
    gen = generate(letters, "a", 9, 1.0, greedy=True)
    assert gen.text == "bcdeabcde"  # index 0 is the letter a here, not <unk>: it must stay writable
    with pytest.raises(InputError, match="not in this model's vocabulary"):
        generate(letters, "ax", 3)


def test_models_that_cannot_write_text_are_refused_with_a_sentence():
    vocab = Vocab.from_text("abc")
    with pytest.raises(InputError, match="numbers, not text"):
        check_generative(Model(ModelConfig(encoder="float", input_size=2)))
    with pytest.raises(InputError, match="3 classes"):
        check_generative(Model(ModelConfig(output_size=3), vocab))
    with pytest.raises(InputError, match="bidirectional"):
        check_generative(Model(ModelConfig(bidirectional=True), vocab))


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 0.05}, "temperature"),
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"length": 0}, "length"),
    ({"length": MAX_LENGTH + 1}, "length"),
    ({"length": 2.5}, "length"),
    ({"seed": -1}, "seed"),
    ({"prime": ""}, "prime"),
    ({"prime": "a" * 2001}, "limit"),
])
def test_settings_out_of_range_are_refused_with_a_sentence(model, kwargs, message):
    args = {"prime": "def ", "length": 10, "temperature": 1.0, "seed": 0, **kwargs}
    with pytest.raises(InputError, match=message):
        generate(model, args.pop("prime"), **args)


def test_generated_html_escapes_every_token_and_has_a_tip_per_position():
    m = Model(ModelConfig(cell="gru", hidden_size=8), Vocab.from_text("<>&\"'/= scriptmg")).eval()
    prime = "<script>&\"'</script><img src=x>"
    gen = generate(m, prime, 12, 1.0, seed=0)
    html = generation_html(gen)
    assert "<script" not in html and "</script" not in html and "<img" not in html
    assert "&lt;" in html and "&amp;" in html and "&quot;" in html
    assert html.count('class="tk') == html.count("data-tip=") == len(gen.tokens) == len(prime) + 12
    assert "top 5 here" in html
