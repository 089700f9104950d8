"""‖J_t‖₂ for many small matrices J_t that share one weight matrix: the per-step Jacobian norms of gradients.py.

Every step's Jacobian has the form J_t = diag(d0_t) + Σ_b diag(q_{t,b}) W_b, with W_b the gate blocks of W_hh
(``[H, H]`` each), so J_t v costs one row of a batched product with W_hh and no J_t is ever formed. Lanczos on
J_tᵀJ_t runs for all steps at once; its tridiagonals' top eigenvalues come from Laguerre's method.

What was measured before settling on this (T = 1,000, float32, one thread): the Lanczos products are batched
matrix products near the core's peak, so the cost is (steps still iterating) × (iterations). Warm starts from the
neighbouring step do not help on varied input (the top singular vector of J_t and J_{t−1} are far apart when the
gates jump), and batched exact SVD (torch.linalg.matrix_norm(ord=2)) is slower than Lanczos from 64 units up
(0.75 s against 0.21 s at 128 units). What helps is letting each step stop on its own (``deflate``): most steps
converge in 12-20 iterations, and only a few need 30 or more.
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
    cost O(n³) and a third of the Lanczos time.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    R, n = a.shape
    if n == 1:
        return a[:, 0].copy()
    b2 = b * b
    radius = np.zeros_like(a)
    radius[:, :-1] += np.abs(b)
    radius[:, 1:] += np.abs(b)
    scale = np.maximum(np.abs(a).max(1), np.abs(b).max(1))
    tiny = 1e-300
    x = (a + radius).max(1) + 1e-12 * scale + tiny
    moving = np.ones(R, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(iters):
            q = a[:, 0] - x  # the pivot d_i of T − x and its first two derivatives in x
            q = np.where(q == 0, -tiny, q)
            dq = np.full(R, -1.0)
            ddq = np.zeros(R)
            g = dq / q
            total, square = g.copy(), g * g - ddq / q
            for i in range(1, n):
                r = b2[:, i - 1] / q
                rq = r / q
                dq, ddq = -1.0 + rq * dq, rq * (ddq - 2.0 * dq * dq / q)
                q = a[:, i] - x - r
                q = np.where(q == 0, -tiny, q)
                g = dq / q
                total += g
                square += g * g - ddq / q
            # total = Σ 1/(x − λ_j) and square = Σ 1/(x − λ_j)²: Laguerre's step towards the largest root
            root = np.sqrt(np.maximum((n - 1) * (n * square - total * total), 0.0))
            step = n / (total + np.copysign(root, total))  # the larger denominator: towards the nearest root (a
            #                                                 rounding step just below the top one comes back up)
            step = np.where(np.isfinite(step) & moving, step, 0.0)
            x = x - step
            moving = np.abs(step) > 4e-16 * np.maximum(np.abs(x), scale)
            if not moving.any():
                break
    return x


def spectral_norms(q: np.ndarray, d0: np.ndarray | None, w: np.ndarray, iters: int = 40, check: int = 4,
                   first: int = 12, deflate: bool = True) -> np.ndarray:
    """Largest singular value of J_t = diag(d0_t) + Σ_b diag(q_{t,b}) W_b for every t, ``[T]`` (float64).

    ``q`` is ``[T, G*H]`` (one coefficient per gate block and unit), ``w`` is W_hh ``[G*H, H]``. Steps whose
    coefficients are identical (a state that has settled, as on the recall task's blank filler) are solved once.
    Batched Lanczos on J_tᵀJ_t with full reorthogonalization: at most ``iters`` matrix products, exact once that
    reaches H. It runs in W_hh's precision (float32 for the app's models, float64 for float64 ones). The top Ritz
    value is checked every ``check`` iterations from iteration ``first`` on; a step has converged when it moved by
    no more than a few units in the last place since the previous check.

    ``deflate=True``: each step stops on its own once its value has not moved over ``PATIENCE`` checks in a row,
    and the later products skip it (1.3-2x faster on random input). ``deflate=False``: every step iterates until
    all of them have converged (the lockstep solver this replaced; kept for the benchmark and the tests). The
    start vectors hold half the top right singular vector of the mean Jacobian (the steps share W_hh, so it is
    close to each one's) and half noise, so that every step's own top direction is in the start: a start without
    it stalls at the second singular value. Clustered top singular values (orthogonal W_hh at gain 1) can still
    come out up to ~1e-3 low.
    """
    dtype = np.float64 if w.dtype == np.float64 else np.float32
    tol, floor = (1e-12, 1e-9) if dtype == np.float64 else (1e-6, 1e-5)
    q = np.nan_to_num(np.asarray(q, dtype=dtype))
    d0 = None if d0 is None else np.nan_to_num(np.asarray(d0, dtype=dtype))
    rows = np.ascontiguousarray(q if d0 is None else np.concatenate([q, d0], 1))
    _, first_at, inverse = np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel(),
                                     return_index=True, return_inverse=True)
    q = np.ascontiguousarray(q[first_at])
    d0 = None if d0 is None else np.ascontiguousarray(d0[first_at])
    T, GH = q.shape
    H = w.shape[1]
    G = GH // H
    k = min(iters, H)
    w_ = torch.from_numpy(np.ascontiguousarray(w, dtype=dtype))
    w_t = torch.from_numpy(np.ascontiguousarray(w.T, dtype=dtype))

    def gram(v, q3, d0t):  # JᵀJ v for each row, in torch (one intra-op thread in the app) on numpy's memory
        v = torch.from_numpy(v)
        u = (q3 * (v @ w_t).view(-1, G, H)).sum(1)
        if d0t is not None:
            u += d0t * v
        out = (q3 * u[:, None, :]).view(-1, GH) @ w_
        return (out if d0t is None else out.add_(d0t * u)).numpy()

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
        top = np.maximum(_top_eigenvalue(alpha[:, :n], beta[:, : n - 1]), 0.0)
        still = np.zeros(len(top), dtype=bool) if last is None else np.abs(top - last) <= tol * top
        stalls = np.where(still, stalls + 1, 0)
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
    return np.sqrt(result)[inverse.ravel()]


def _start_vectors(q: np.ndarray, d0: np.ndarray | None, w: np.ndarray, G: int, H: int) -> np.ndarray:
    """Unit start vectors ``[T, H]`` (float64): noise plus the top right singular vector of the mean Jacobian."""
    T = len(q)
    v = torch.randn(T, H, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    mean = (q.mean(0, dtype=np.float64).reshape(G, H, 1) * w.astype(np.float64).reshape(G, H, H)).sum(0)
    if d0 is not None:
        mean += np.diag(d0.mean(0, dtype=np.float64))
    if np.isfinite(mean).all():
        v += np.linalg.svd(mean)[2][0]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v
