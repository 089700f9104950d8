"""Parity with torch.nn.RNN / LSTM / GRU in float64: outputs, final states, and every gate and cell state.

The expected gates are recomputed here from the module's weights with the equations written out again,
not with rnnviz.cells, so a wrong formula in the package cannot agree with itself.
"""

import pytest
import torch

from rnnviz import from_torch, trace

TOL = 1e-10
sig = torch.sigmoid


def expected_layer(cell, x, w_ih, w_hh, b_ih, b_hh, reverse, nonlinearity="tanh"):
    """Step loop in plain torch: returns dict of [T, H] tensors in original time order."""
    T, H = x.shape[0], w_hh.shape[1]
    h, c = x.new_zeros(H), x.new_zeros(H)
    out = {}
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        a = w_ih @ x[t] + b_ih + w_hh @ h + b_hh
        if cell == "lstm":
            i, f, g, o = sig(a[:H]), sig(a[H:2 * H]), torch.tanh(a[2 * H:3 * H]), sig(a[3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(c)
            step = dict(i=i, f=f, g=g, o=o, c=c, h=h)
        elif cell == "gru":
            gi, gh = w_ih @ x[t] + b_ih, w_hh @ h + b_hh
            r = sig(gi[:H] + gh[:H])
            z = sig(gi[H:2 * H] + gh[H:2 * H])
            n = torch.tanh(gi[2 * H:] + r * gh[2 * H:])
            h = (1 - z) * n + z * h
            step = dict(r=r, z=z, n=n, h=h)
        else:
            h = torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)
            step = dict(h=h)
        for k, v in step.items():
            out.setdefault(k, [None] * T)[t] = v
    return {k: torch.stack(v) for k, v in out.items()}


def make(cell, layers, bidirectional, batch_first=True, nonlinearity="tanh", bias=True):
    torch.manual_seed(0)
    kw = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    return cls(5, 7, layers, batch_first=batch_first, bidirectional=bidirectional, bias=bias, **kw).double()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (1, True), (3, True)])
def test_trace_matches_torch_module(cell, layers, bidirectional):
    module = make(cell, layers, bidirectional)
    x = torch.randn(11, 5, dtype=torch.float64)
    tr = trace(from_torch(module), x)
    out, hn = module(x[None])
    D = 2 if bidirectional else 1
    top = torch.cat([torch.from_numpy(tr["h"][-1, d]) for d in range(D)], -1)
    assert (top - out[0]).abs().max() <= TOL
    hn, cn = hn if cell == "lstm" else (hn, None)
    layer_in = x
    for layer in range(layers):
        outs = []
        for d in range(D):
            s = f"_l{layer}" + ("_reverse" if d else "")
            w = [getattr(module, k + s) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            exp = expected_layer(cell, layer_in, *w, reverse=bool(d))
            for k, v in exp.items():
                assert abs(torch.from_numpy(tr[k][layer, d]) - v).max() <= TOL, (k, layer, d)
            final = 0 if d else -1  # the backward direction ends at t = 0
            assert (torch.from_numpy(tr["h"][layer, d, final]) - hn[layer * D + d, 0]).abs().max() <= TOL
            if cn is not None:
                assert (torch.from_numpy(tr["c"][layer, d, final]) - cn[layer * D + d, 0]).abs().max() <= TOL
            outs.append(exp["h"])
        layer_in = torch.cat(outs, -1)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_vanilla_rnn_nonlinearities(nonlinearity):
    module = make("rnn", 2, True, batch_first=False, nonlinearity=nonlinearity)
    x = torch.randn(9, 5, dtype=torch.float64)
    tr = trace(from_torch(module), x)
    out, _ = module(x[:, None])  # [T, 1, 2H] because batch_first=False
    top = torch.cat([torch.from_numpy(tr["h"][-1, d]) for d in range(2)], -1)
    assert (top - out[:, 0]).abs().max() <= TOL
    if nonlinearity == "relu":
        assert tr["h"].min() >= 0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_module_without_bias(cell):
    module = make(cell, 2, False, bias=False)
    x = torch.randn(6, 5, dtype=torch.float64)
    tr = trace(from_torch(module), x)
    out, _ = module(x[None])
    assert (torch.from_numpy(tr["h"][-1, 0]) - out[0]).abs().max() <= TOL


def test_from_torch_shares_weights():
    module = make("lstm", 1, False)
    model = from_torch(module)
    with torch.no_grad():
        module.weight_hh_l0.mul_(0.5)
    assert model.rnn.weight_hh_l0.data_ptr() == module.weight_hh_l0.data_ptr()
    x = torch.randn(4, 5, dtype=torch.float64)
    assert (torch.from_numpy(trace(model, x)["h"][0, 0]) - module(x[None])[0][0]).abs().max() <= TOL


def test_gru_reset_gate_placement_matters():
    """PyTorch applies r after W_hn; the paper's placement r ⊙ h before W_hn gives other numbers."""
    module = make("gru", 1, False)
    x = torch.randn(20, 5, dtype=torch.float64)
    tr = trace(from_torch(module), x)
    w_ih, w_hh, b_ih, b_hh = module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0
    H = 7
    h = torch.zeros(H, dtype=torch.float64)
    paper = []
    for t in range(20):
        gi, gh = w_ih @ x[t] + b_ih, w_hh @ h + b_hh
        r, z = sig(gi[:H] + gh[:H]), sig(gi[H:2 * H] + gh[H:2 * H])
        n = torch.tanh(gi[2 * H:] + w_hh[2 * H:] @ (r * h) + b_hh[2 * H:])
        h = (1 - z) * n + z * h
        paper.append(h)
    gap = (torch.stack(paper) - torch.from_numpy(tr["h"][0, 0])).abs().max()
    assert gap > 1e-3  # the two placements are different models
