"""ESN states and ridge readout against reservoirpy; memory capacity against its bound and a linear reservoir."""

import numpy as np
import pytest
import torch
from reservoirpy.nodes import Reservoir, Ridge

from rnnviz import ConfigError, Model, ModelConfig, trace
from rnnviz.reservoir import RIDGES, fit_readout, memory_capacity, ridge_fit
from rnnviz.tasks import make_task


def esn(H=20, **kw):
    config = ModelConfig(cell="esn", hidden_size=H, encoder="float", input_size=kw.pop("input_size", 2),
                         head=kw.pop("head", "none"), **kw)
    return Model(config).double()


def reference_reservoir(model):
    """reservoirpy's Reservoir on our W_hh, W_ih, bias and leak."""
    w_ih, w_hh, b_ih, b_hh = (p.detach().numpy() for p in model.layer_weights(0, 0))
    return Reservoir(len(w_hh), lr=model.leak(0, 0).numpy(), W=w_hh, Win=w_ih, bias=b_ih + b_hh, activation="tanh")


@pytest.mark.parametrize("leak, rho, scaling", [(1.0, 0.9, 1.0), (0.3, 0.5, 0.2), (0.05, 1.2, 3.0)])
def test_states_match_reservoirpy(leak, rho, scaling):
    model = esn(leak=leak, spectral_radius=rho, input_scaling=scaling, density=0.3, seed=2)
    x = np.random.default_rng(0).normal(size=(50, 2))
    ours = trace(model, torch.from_numpy(x))["h"][0, 0]
    np.testing.assert_allclose(ours, reference_reservoir(model).run(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 10.0])
def test_ridge_matches_reservoirpy(ridge):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 12)), rng.normal(size=(200, 3))
    w, b = ridge_fit(x, y, ridge)
    ref = Ridge(ridge=ridge).fit(x, y)
    np.testing.assert_allclose(w, ref.Wout.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b, ref.bias, rtol=1e-9, atol=1e-12)


def test_fitted_readout_is_reservoirpys_on_the_same_states():
    task = make_task("adding", length=12)
    model = task.build_model("esn", hidden_size=16, leak=0.7).double()
    result = fit_readout(model, task, samples=40, ridge=1e-2, seed=3)
    x, y = task.sample(40, torch.Generator().manual_seed(3))  # the same draw fit_readout made
    reservoir = reference_reservoir(model)
    last = []
    for seq in x.double().numpy():  # each sequence from the zero state
        last.append(reservoir.run(seq)[-1])
        reservoir.reset()
    ref = Ridge(ridge=1e-2).fit(np.array(last), y.double().numpy())
    np.testing.assert_allclose(model.head.weight.detach().numpy(), ref.Wout.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.head.bias.detach().numpy(), ref.bias, rtol=1e-8, atol=1e-10)
    assert result["ridge"] == 1e-2 and result["samples"] == 40
    xv, yv = task.validation()
    assert result["loss"] == pytest.approx(torch.mean((model(xv.double())[0][:, -1] - yv) ** 2).item(), rel=1e-6)


def test_ridge_chosen_on_held_out_data_and_recall_learned():
    task = make_task("recall", lag=5, num_symbols=4)
    model = task.build_model("esn", hidden_size=60)
    result = fit_readout(model, task, samples=400)
    assert result["ridge"] in RIDGES and result["samples"] == 500  # 400 to fit + 100 to choose λ, then both
    assert result["accuracy"] > 0.9  # a lag of 5 is well inside a ρ = 0.9 reservoir's memory; chance is 0.25
    with pytest.raises(ConfigError, match="Only an echo state network"):
        fit_readout(task.build_model("lstm"), task)


@pytest.mark.parametrize("config", [
    {"cell": "esn", "hidden_size": 12, "spectral_radius": 0.9}, {"cell": "esn", "hidden_size": 30, "leak": 0.2},
    {"cell": "esn", "hidden_size": 20, "spectral_radius": 1.1, "input_scaling": 0.1, "density": 1.0, "seed": 4},
    {"cell": "leaky", "hidden_size": 16, "leak": 0.5}, {"cell": "lstm", "hidden_size": 10},
    {"cell": "gru", "hidden_size": 10, "bidirectional": True},
])
def test_memory_capacity_is_at_most_n(config):
    model = Model(ModelConfig(encoder="float", input_size=1, head="none", **config)).double()
    mc = memory_capacity(model, max_delay=40, seed=1)
    assert mc.per_delay.shape == (40,) and np.all((mc.per_delay >= 0) & (mc.per_delay <= 1))
    assert mc.bound == model.config.directions * model.config.hidden_size
    assert 0 < mc.total <= mc.bound + 0.1
    assert mc.total == pytest.approx(mc.per_delay.sum())


def test_a_near_linear_reservoir_reaches_n():
    model = esn(H=10, input_size=1, input_scaling=1e-3, spectral_radius=0.9, leak=1.0, density=1.0)
    mc = memory_capacity(model, max_delay=40)
    assert mc.total > 0.85 * 10
    assert mc.per_delay[0] > 0.99  # the last input is read back almost exactly
    saturated = esn(H=10, input_size=1, input_scaling=5.0, spectral_radius=0.9, leak=1.0, density=1.0)
    assert memory_capacity(saturated, max_delay=40).total < mc.total - 2  # tanh saturation costs memory


def test_memory_capacity_of_a_token_model():
    task = make_task("recall", lag=5, num_symbols=4)
    model = task.build_model("esn", hidden_size=20)
    mc = memory_capacity(model, max_delay=10)
    assert 0 < mc.total <= 20.1 and mc.per_delay[0] > 0.5
