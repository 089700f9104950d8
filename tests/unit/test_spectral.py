"""The per-step Jacobian norms, every solver (the app's, and the lockstep one it replaced, with and without its
per-step stop), against torch.linalg.svd of each step's Jacobian by autograd in float64, on random input where
every step's Jacobian differs."""

import numpy as np
import pytest
import torch

from rnnviz import InitConfig, Model, ModelConfig, cells
from rnnviz.gradients import gradient_flow
from rnnviz.spectral import _top_eigenvalue, lockstep_norms, spectral_norms

RTOL_FLOAT32 = 1e-5  # the solvers' own precision in float32 (they stop when the value stalls to ~1e-6)
SOLVERS = {"app": spectral_norms, "lockstep": lockstep_norms,
           "lockstep, per-step stop": lambda q, d0, w: lockstep_norms(q, d0, w, deflate=True)}
RTOL_CLUSTERED = 1e-3  # orthogonal W_hh at gain 1: the top singular values cluster (see spectral_norms)


def autograd_svd_norms(model: Model, tr) -> np.ndarray:
    """‖dh_t/dh_{t−1}‖₂ of layer 0 at every step: the full Jacobian by autograd (float64), then the largest singular
    value from torch.linalg.svd (the LSTM's c_{t−1} held fixed, as rnnviz.gradients defines it)."""
    w = [None if p is None else p.detach().double() for p in model.layer_weights(0, 0)]
    leak = model.leak(0, 0).detach().double()
    x = torch.from_numpy(tr.inputs).double()
    H = tr["h"].shape[-1]
    zero = torch.zeros(H, dtype=torch.float64)
    out = []
    for t in range(len(x)):
        hp = torch.from_numpy(tr["h"][0, 0, t - 1]).double() if t else zero
        cp = torch.from_numpy(tr["c"][0, 0, t - 1]).double() if t and model.cell == "lstm" else zero
        xt = x[t]
        step = {"lstm": lambda h, xt=xt, cp=cp: cells.lstm_cell(xt, h, cp, *w)[0],
                "gru": lambda h, xt=xt: cells.gru_cell(xt, h, *w)[0],
                "rnn": lambda h, xt=xt: cells.rnn_cell(xt, h, *w),
                "leaky": lambda h, xt=xt: cells.leaky_cell(xt, h, *w, leak=leak)[0]}
        step["esn"] = step["leaky"]
        jac = torch.autograd.functional.jacobian(step[model.cell], hp)
        out.append(torch.linalg.svd(jac)[1][0].item())
    return np.array(out)


def random_input_model(cell: str, hidden: int = 48, scheme: str = "default") -> tuple[Model, torch.Tensor]:
    model = Model(ModelConfig(cell=cell, hidden_size=hidden, encoder="float", input_size=5, head="none"),
                  init=InitConfig(scheme), generator=torch.Generator().manual_seed(7))
    x = torch.randn(80, 5, generator=torch.Generator().manual_seed(8)) * 2
    return model, x


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "leaky", "esn"])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_every_solver_matches_svd_on_random_input(cell, solver):
    """48 units, more than the 40 products Lanczos may take: the values are exact only if it converged, so this
    tests the early stop (each step on its own, or all together), in float32 as the app runs it."""
    model, x = random_input_model(cell)
    gf = gradient_flow(model, x)
    q, d0, w = gf._jac_parts[0]
    got = SOLVERS[solver](q, d0, w)
    exact = autograd_svd_norms(model, gf.trace)
    assert len(np.unique(q, axis=0)) == len(x)  # the premise: every step's Jacobian differs
    np.testing.assert_allclose(got, exact, rtol=RTOL_FLOAT32)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float64_models_get_float64_norms(cell):
    """A float64 model's norms are solved in float64, to far below float32's precision."""
    model, x = random_input_model(cell)
    model = model.double()
    gf = gradient_flow(model, x.double())
    q, d0, w = gf._jac_parts[0]
    assert w.dtype == np.float64
    np.testing.assert_allclose(spectral_norms(q, d0, w), autograd_svd_norms(model, gf.trace), rtol=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "gru", "leaky"])
def test_deflating_solver_with_clustered_singular_values(cell):
    model, x = random_input_model(cell, hidden=64, scheme="orthogonal")
    gf = gradient_flow(model, x)
    exact = autograd_svd_norms(model, gf.trace)
    np.testing.assert_allclose(gf.jacobian[0, 0], exact, rtol=RTOL_CLUSTERED)


def count_product_rows(fn) -> tuple[np.ndarray, list[int]]:
    """fn()'s result and the rows of every torch matrix product it made (each row is one step's vector)."""
    rows = []
    original = torch.Tensor.__matmul__

    def counting(a, b):
        rows.append(a.shape[0])
        return original(a, b)

    torch.Tensor.__matmul__ = counting
    try:
        return fn(), rows
    finally:
        torch.Tensor.__matmul__ = original


def test_app_solver_makes_fewer_products_than_lockstep():
    """The point of stopping each step on its own: fewer row products than lockstep, for the same values. Counted,
    not timed."""
    model, x = random_input_model("lstm", hidden=64)
    q, d0, w = gradient_flow(model, x)._jac_parts[0]
    app, app_rows = count_product_rows(lambda: spectral_norms(q, d0, w))
    lock, lock_rows = count_product_rows(lambda: lockstep_norms(q, d0, w))
    np.testing.assert_allclose(app, lock, rtol=RTOL_FLOAT32)
    assert sum(app_rows) < sum(lock_rows)


def test_plain_rnn_takes_one_product_per_iteration():
    """A plain RNN's J_t = D_t W: Lanczos on J_tJ_tᵀ = D_t (W Wᵀ) D_t needs one product per iteration where
    J_tᵀJ_t needs two. The same values, whichever form: a zero diagonal term makes the solver take the other one."""
    model, x = random_input_model("rnn")
    gf = gradient_flow(model, x)
    q, d0, w = gf._jac_parts[0]
    assert d0 is None
    left, left_rows = count_product_rows(lambda: spectral_norms(q, None, w))
    right, right_rows = count_product_rows(lambda: spectral_norms(q, np.zeros_like(q), w))
    exact = autograd_svd_norms(model, gf.trace)
    np.testing.assert_allclose(left, exact, rtol=RTOL_FLOAT32)
    np.testing.assert_allclose(right, exact, rtol=RTOL_FLOAT32)
    assert len(left_rows) < len(right_rows)
    assert all(n == len(x) for n in left_rows[:8]) and all(n == len(x) for n in right_rows[:16])  # 8 iterations each


def test_settled_steps_are_solved_once():
    """Steps with identical coefficients (a settled state) are solved once: the products carry distinct rows only."""
    model, x = random_input_model("lstm")
    q, d0, w = gradient_flow(model, x)._jac_parts[0]
    repeated = np.concatenate([q, np.repeat(q[-1:], 50, 0)])
    got, rows = count_product_rows(lambda: spectral_norms(repeated, d0, w))
    np.testing.assert_allclose(got[len(q):], got[len(q) - 1], rtol=0)
    np.testing.assert_allclose(got[: len(q)], spectral_norms(q, d0, w), rtol=0)
    assert max(rows) == len(q)


def test_top_eigenvalue_drops_converged_matrices_without_changing_any():
    """Laguerre's iterations skip the matrices that have converged: each value is the one it gets on its own."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(300, 15)), np.abs(rng.normal(size=(300, 14)))
    a[:100], b[:100] = 1.0 + 1e-9 * rng.normal(size=(100, 15)), b[:100] * 1e-8  # these take more iterations
    together = _top_eigenvalue(a, b)
    alone = np.array([_top_eigenvalue(a[i : i + 1], b[i : i + 1])[0] for i in range(len(a))])
    np.testing.assert_array_equal(together, alone)
