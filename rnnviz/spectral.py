"""‖J_t‖₂ for many small matrices J_t that share one weight matrix: the per-step Jacobian norms of gradients.py.

Every step's Jacobian has the form J_t = diag(d0_t) + Σ_b diag(q_{t,b}) W_b, with W_b the gate blocks of W_hh
(``[H, H]`` each), so J_t v costs one row of a batched product with W_hh and no J_t is ever formed. Lanczos runs
for all steps at once; its tridiagonals' top eigenvalues come from Laguerre's method.

What was measured before settling on this (T = 1,000, float32, one thread; the figures are in the README): the
products are batched matrix products near the core's peak (about 12 µs per step and iteration for a 256-unit
LSTM), so the cost is (steps still iterating) × (iterations), and a step needs 16 iterations on average to reach
1e-6 even for an oracle that stops each step the moment it is there. So no stopping rule can save much: one that
extrapolated the Ritz values' rises and checked at every iteration stopped about 15% sooner but let more steps
stop low, up to 1e-2 (a Ritz value that pauses near the second singular value before it climbs). Warm
starts from the neighbouring step do not help on varied input (the top singular vectors of J_t and J_{t−1} are
far apart when the gates jump); bfloat16 products for the first iterations saved 15% of the products; batched
exact SVD (torch.linalg.matrix_norm(ord=2)) is slower than Lanczos from 64 units up. What :func:`spectral_norms`
saves over :func:`lockstep_norms` (the solver measured when the speed issue was filed, kept as the benchmark's
reference), for the same values:

- each step stops on its own once its value has converged; the lockstep solver iterated until all had;
- no full reorthogonalization: the top Ritz value of plain Lanczos converges to the top eigenvalue however much
  orthogonality the later vectors lose (Paige), and keeping every step's Krylov basis, then copying it each time
  steps finished, cost a third of the time at 256 units;
- for a plain RNN (one gate block, no diagonal term), J_t J_tᵀ = D_t (W Wᵀ) D_t: one product per iteration, not
  two.
"""

from __future__ import annotations

import numpy as np
import torch

PATIENCE = 2  # checks in a row without movement before a step stops on its own (1 let a GRU stop 5e-3 low)


def _top_eigenvalue(a: np.ndarray, b: np.ndarray, iters: int = 50) -> np.ndarray:
    """Largest eigenvalue of each symmetric tridiagonal matrix: diagonal ``a`` ``[R, n]``, off-diagonal ``b``
    ``[R, n−1]`` (float64), to a few units in the last place.

    Laguerre's method on det(T − x), started above Gershgorin's bound: for a polynomial whose roots are all real
    it converges monotonically to the largest root (cubically near it), and above every eigenvalue the LDLᵀ
    pivots of T − x are all negative, so the recurrence that gives Σ 1/(x − λ) and Σ 1/(x − λ)² needs no
    factorization. It costs O(n) per matrix and iteration, where a dense eigvalsh of every Lanczos tridiagonal
    cost O(n³) and a third of the Lanczos time. Matrices that have converged drop out of the later iterations.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    R, n = a.shape
    if n == 1:
        return a[:, 0].copy()
    radius = np.zeros_like(a)
    radius[:, :-1] += np.abs(b)
    radius[:, 1:] += np.abs(b)
    scale = np.maximum(np.abs(a).max(1), np.abs(b).max(1))
    tiny = 1e-300
    x = (a + radius).max(1) + 1e-12 * scale + tiny
    a_all = np.ascontiguousarray(a.T)  # [n, R]: each step of the recurrence reads one contiguous row
    b2_all = np.ascontiguousarray((b * b).T)
    rows = np.arange(R)  # the matrices still moving
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(iters):
            a_t, b2_t, xs = (a_all, b2_all, x) if len(rows) == R else (a_all[:, rows], b2_all[:, rows], x[rows])
            shifted = a_t - xs  # the diagonal of T − x
            q = np.where(shifted[0] == 0, -tiny, shifted[0])  # the pivot d_i of T − x, and its derivatives in x
            inv = 1.0 / q
            dq = np.full(len(rows), -1.0)
            ddq = np.zeros(len(rows))
            total = -inv
            square = inv * inv
            for i in range(1, n):
                r = b2_t[i - 1] * inv
                rq = r * inv
                ddq = rq * (ddq - 2.0 * dq * dq * inv)
                dq = rq * dq - 1.0
                q = shifted[i] - r
                inv = 1.0 / np.where(q == 0, -tiny, q)
                g = dq * inv
                total += g
                square += g * g - ddq * inv
            # total = Σ 1/(x − λ_j) and square = Σ 1/(x − λ_j)²: Laguerre's step towards the largest root
            root = np.sqrt(np.maximum((n - 1) * (n * square - total * total), 0.0))
            step = n / (total + np.copysign(root, total))  # the larger denominator: towards the nearest root (a
            #                                                 rounding step just below the top one comes back up)
            step = np.where(np.isfinite(step), step, 0.0)
            x[rows] = xs - step
            rows = rows[np.abs(step) > 4e-16 * np.maximum(np.abs(xs - step), scale[rows])]
            if not len(rows):
                break
    return x


def spectral_norms(q: np.ndarray, d0: np.ndarray | None, w: np.ndarray, iters: int = 40, check: int = 4,
                   first: int = 12) -> np.ndarray:
    """Largest singular value of J_t = diag(d0_t) + Σ_b diag(q_{t,b}) W_b for every t, ``[T]`` (float64).

    ``q`` is ``[T, G*H]`` (one coefficient per gate block and unit), ``w`` is W_hh ``[G*H, H]``. Steps whose
    coefficients are identical (a state that has settled, as on the recall task's blank filler) are solved once.

    Batched Lanczos on J_tᵀJ_t (on J_tJ_tᵀ = D_t W Wᵀ D_t for a plain RNN: one product per iteration), without
    reorthogonalization, at most ``iters`` products per step, in W_hh's precision (float32 for the app's models,
    float64 for float64 ones). The top Ritz value is checked every ``check`` iterations from iteration ``first``
    on, and each step stops on its own once its value has moved by no more than a few units in the last place
    over ``PATIENCE`` checks in a row; the later products skip it. The start vectors hold half the top singular
    vector of the mean Jacobian (the steps share W_hh, so it is close to each one's) and half noise, so that every
    step's own top direction is in the start: a start without it stalls at the second singular value. Clustered
    top singular values (orthogonal W_hh at gain 1, or two within 0.3% on random input) can still come out a few
    1e-3 low: a step whose value first settles at the second one stops there. Of 15,500 random steps probed, one
    (a GRU's, σ₁/σ₂ = 1.003) stopped 3e-3 low, as it did in the solver before this one; lockstep_norms, which
    iterates on until every step has settled, found its top value.
    """
    dtype, tol, floor = _precision(w)
    q, d0, inverse = _distinct(q, d0, dtype)
    (T, GH), H = q.shape, w.shape[1]
    G, k = GH // H, min(iters, H)
    left = d0 is None and G == 1
    w64 = np.nan_to_num(np.asarray(w, dtype=np.float64))
    if left:
        kernel = torch.from_numpy((w64 @ w64.T).astype(dtype))
    else:
        gram = _gram(w64, dtype)
    coef = torch.from_numpy(q).view(T, G, H)  # [step, gate block, unit]
    diag = None if d0 is None else torch.from_numpy(d0)

    def product(v: torch.Tensor) -> torch.Tensor:  # J Jᵀ v or Jᵀ J v for each row
        if left:
            c = coef[:, 0]
            return c * ((c * v) @ kernel)
        return gram(v, coef, diag)

    v = torch.from_numpy(_start_vectors(q, d0, w64, G, H, left=left).astype(dtype))
    v_prev = torch.zeros_like(v)
    alpha = np.zeros((T, k))
    beta = np.zeros((T, k))
    result = np.empty(T)
    active = np.arange(T)  # the steps still iterating, as indices into the distinct steps
    last = None
    stalls = np.zeros(T, dtype=int)
    for j in range(k):
        x = product(v)
        size = torch.linalg.vector_norm(x, dim=1)
        a = (x * v).sum(1)
        x -= a[:, None] * v  # the three-term recurrence
        if j:
            x -= torch.from_numpy(beta[:, j - 1, None].astype(dtype)) * v_prev
        b = torch.linalg.vector_norm(x, dim=1)
        live = b > floor * size  # else the Krylov space is exhausted: the Ritz values are exact
        alpha[:, j] = a.double().numpy()
        beta[:, j] = np.where(live.numpy(), b.double().numpy(), 0.0)
        v_prev, v = v, torch.where(live[:, None], x / b.clamp_min(1e-30)[:, None], 0.0)
        n = j + 1
        if (n < first or n % check) and n < k:
            continue
        top, still, stalls = _ritz_check(alpha[:, :n], beta[:, : n - 1], last, stalls, tol)
        done = (stalls >= PATIENCE) | (n == k)
        if done.any():
            result[active[done]] = top[done]
            keep = ~done
            if not keep.any():
                break
            kept = torch.from_numpy(keep)
            active, top, stalls, alpha, beta = active[keep], top[keep], stalls[keep], alpha[keep], beta[keep]
            v, v_prev, coef = v[kept], v_prev[kept], coef[kept]
            diag = None if diag is None else diag[kept]
        last = top
    return np.sqrt(result)[inverse]


def lockstep_norms(q: np.ndarray, d0: np.ndarray | None, w: np.ndarray, iters: int = 40, check: int = 4,
                   first: int = 12, deflate: bool = False) -> np.ndarray:
    """:func:`spectral_norms` by the solver it replaced, kept as the benchmark's reference and checked by the same
    tests: batched Lanczos on J_tᵀJ_t with full reorthogonalization, at most ``iters`` matrix products, exact once
    that reaches H, in W_hh's precision. The top Ritz value is checked every ``check`` iterations from iteration
    ``first`` on; a step has converged when it moved by no more than a few units in the last place since the
    previous check. ``deflate=False`` (the default, the solver measured when the speed issue was filed):
    every step iterates until all of them have converged. ``deflate=True``: each step stops once its value has not
    moved over ``PATIENCE`` checks in a row. The start vectors are :func:`spectral_norms`'s.
    """
    dtype, tol, floor = _precision(w)
    q, d0, inverse = _distinct(q, d0, dtype)
    (T, GH), H = q.shape, w.shape[1]
    G, k = GH // H, min(iters, H)
    torch_gram = _gram(w, dtype)

    def gram(v, q3, d0t):  # on numpy's memory
        return torch_gram(torch.from_numpy(v), q3, d0t).numpy()

    v = _start_vectors(q, d0, w, G, H).astype(dtype)
    basis = np.zeros((T, k, H), dtype=dtype)  # per step, its Krylov basis as rows: batched products are contiguous
    alpha = np.zeros((T, k))
    beta = np.zeros((T, k))
    result = np.empty(T)
    active = np.arange(T)  # the steps still iterating, as indices into the distinct steps
    q3 = torch.from_numpy(q).view(T, G, H)
    d0t = None if d0 is None else torch.from_numpy(d0)
    last = None
    stalls = np.zeros(T, dtype=int)
    for j in range(k):
        basis[:, j] = v
        x = gram(v, q3, d0t)
        a = np.einsum("th,th->t", x, v)
        alpha[:, j] = a
        size = np.linalg.norm(x, axis=1)
        x -= a[:, None].astype(dtype) * v  # the three-term recurrence, then one full Gram-Schmidt pass against
        if j:  # every basis vector, which removes what rounding left of earlier directions
            x -= beta[:, j - 1, None].astype(dtype) * basis[:, j - 1]
        known = basis[:, : j + 1]
        x -= np.matmul(np.matmul(known, x[:, :, None]).transpose(0, 2, 1), known)[:, 0]
        b = np.linalg.norm(x, axis=1)
        live = b > floor * size  # else the Krylov space is exhausted: the Ritz values are exact
        beta[:, j] = np.where(live, b, 0.0)
        v = np.where(live[:, None], x / np.maximum(b, 1e-30)[:, None].astype(dtype), 0).astype(dtype)
        n = j + 1
        if (n < first or n % check) and n < k:
            continue
        top, still, stalls = _ritz_check(alpha[:, :n], beta[:, : n - 1], last, stalls, tol)
        done = stalls >= PATIENCE
        if n == k or not deflate and still.all():
            done[:] = True
        elif not deflate:
            done[:] = False
        if done.any():
            result[active[done]] = top[done]
            keep = ~done
            if not keep.any():
                break
            active, top, v, stalls = active[keep], top[keep], v[keep], stalls[keep]
            basis, alpha, beta = basis[keep], alpha[keep], beta[keep]
            q3 = q3[torch.from_numpy(keep)]
            d0t = None if d0t is None else d0t[torch.from_numpy(keep)]
        last = top
    return np.sqrt(result)[inverse]


def _gram(w: np.ndarray, dtype):
    """``gram(v, coef, diag)``: J_tᵀJ_t v_t for each row t, where J_t = diag(diag_t) + Σ_b diag(coef_{t,b}) W_b,
    ``v`` ``[R, H]``, ``coef`` ``[R, G, H]``, ``diag`` ``[R, H]`` or None; two batched products with W_hh (``w``,
    ``[G*H, H]``), in torch (one intra-op thread in the app)."""
    H = w.shape[1]
    w_ = torch.from_numpy(np.ascontiguousarray(w, dtype=dtype))
    w_t = torch.from_numpy(np.ascontiguousarray(w.T, dtype=dtype))

    def gram(v: torch.Tensor, coef: torch.Tensor, diag: torch.Tensor | None) -> torch.Tensor:
        u = (coef * (v @ w_t).view(len(v), -1, H)).sum(1)  # J v
        if diag is not None:
            u += diag * v
        out = (coef * u[:, None, :]).view(len(v), -1) @ w_  # Jᵀ (J v)
        return out if diag is None else out.add_(diag * u)

    return gram


def _ritz_check(alpha: np.ndarray, beta: np.ndarray, last: np.ndarray | None, stalls: np.ndarray, tol: float):
    """Each step's top Ritz value (of its tridiagonal: ``alpha`` ``[R, n]``, ``beta`` ``[R, n−1]``), whether it moved
    by at most ``tol`` of itself since the ``last`` check, and the checks in a row it has not moved."""
    top = np.maximum(_top_eigenvalue(alpha, beta), 0.0)
    still = np.zeros(len(top), dtype=bool) if last is None else np.abs(top - last) <= tol * top
    return top, still, np.where(still, stalls + 1, 0)


def _precision(w: np.ndarray) -> tuple[type, float, float]:
    """W_hh's precision (float64 for float64 models, else float32), the relative movement below which a top Ritz
    value has stalled, and the residual below which a Krylov space is exhausted, in that precision."""
    return (np.float64, 1e-12, 1e-9) if w.dtype == np.float64 else (np.float32, 1e-6, 1e-5)


def _distinct(q: np.ndarray, d0: np.ndarray | None, dtype) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The distinct steps' coefficients (NaN and inf made finite) and, per step, the index of its distinct one."""
    q = np.nan_to_num(np.asarray(q, dtype=dtype))
    d0 = None if d0 is None else np.nan_to_num(np.asarray(d0, dtype=dtype))
    rows = np.ascontiguousarray(q if d0 is None else np.concatenate([q, d0], 1))
    _, first_at, inverse = np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel(),
                                     return_index=True, return_inverse=True)
    q = np.ascontiguousarray(q[first_at])
    d0 = None if d0 is None else np.ascontiguousarray(d0[first_at])
    return q, d0, inverse.ravel()


def _start_vectors(q: np.ndarray, d0: np.ndarray | None, w: np.ndarray, G: int, H: int,
                   left: bool = False) -> np.ndarray:
    """Unit start vectors ``[T, H]`` (float64): noise plus the top right (``left``: left) singular vector of the
    mean Jacobian."""
    T = len(q)
    v = torch.randn(T, H, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    mean = (q.mean(0, dtype=np.float64).reshape(G, H, 1) * w.astype(np.float64).reshape(G, H, H)).sum(0)
    if d0 is not None:
        mean += np.diag(d0.mean(0, dtype=np.float64))
    if np.isfinite(mean).all():
        u, _, vt = np.linalg.svd(mean)
        v += u[:, 0] if left else vt[0]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v
