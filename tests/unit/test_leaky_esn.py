"""Leaky units and echo state networks: equations written out in numpy, nn.RNN at α = 1, autograd, checkpoints."""

import numpy as np
import pytest
import torch
from torch import nn

from rnnviz import ConfigError, Model, ModelConfig, gradient_flow, load_checkpoint, save_checkpoint, trace
from rnnviz.gradients import gradient_flow_autograd
from rnnviz.tasks import make_task
from rnnviz.train import Trainer


def leaky_model(H=5, layers=1, bidirectional=False, leak=0.4, cell="leaky", **kw):
    config = ModelConfig(cell=cell, hidden_size=H, num_layers=layers, bidirectional=bidirectional, encoder="float",
                         input_size=3, head="none", leak=leak, **kw)
    return Model(config, generator=torch.Generator().manual_seed(1)).double()


def numpy_leaky(x, w_ih, w_hh, b_ih, b_hh, alpha, reverse=False):
    """h_t = (1 − α) h_{t−1} + α tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), written out step by step."""
    T, H = len(x), len(w_hh)
    h, hs, ns = np.zeros(H), np.zeros((T, H)), np.zeros((T, H))
    for t in range(T - 1, -1, -1) if reverse else range(T):
        n = np.tanh(w_ih @ x[t] + b_ih + w_hh @ h + b_hh)
        h = (1 - alpha) * h + alpha * n
        hs[t], ns[t] = h, n
    return hs, ns


def weights(model, layer, d):
    return [p.detach().numpy() for p in model.layer_weights(layer, d)] + [model.leak(layer, d).numpy()]


def test_leaky_at_alpha_one_is_the_vanilla_rnn():
    model = leaky_model(H=6, layers=2, bidirectional=True, leak=1.0)
    rnn = nn.RNN(3, 6, 2, batch_first=True, bidirectional=True).double()
    rnn.load_state_dict({k: v for k, v in model.rnn.state_dict().items() if not k.startswith("leak")})
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    out, hn = model(x)
    ref, ref_hn = rnn(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-13)
    torch.testing.assert_close(hn, ref_hn, rtol=0, atol=1e-13)
    tr = trace(model, x[0])
    assert np.array_equal(tr["h"], tr["n"])  # (1 − 1)·h + 1·n is n, bit for bit
    vanilla = Model(ModelConfig(cell="rnn", hidden_size=6, num_layers=2, bidirectional=True, encoder="float",
                                input_size=3, head="none"), rnn=rnn)
    np.testing.assert_allclose(gradient_flow(model, x[0]).dh_units, gradient_flow(vanilla, x[0]).dh_units,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_leaky_trace_follows_its_equations(bidirectional):
    model = leaky_model(layers=2, bidirectional=bidirectional)
    with torch.no_grad():  # a different α for every unit
        for name, p in model.rnn.named_parameters():
            if name.startswith("leak"):
                p.copy_(torch.rand(5, dtype=torch.float64) * 0.9 + 0.1)
    x = torch.randn(11, 3, dtype=torch.float64)
    tr = trace(model, x)
    layer_in = x.numpy()
    for layer in range(2):
        outs = []
        for d in range(tr.shape[1]):
            hs, ns = numpy_leaky(layer_in, *weights(model, layer, d), reverse=d == 1)
            np.testing.assert_allclose(tr["h"][layer, d], hs, rtol=0, atol=1e-12)
            np.testing.assert_allclose(tr["n"][layer, d], ns, rtol=0, atol=1e-12)
            outs.append(hs)
        layer_in = np.concatenate(outs, 1)


def test_esn_reservoir_and_trace():
    model = leaky_model(H=40, cell="esn", leak=0.3, spectral_radius=0.8, input_scaling=0.5, density=0.2, seed=3)
    w_ih, w_hh, b_ih, b_hh, alpha = weights(model, 0, 0)
    assert np.abs(np.linalg.eigvals(w_hh)).max() == pytest.approx(0.8, rel=1e-6)
    assert 0.1 < np.mean(w_hh != 0) < 0.3
    assert np.abs(w_ih).max() <= 0.5 and np.abs(b_ih).max() <= 0.5 and not b_hh.any()
    np.testing.assert_allclose(alpha, 0.3, rtol=1e-7)
    assert not any(p.requires_grad for p in model.rnn.parameters())
    x = torch.randn(30, 3, dtype=torch.float64)
    hs, ns = numpy_leaky(x.numpy(), w_ih, w_hh, b_ih, b_hh, alpha)
    tr = trace(model, x)
    np.testing.assert_allclose(tr["h"][0, 0], hs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr["n"][0, 0], ns, rtol=0, atol=1e-12)
    other = leaky_model(H=40, cell="esn", leak=0.3, spectral_radius=0.8, input_scaling=0.5, density=0.2, seed=4)
    assert not np.allclose(w_hh, weights(other, 0, 0)[1])  # the seed draws the reservoir


@pytest.mark.parametrize("cell, layers, bidirectional", [("leaky", 2, True), ("leaky", 1, False), ("esn", 1, False)])
def test_gradient_flow_matches_autograd(cell, layers, bidirectional):
    model = leaky_model(H=6, layers=layers, bidirectional=bidirectional, cell=cell, leak=0.35)
    if cell == "leaky":
        with torch.no_grad():
            model.rnn.leak_l0.copy_(torch.linspace(0.05, 1.0, 6, dtype=torch.float64))
    x = torch.randn(15, 3, dtype=torch.float64)
    flow = gradient_flow(model, x)
    dh, dc, saliency = gradient_flow_autograd(model, x)
    assert dc is None and flow.dc_units is None
    np.testing.assert_allclose(flow.dh_units, dh, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(flow.saliency, saliency, rtol=1e-10, atol=1e-13)


def test_step_jacobian_norms_and_bound():
    model = leaky_model(H=6, leak=0.5)
    x = torch.randn(12, 3, dtype=torch.float64)
    flow = gradient_flow(model, x)
    w_ih, w_hh, b_ih, b_hh, alpha = (torch.from_numpy(a) for a in weights(model, 0, 0))
    h = torch.from_numpy(flow.trace["h"][0, 0])
    for t in range(1, 12):
        def step(prev, t=t):
            return (1 - alpha) * prev + alpha * torch.tanh(w_ih @ x[t] + b_ih + w_hh @ prev + b_hh)
        jac = torch.autograd.functional.jacobian(step, h[t - 1])
        assert flow.jacobian[0, 0, t] == pytest.approx(torch.linalg.matrix_norm(jac, 2).item(), rel=1e-8)
    sigma = np.linalg.svd(w_hh.numpy(), compute_uv=False)[0]
    np.testing.assert_allclose(flow.bound(), (0.5 + 0.5 * sigma) ** flow.lag, rtol=1e-12)
    assert np.all(flow.normalized() <= flow.bound() * (1 + 1e-9))
    assert flow.spectral_radius[0, 0] == pytest.approx(np.abs(np.linalg.eigvals(w_hh.numpy())).max())


@pytest.mark.parametrize("cell", ["leaky", "esn"])
def test_checkpoint_round_trip(cell):
    extra = {"learn_leak": True} if cell == "leaky" else {"spectral_radius": 0.7, "seed": 5}
    config = ModelConfig(cell=cell, hidden_size=8, encoder="float", input_size=2, head="regress", output_size=1,
                         leak=0.25, **extra)
    model = Model(config)
    with torch.no_grad():
        model.rnn.leak_l0.mul_(torch.linspace(0.5, 1.0, 8))
    loaded, card = load_checkpoint(save_checkpoint(model))
    assert loaded.config == model.config and card["cell"] == cell
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    assert [p.requires_grad for p in loaded.parameters()] == [p.requires_grad for p in model.parameters()]


def test_learned_leak_trains_and_stays_a_rate():
    task = make_task("adding", length=10)
    model = task.build_model("leaky", hidden_size=8, learn_leak=True, leak=0.9)
    before = model.rnn.leak_l0.detach().clone()
    Trainer(model, task, lr=0.2, eval_every=None, flow_steps=()).step(5)
    model.eval()
    model(task.batch(2)[0])  # each forward pass projects α back into (0, 1]
    after = model.rnn.leak_l0.detach()
    assert not torch.equal(before, after)
    assert bool(((after > 0) & (after <= 1)).all())
    fixed = task.build_model("leaky", hidden_size=8, leak=0.9)
    assert not fixed.rnn.leak_l0.requires_grad


@pytest.mark.parametrize("bad, words", [
    ({"cell": "leaky", "leak": 0.0}, "leak rate"), ({"cell": "leaky", "leak": 1.5}, "leak rate"),
    ({"cell": "esn", "spectral_radius": -1}, "spectral radius"), ({"cell": "esn", "density": 0}, "density"),
    ({"cell": "esn", "learn_leak": True}, "fixed"), ({"cell": "leaky", "nonlinearity": "relu"}, "tanh"),
    ({"cell": "esn", "seed": -1}, "seed"), ({"cell": "esn", "input_scaling": float("nan")}, "input scaling"),
])
def test_bad_settings_say_which(bad, words):
    with pytest.raises(ConfigError, match=words):
        ModelConfig(**bad)
