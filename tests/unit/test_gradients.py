"""gradient_flow against autograd (a step loop with retained grads) and finite differences, in float64."""

import numpy as np
import pytest
import torch

from rnnviz import CharVocab, InitConfig, InputError, Model, ModelConfig, from_torch, step_norms
from rnnviz.gradients import gradient_flow, gradient_flow_autograd

TOL = 1e-10


def text_model(cell, layers=1, bidirectional=False, **kw):
    vocab = CharVocab.from_text("the quick brown fox")
    cfg = ModelConfig(cell=cell, hidden_size=6, num_layers=layers, bidirectional=bidirectional, **kw)
    return Model(cfg, vocab, generator=torch.Generator().manual_seed(3)).double()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (2, True)])
@pytest.mark.parametrize("objective", ["sum", "next_token"])
def test_matches_autograd(cell, layers, bidirectional, objective):
    model = text_model(cell, layers, bidirectional)
    text = "the quick brown"
    gf = gradient_flow(model, text, objective=objective)
    dh, dc, saliency = gradient_flow_autograd(model, text, objective=objective)
    assert np.abs(gf.dh_units - dh).max() <= TOL
    assert np.abs(gf.dh - np.sqrt((dh**2).sum(-1))).max() <= TOL
    assert np.abs(gf.saliency - saliency).max() <= TOL
    if cell == "lstm":
        assert np.abs(gf.dc_units - dc).max() <= TOL
    else:
        assert gf.dc is None


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_matches_finite_differences(cell):
    """Perturb h_t (and c_t) and rerun the fused torch module on the rest of the sequence."""
    torch.manual_seed(1)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    module = cls(3, 5, batch_first=True).double()
    x = torch.randn(12, 3, dtype=torch.float64)
    gf = gradient_flow(from_torch(module), x)
    tr = gf.trace
    eps = 1e-6

    def loss_from(t, h, c):
        hx = (h[None, None], c[None, None]) if cell == "lstm" else h[None, None]
        out, _ = module(x[None, t + 1:], hx)
        return out[0, -1].sum().item()

    for t in (2, 7, 10):
        h = torch.from_numpy(tr["h"][0, 0, t].copy())
        c = torch.from_numpy(tr["c"][0, 0, t].copy()) if cell == "lstm" else None
        for j in range(5):
            e = torch.zeros(5, dtype=torch.float64)
            e[j] = eps
            fd = (loss_from(t, h + e, c) - loss_from(t, h - e, c)) / (2 * eps)
            assert abs(fd - gf.dh_units[0, 0, t, j]) < 1e-7
            if cell == "lstm":  # c_t feeds h_t = o_t ⊙ tanh(c_t) as well as c_{t+1}: perturb both
                o = torch.from_numpy(tr["o"][0, 0, t].copy())
                up, down = c + e, c - e
                fd_c = (loss_from(t, o * torch.tanh(up), up) - loss_from(t, o * torch.tanh(down), down)) / (2 * eps)
                assert abs(fd_c - gf.dc_units[0, 0, t, j]) < 1e-7


def test_saliency_matches_finite_differences():
    torch.manual_seed(2)
    module = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = torch.randn(8, 3, dtype=torch.float64)
    gf = gradient_flow(from_torch(module), x)
    eps = 1e-6
    for t in range(8):
        grad = []
        for j in range(3):
            xp, xm = x.clone(), x.clone()
            xp[t, j] += eps
            xm[t, j] -= eps
            grad.append((module(xp[None])[0][0, -1].sum() - module(xm[None])[0][0, -1].sum()).item() / (2 * eps))
        assert abs(np.linalg.norm(grad) - gf.saliency[t]) < 1e-7


def exact_jacobian_norms(model: Model, tr) -> list[float]:
    """‖dh_t/dh_{t−1}‖₂ of layer 0 at every step by autograd and an exact matrix 2-norm, from a float64 trace
    (the LSTM's c_{t−1} held fixed, as rnnviz.gradients defines it)."""
    from rnnviz import cells

    w, x, H, cell = model.layer_weights(0, 0), torch.from_numpy(tr.inputs), tr["h"].shape[-1], model.cell
    out = []
    for t in range(len(x)):
        hp = torch.from_numpy(tr["h"][0, 0, t - 1]) if t else torch.zeros(H, dtype=torch.float64)
        cp = torch.from_numpy(tr["c"][0, 0, t - 1]) if t and cell == "lstm" else torch.zeros(H, dtype=torch.float64)
        xt = x[t]
        step = {"lstm": lambda h, xt=xt, cp=cp: cells.lstm_cell(xt, h, cp, *w)[0],
                "gru": lambda h, xt=xt: cells.gru_cell(xt, h, *w)[0],
                "rnn": lambda h, xt=xt: cells.rnn_cell(xt, h, *w)}[cell]
        out.append(torch.linalg.matrix_norm(torch.autograd.functional.jacobian(step, hp), 2).item())
    return out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_jacobian_norms_match_autograd(cell):
    model = text_model(cell)
    gf = gradient_flow(model, "the quick brown")
    np.testing.assert_allclose(gf.jacobian[0, 0], exact_jacobian_norms(model, gf.trace), rtol=0, atol=1e-9)


@pytest.mark.parametrize("cell,scheme", [("rnn", "orthogonal"), ("lstm", "identity"), ("gru", "default")])
def test_jacobian_norms_with_clustered_singular_values(cell, scheme):
    """Orthogonal or identity W_hh cluster the singular values, where a Lanczos run loses orthogonality."""
    vocab = CharVocab.from_text("ab_")
    model = Model(ModelConfig(cell=cell, hidden_size=64), vocab, InitConfig(scheme)).double()
    gf = gradient_flow(model, "a" + "_" * 39)
    np.testing.assert_allclose(gf.jacobian[0, 0], exact_jacobian_norms(model, gf.trace), rtol=1e-3)


def test_jacobian_lanczos_converges_for_wide_layers():
    """With H above the Lanczos iteration count the norms are approximations; check them against SVD."""
    torch.manual_seed(0)
    module = torch.nn.RNN(4, 96, batch_first=True).double()
    x = torch.randn(30, 4, dtype=torch.float64)
    gf = gradient_flow(from_torch(module), x)
    h = torch.from_numpy(gf.trace["h"][0, 0])
    with torch.no_grad():
        exact = torch.linalg.matrix_norm((1 - h**2)[:, :, None] * module.weight_hh_l0[None], 2).numpy()
    assert np.abs(gf.jacobian[0, 0] - exact).max() / exact.max() < 1e-6


def test_vanilla_rnn_stays_under_pascanu_bound():
    vocab = CharVocab.from_text("abcdefgh")
    for gain in (0.5, 1.0, 1.5):
        model = Model(ModelConfig(cell="rnn", hidden_size=16), vocab, InitConfig("orthogonal", gain=gain),
                      torch.Generator().manual_seed(0)).double()
        gf = gradient_flow(model, "abcdefgh" * 10)
        assert np.all(gf.normalized() <= gf.bound() * (1 + 1e-9))
        # orthogonal (to float32 precision, where it was drawn): every singular value and |eigenvalue| = gain
        assert gf.sigma_max[0, 0] == pytest.approx(gain, rel=1e-6)
        assert gf.spectral_radius[0, 0] == pytest.approx(gain, rel=1e-6)


def test_forget_bias_keeps_lstm_gradient_alive():
    vocab = CharVocab.from_text("ab")
    text = "ab" * 60

    def lag100(bias):
        model = Model(ModelConfig(cell="lstm", hidden_size=16), vocab, InitConfig(forget_bias=bias),
                      torch.Generator().manual_seed(0))
        return gradient_flow(model, text).normalized(which="c")[-101]

    assert lag100(5.0) > 1e6 * lag100(0.0)


def test_forward_overflow_is_reported_not_raised():
    vocab = CharVocab.from_text("ab")
    model = Model(ModelConfig(cell="rnn", hidden_size=32, nonlinearity="relu"), vocab,
                  InitConfig("identity", gain=2.0), torch.Generator().manual_seed(0))
    gf = gradient_flow(model, "ab" * 200)  # h doubles every step: float32 overflows near step 128
    assert not gf.finite
    step = gf.forward_overflow_step()
    assert step is not None and 100 < step < 160
    lag = gf.overflow_lag()
    assert lag is not None and 0 < lag < 400
    assert np.isfinite(gf.dh[0, 0, -1])


def test_gradient_overflow_without_forward_overflow():
    """tanh keeps h bounded; a large gain with unsaturated units still multiplies the gradient each step."""
    vocab = CharVocab.from_text("a")
    model = Model(ModelConfig(cell="rnn", hidden_size=8), vocab, InitConfig("identity", gain=1.9),
                  torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.rnn.weight_ih_l0.zero_()  # h stays exactly 0: tanh' = 1 everywhere, so dh grows 1.9× per step
    gf = gradient_flow(model, "a" * 300)
    assert gf.forward_overflow_step() is None
    assert not gf.finite
    value, lag = np.float32(1), 0
    with np.errstate(over="ignore"):
        while np.isfinite(value):  # each unit's gradient is 1.9^lag in float32
            value, lag = value * np.float32(1.9), lag + 1
    assert gf.overflow_lag() == lag


def test_horizon_and_normalization():
    model = text_model("rnn")
    gf = gradient_flow(model, "the quick brown fox")
    norm = gf.normalized()
    assert norm[-1] == pytest.approx(1.0)
    k = gf.horizon(1e-3)
    assert norm[::-1][k] >= 1e-3
    assert np.all(gf.lag == np.arange(len(norm))[::-1])


def test_bad_objective_and_headless_next_token():
    model = text_model("gru")
    with pytest.raises(InputError):
        gradient_flow(model, "the", objective="banana")
    headless = from_torch(torch.nn.GRU(2, 3))
    with pytest.raises(InputError, match="classifier head"):
        gradient_flow(headless, torch.zeros(4, 2), objective="next_token")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_jacobian_norms_match_svd(cell):
    """The app's models are float32: the Jacobian norms then run in float32 with an early stop; check them
    against an exact SVD of each step's Jacobian (float64 autograd on the same weights) at a width where
    Lanczos does not reach H."""
    vocab = CharVocab.from_text("abcdefgh")
    model = Model(ModelConfig(cell=cell, hidden_size=64), vocab, InitConfig(), torch.Generator().manual_seed(5))
    text = "abcdefgh" * 8
    gf = gradient_flow(model, text)
    assert gf.jacobian.dtype == np.float64 and gf.jacobian.shape == (1, 1, len(text))
    exact_model = model.double()
    exact = exact_jacobian_norms(exact_model, gradient_flow(exact_model, text).trace)
    np.testing.assert_allclose(gf.jacobian[0, 0], exact, rtol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_compact_copy_answers_the_same(cell):
    """The cached copy drops the gates and the Jacobian parts but must answer every question the same."""
    import pickle

    vocab = CharVocab.from_text("abcdefgh_")
    model = Model(ModelConfig(cell=cell, hidden_size=32, num_layers=2), vocab, InitConfig(forget_bias=1.0),
                  torch.Generator().manual_seed(2))
    gf = gradient_flow(model, "a" + "_" * 120 + "bcd")
    small = gf.compact()
    for name in ("dh", "dc", "saliency", "jacobian", "sigma_max", "spectral_radius", "forget_path", "lag"):
        a, b = getattr(gf, name), getattr(small, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)
    for layer in range(2):
        np.testing.assert_array_equal(gf.normalized(layer), small.normalized(layer))
        np.testing.assert_array_equal(gf.bound(layer), small.bound(layer))
        assert gf.horizon(1e-4, layer) == small.horizon(1e-4, layer)
    assert gf.forward_overflow_step() == small.forward_overflow_step()
    assert gf.trace.labels == small.trace.labels and gf.trace.unknown == small.trace.unknown
    assert len(pickle.dumps(small)) < 0.6 * len(pickle.dumps(gf))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_norms_added_later_answer_the_same(cell):
    """A page caches the flow without the per-step Jacobian norms and adds them after drawing the rest."""
    vocab = CharVocab.from_text("abcdefgh_")
    model = Model(ModelConfig(cell=cell, hidden_size=16, num_layers=2, bidirectional=True), vocab,
                  InitConfig(forget_bias=1.0), torch.Generator().manual_seed(4))
    text = "a" + "_" * 60 + "bcd"
    gf = gradient_flow(model, text)
    lean = gf.compact(step_norms=False)
    assert "jacobian" not in lean.__dict__
    with pytest.raises(ValueError, match="with_step_norms"):
        _ = lean.jacobian
    norms = step_norms(model, text)
    np.testing.assert_array_equal(norms, gf.jacobian)
    full = lean.with_step_norms(norms)
    np.testing.assert_array_equal(full.jacobian, gf.jacobian)
    np.testing.assert_array_equal(full.sigma_max, gf.sigma_max)
    np.testing.assert_array_equal(full.dh, gf.dh)
    with pytest.raises(ValueError, match="do not fit"):
        lean.with_step_norms(norms[:, :, 1:])
    top = step_norms(model, text, layer=1)  # the page computes the layer it shows, and only that one
    np.testing.assert_array_equal(top[1], gf.jacobian[1])
    assert np.isnan(top[0]).all()
    with pytest.raises(ValueError, match="does not exist"):
        step_norms(model, text, layer=2)


def test_repeated_steps_are_solved_once_and_answer_the_same():
    """On the recall task's blank filler the state settles, so most steps share one Jacobian: each distinct one is
    solved once, and every step still gets the norm an exact SVD gives."""
    vocab = CharVocab.from_text("abcdefgh_")
    model = Model(ModelConfig(cell="lstm", hidden_size=64), vocab, InitConfig(), torch.Generator().manual_seed(1))
    text = "c" + "_" * 300
    gf = gradient_flow(model, text)
    q, d0, w = gf._jac_parts[0]
    assert len(np.unique(q, axis=0)) < len(text) // 2  # the premise: the state settled
    exact_model = model.double()
    exact = exact_jacobian_norms(exact_model, gradient_flow(exact_model, text).trace)
    np.testing.assert_allclose(gf.jacobian[0, 0], exact, rtol=1e-5)


def test_top_eigenvalue_of_tridiagonals_matches_eigvalsh():
    """The Lanczos convergence checks use Laguerre's method on each tridiagonal; check it against LAPACK on random,
    clustered, split (zero off-diagonal) and all-zero matrices of every size the checks see."""
    from rnnviz.spectral import _top_eigenvalue

    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 12, 40):
        a, b = rng.normal(size=(600, n)), np.abs(rng.normal(size=(600, n - 1)))
        a[:100], b[:100] = 1.0 + 1e-9 * rng.normal(size=(100, n)), b[:100] * 1e-8  # clustered
        b[100:200] = 0  # splits into 1x1 blocks: the largest diagonal entry
        a[200:250], b[200:250] = 0, 0
        a[250:300] *= 1e6  # scale
        dense = np.zeros((600, n, n))
        idx = np.arange(n)
        dense[:, idx, idx] = a
        dense[:, idx[:-1], idx[1:]] = dense[:, idx[1:], idx[:-1]] = b
        exact = np.linalg.eigvalsh(dense)[:, -1]
        got = _top_eigenvalue(a, b)
        scale = np.abs(dense).max((1, 2))
        assert np.all(np.abs(got - exact) <= 1e-13 * scale + 1e-290), n
