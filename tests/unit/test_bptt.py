"""rnnviz.bptt against PyTorch's autograd in float64: the loss, every weight's gradient, and every named δ.

The reference runs the model's own forward (the fused nn.RNN/LSTM/GRU and the head) for the weight gradients, and
a step loop over the pre-activations with retained gradients for the per-step intermediates.
"""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rnnviz import ConfigError, InputError, Model, ModelConfig, RnnvizError, Vocab, bptt
from rnnviz import stepthrough as S
from rnnviz.bptt import descend, model_from_weights

TOL = 1e-10
LETTERS = Vocab(tuple("abcde"), unk=False)


def letter_model(cell, encoder="onehot", seed=0, hidden=3):
    config = ModelConfig(cell=cell, hidden_size=hidden, encoder=encoder, embed_dim=2)
    return Model(config, LETTERS, generator=torch.Generator().manual_seed(seed)).double()


def ids(text):
    return torch.tensor(["abcde".index(c) for c in text])


def autograd_grads(model, x, targets):
    """(L, {name: .grad}) from the model's own forward; ``targets`` [T] with −1 for unscored steps."""
    model.zero_grad()
    logits = model(x[None])[0][0]
    keep = targets >= 0
    loss = F.cross_entropy(logits[keep], targets[keep], reduction="sum")
    loss.backward()
    return loss.item(), {k: p.grad.detach().numpy().copy() for k, p in model.named_parameters()}


def autograd_steps(model, x, targets):
    """dL/dh_t, dL/dc_t and dL/d(each gate's pre-activation) from a step loop written here, in PyTorch's layout."""
    w_ih, w_hh, b_ih, b_hh = model.layer_weights(0, 0)
    H = model.config.hidden_size
    z = model.encode(x).detach()
    h = c = torch.zeros(H, dtype=torch.float64)
    keep = {"h": [], "c": [], "pre": []}
    logits = []
    for t in range(len(x)):
        xa, ha = w_ih @ z[t] + b_ih, w_hh @ h + b_hh
        if model.cell == "rnn":
            pre = [xa + ha]
            h = torch.tanh(pre[0])
        elif model.cell == "lstm":
            pre = list((xa + ha).chunk(4))
            i, f, g, o = torch.sigmoid(pre[0]), torch.sigmoid(pre[1]), torch.tanh(pre[2]), torch.sigmoid(pre[3])
            c = f * c + i * g
            h = o * torch.tanh(c)
            c.retain_grad()
            keep["c"].append(c)
        else:
            (xr, xz, xn), (hr, hz, hn) = xa.chunk(3), ha.chunk(3)
            pre = [xr + hr, xz + hz]
            r = torch.sigmoid(pre[0])
            pre.append(xn + r * hn)
            zz, n = torch.sigmoid(pre[1]), torch.tanh(pre[2])
            h = (1 - zz) * n + zz * h
        for p in pre:
            p.retain_grad()
        h.retain_grad()
        keep["h"].append(h)
        keep["pre"].append(pre)
        logits.append(model.head(h))
    logits = torch.stack(logits)
    assert torch.allclose(logits, model(x[None])[0][0], atol=1e-12)  # the loop is the model's forward
    kept = targets >= 0
    F.cross_entropy(logits[kept], targets[kept], reduction="sum").backward()
    grads = {"delta": np.stack([v.grad.numpy() for v in keep["h"]])}
    if keep["c"]:
        grads["delta_c"] = np.stack([v.grad.numpy() for v in keep["c"]])
    gates = {"rnn": ["delta_a"], "lstm": ["delta_i", "delta_f", "delta_g", "delta_o"],
             "gru": ["delta_r", "delta_z", "delta_n"]}[model.cell]
    for k, name in enumerate(gates):
        grads[name] = np.stack([p[k].grad.numpy() for p in keep["pre"]])
    return grads


def letter_targets(text, loss):
    nxt = "".join("abcde"[("abcde".index(c) + 1) % 5] for c in text)
    return ids(nxt) if loss == "every" else torch.tensor([-1] * (len(text) - 1) + ["abcde".index(nxt[-1])])


CASES = [(cell, enc) for cell in ("rnn", "lstm", "gru") for enc in ("onehot", "embedding")]


@pytest.mark.parametrize("cell, encoder", CASES)
@pytest.mark.parametrize("loss", ["every", "last"])
@pytest.mark.parametrize("text", ["bcde", "eabcdab"])
def test_matches_autograd_on_the_letter_example(cell, encoder, loss, text):
    model = letter_model(cell, encoder, seed=len(text))
    x, targets = ids(text), letter_targets(text, loss)
    target = targets if loss == "every" else int(targets[-1])
    b = bptt(model, x, target, loss)
    value, grads = autograd_grads(model, x, targets)
    assert abs(b.loss - value) <= TOL
    assert set(b.weight_grads) == set(grads)
    for name, g in grads.items():
        assert b.weight_grads[name].shape == g.shape
        assert np.abs(b.weight_grads[name] - g).max() <= TOL, name
        assert np.abs(b.steps[name].sum(0) - g).max() <= TOL, name
    for name, g in autograd_steps(model, x, targets).items():
        assert np.abs(b[name] - g).max() <= TOL, name
    assert np.abs(b["delta"] - b["delta_out"] - b["delta_next"]).max() <= TOL
    assert not b["delta_next"][-1].any()  # nothing comes back from after the last step


def test_the_letter_task_trained_model_and_text_targets():
    """A model trained in float32 is backpropagated on a float64 copy, and targets can be typed as letters."""
    model, _ = S.train_letters("lstm", "four", "onehot", seed=0)
    b = bptt(model, "bcde", "cdea", "every")
    value, grads = autograd_grads(model.double(), ids("bcde"), ids("cdea"))
    assert abs(b.loss - value) <= TOL
    assert max(np.abs(b.weight_grads[k] - g).max() for k, g in grads.items()) <= TOL
    assert "abcde"[b.predictions[-1]] == "a"  # trained on bcde → a


@pytest.mark.parametrize("loss", ["every", "last"])
def test_a_typed_three_unit_model(loss):
    """The notes' worked example typed in textbook layout: the same forward as the step view, autograd's gradients."""
    w = S.textbook_example()
    model = model_from_weights(w)
    walked = S.walk(w, "bcde")
    assert np.abs(np.stack([s["probs"] for s in walked]) - bptt(model, "bcde", "cdea")["probs"]).max() <= 1e-12
    targets = letter_targets("bcde", loss)
    b = bptt(model, "bcde", "cdea" if loss == "every" else "a", loss)
    value, grads = autograd_grads(model, ids("bcde"), targets)
    assert abs(b.loss - value) <= TOL
    assert max(np.abs(b.weight_grads[k] - g).max() for k, g in grads.items()) <= TOL
    steps = autograd_steps(model, ids("bcde"), targets)
    assert np.abs(b["delta"] - steps["delta"]).max() <= TOL
    a = np.eye(5)[ids("bcde").numpy()] @ w.w_x + b["h_prev"] @ w.w_h + w.b  # a_t in the textbook's layout
    assert np.abs(b["slope"] - (1 - np.tanh(a) ** 2)).max() <= 1e-12
    assert np.abs(b["delta_a"] - b["delta"] * b["slope"]).max() <= TOL


def test_lstm_cell_state_path_is_the_textbook_formula():
    b = bptt(letter_model("lstm", seed=4), "abcdeab", "bcdeabc", "every")
    expected = b["delta"] * b["o"] * (1 - np.tanh(b["c"]) ** 2)
    expected[:-1] += b["delta_c"][1:] * b["f"][1:]
    assert np.abs(b["delta_c"] - expected).max() <= TOL
    assert np.abs(b["delta_f"] - b["delta_c"] * b["c_prev"] * b["f"] * (1 - b["f"])).max() <= TOL


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("loss", ["every", "last"])
def test_the_bound_holds_for_the_vanilla_rnn(seed, loss):
    model = letter_model("rnn", seed=seed, hidden=4)
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(1 + seed)  # from small weights to large ones, where the bound is loose
    text = "abcdeabcdeab"
    b = bptt(model, text, "bcdeabcdeabc" if loss == "every" else "c", loss)
    sigma = np.linalg.svd(model.rnn.weight_hh_l0.detach().numpy(), compute_uv=False)[0]
    slope = np.abs(1 - b["h"] ** 2).max()
    lag = np.arange(len(text))[::-1]
    bound = (sigma * slope) ** lag * np.linalg.norm(b.delta_last[-1])
    assert np.allclose(b.bound(), bound, rtol=1e-12)
    assert np.all(np.linalg.norm(b.delta_last, axis=1) <= bound * (1 + 1e-12))
    if loss == "last":
        assert np.abs(b.delta_last - b["delta"]).max() == 0
    with pytest.raises(ConfigError):
        bptt(letter_model("gru"), "ab", "bc").bound()


def test_one_gradient_descent_step_lowers_the_loss():
    model = letter_model("gru", seed=2)
    before = bptt(model, "bcde", "cdea")
    after = bptt(descend(model, before.weight_grads, 0.05), "bcde", "cdea")
    assert after.loss < before.loss
    state = {k: v.clone() for k, v in model.state_dict().items()}
    stepped = descend(model, before.weight_grads, 0.5)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())  # the original is untouched
    g = before.weight_grads["rnn.weight_hh_l0"]
    assert np.allclose(stepped.rnn.weight_hh_l0.detach().numpy(), state["rnn.weight_hh_l0"].numpy() - 0.5 * g)
    sgd = letter_model("gru", seed=2)  # PyTorch's own SGD step on the same gradients
    autograd_grads(sgd, ids("bcde"), ids("cdea"))
    torch.optim.SGD(sgd.parameters(), lr=0.5).step()
    for name, p in sgd.named_parameters():
        assert np.abs(dict(stepped.named_parameters())[name].detach().numpy() - p.detach().numpy()).max() <= TOL
    frozen = descend(model, before.weight_grads, 0.5, frozen=("rnn.bias_hh_l0",))
    assert torch.equal(frozen.rnn.bias_hh_l0, model.rnn.bias_hh_l0)
    assert not torch.equal(frozen.rnn.bias_ih_l0, model.rnn.bias_ih_l0)
    with pytest.raises(InputError, match="learning rate"):
        descend(model, before.weight_grads, float("nan"))


@pytest.mark.parametrize("config, message", [
    (dict(num_layers=2), "one layer in one direction"),
    (dict(bidirectional=True), "bidirectional"),
    (dict(head="regress", output_size=2), "classifier head"),
])
def test_other_shapes_are_refused_with_a_sentence(config, message):
    model = Model(ModelConfig(cell="lstm", hidden_size=3, **config), LETTERS)
    with pytest.raises(RnnvizError, match=message):
        bptt(model, "abc", "bcd")


@pytest.mark.parametrize("target, loss, message", [
    ("bc", "every", "3 target"), ([0, 1, 9], "every", "from 0 to 4"), ("ab", "last", "one target token"),
    (7, "last", "from 0 to 4"), ("bcz", "every", "Targets"), ("bcd", "sum", "Unknown loss"),
])
def test_bad_targets_are_refused_with_a_sentence(target, loss, message):
    with pytest.raises(InputError, match=message):
        bptt(letter_model("rnn"), "abc", target, loss)
