"""The Maximal Covering Location Problem (Church & ReVelle 1974), greedy and exact (no Qt).

Given a coverage matrix ``A`` (demand points x candidate sites, nonzero where the site covers the
point), weights ``w`` (residents per demand point) and a number of sites ``k``: choose at most
``k`` sites maximising the total weight of the points covered by at least one of them.

* :func:`greedy` adds, k times, the site that covers the most weight not yet covered. The
  objective is monotone submodular, so greedy gets at least (1 - 1/e) ~ 63 % of the optimum
  (Nemhauser, Wolsey & Fisher 1978). It also returns an a-posteriori upper bound on the optimum:
  after any step, optimum <= value so far + the sum of the k largest marginal gains then
  (submodularity), usually far tighter than 1/(1 - 1/e). Vectorised: each step subtracts the
  newly covered points' weights from the gains of the sites covering them (sparse rows).
* :func:`exact` solves the MILP  max sum w_i y_i  s.t.  y_i <= sum_j A_ij x_j,  sum_j x_j <= k,
  x binary, 0 <= y <= 1, with ``scipy.optimize.milp`` (HiGHS) under a time limit, after merging
  demand points covered by the same sites.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from layers.feedback import Feedback, ensure


@dataclass(frozen=True)
class Greedy:
    """Sites in the order picked, the weight each added, the total, and an upper bound on the optimum."""

    chosen: np.ndarray
    gains: np.ndarray
    value: float
    upper_bound: float


@dataclass(frozen=True)
class Exact:
    """The MILP's sites (unordered), the weight they cover, HiGHS's status text and time, and the
    proven bound (equal to ``value`` when optimal)."""

    chosen: np.ndarray
    value: float
    optimal: bool
    status: str
    seconds: float
    bound: float


def coverage_matrix(a) -> sp.csr_matrix:
    """``a`` as a 0/1 CSR matrix (demand x sites) with sorted indices."""
    m = sp.csr_matrix(a, dtype=float, copy=True)
    m.eliminate_zeros()
    m.data[:] = 1.0
    m.sort_indices()
    return m


def greedy(a, w: np.ndarray, k: int, *, feedback: Feedback | None = None) -> Greedy:
    """Greedy MCLP on coverage matrix ``a`` (demand x sites) with weights ``w``; stops early when
    no site adds anything. Ties go to the lowest site index."""
    fb = ensure(feedback)
    rows = coverage_matrix(a)
    cols = rows.tocsc()
    w = np.asarray(w, dtype=float)
    gains = np.asarray(rows.T @ w).ravel()
    covered = np.zeros(rows.shape[0], dtype=bool)
    chosen, added = [], []
    value, bound = 0.0, np.inf
    for step in range(int(k)):
        fb.check_cancelled()
        bound = min(bound, value + _top_sum(gains, k))
        if gains.size == 0:
            break
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            break
        hit = cols.indices[cols.indptr[j]:cols.indptr[j + 1]]
        new = hit[~covered[hit]]
        covered[new] = True
        sub = rows[new]
        gains -= np.bincount(sub.indices, weights=np.repeat(w[new], np.diff(sub.indptr)), minlength=len(gains))
        gains[j] = 0.0
        gains[np.abs(gains) < 1e-9] = 0.0
        chosen.append(j)
        added.append(float(w[new].sum()))
        value += added[-1]
        fb.progress((step + 1) / max(int(k), 1), f"Greedy siting: {step + 1} of {k} sites")
    bound = min(bound, value + _top_sum(gains, k))
    return Greedy(np.asarray(chosen, dtype=np.int64), np.asarray(added), value, float(bound))


def order_by_gain(a, w: np.ndarray, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sites`` (e.g. the MILP's) ranked greedily among themselves: first the one covering the
    most, then the one adding the most to it, ...; and the weight each adds."""
    sub = coverage_matrix(a)[:, np.asarray(sites, dtype=np.int64)]
    order = greedy(sub, w, len(sites))
    rest = np.setdiff1d(np.arange(len(sites)), order.chosen)  # sites adding nothing keep their place at the end
    ranked = np.concatenate([order.chosen, rest]).astype(np.int64)
    gains = np.concatenate([order.gains, np.zeros(len(rest))])
    return np.asarray(sites, dtype=np.int64)[ranked], gains


def merge_rows(a, w: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Drop demand points with no weight or no site; merge points covered by exactly the same sites
    (their weights add up). A smaller, equivalent MCLP."""
    m = coverage_matrix(a)
    w = np.asarray(w, dtype=float)
    keep = np.flatnonzero((w > 0) & (np.diff(m.indptr) > 0))
    m, w = m[keep], w[keep]
    if m.shape[0] == 0:
        return m, w
    rng = np.random.default_rng(12345)
    code = rng.integers(1, 2**62, size=m.shape[1], dtype=np.int64).astype(np.uint64)
    counts = np.diff(m.indptr)
    hashed = np.add.reduceat(code[m.indices], m.indptr[:-1]) if m.nnz else np.zeros(m.shape[0], np.uint64)
    key = np.stack([hashed, counts.astype(np.uint64)], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    merged_w = np.bincount(inverse.ravel(), weights=w, minlength=len(first))
    return m[first], merged_w


def exact(a, w: np.ndarray, k: int, *, time_limit_s: float = 30.0) -> Exact:
    """The optimal (or, when the time limit stops HiGHS, the best found) choice of at most ``k``
    sites, as a MILP (``scipy.optimize.milp``)."""
    start = time.perf_counter()
    m, wm = merge_rows(a, w)
    n_d, n_s = m.shape
    if n_d == 0 or k <= 0:
        return Exact(np.empty(0, np.int64), 0.0, True, "nothing to cover", time.perf_counter() - start, 0.0)
    used = np.flatnonzero(np.diff(m.tocsc().indptr) > 0)  # sites that cover some demand
    m = m[:, used]
    n_s = len(used)
    c = np.concatenate([np.zeros(n_s), -wm])
    cover = sp.hstack([-m, sp.identity(n_d, format="csr")], format="csr")  # y_i - sum_j A_ij x_j <= 0
    budget = sp.csr_matrix(np.concatenate([np.ones(n_s), np.zeros(n_d)])[None, :])
    constraints = [LinearConstraint(cover, -np.inf, 0.0), LinearConstraint(budget, 0.0, float(min(k, n_s)))]
    integrality = np.concatenate([np.ones(n_s), np.zeros(n_d)])
    res = milp(c, integrality=integrality, bounds=Bounds(0.0, 1.0), constraints=constraints,
               options={"time_limit": float(time_limit_s), "disp": False, "mip_rel_gap": 0.0})
    seconds = time.perf_counter() - start
    if res.x is None:
        status = "time limit, no solution" if res.status == 1 else "no solution"
        return Exact(np.empty(0, np.int64), 0.0, False, status, seconds, np.inf)
    x = res.x[:n_s] > 0.5
    chosen = used[np.flatnonzero(x)]
    value = float(wm[np.asarray(m[:, np.flatnonzero(x)].sum(axis=1)).ravel() > 0].sum())
    optimal = res.status == 0
    dual = getattr(res, "mip_dual_bound", None)
    bound = value if optimal else (float(-dual) if dual is not None and np.isfinite(dual) else np.inf)
    status = "optimal" if optimal else ("time limit reached" if res.status == 1 else str(res.message))
    return Exact(chosen.astype(np.int64), value, optimal, status, seconds, bound)


def covered_by(a, sites: np.ndarray) -> np.ndarray:
    """Per demand point, the position in ``sites`` of the first site covering it (-1 for none)."""
    m = coverage_matrix(a)[:, np.asarray(sites, dtype=np.int64)].tocsr()
    out = np.full(m.shape[0], -1, np.int64)
    has = np.diff(m.indptr) > 0
    starts = m.indptr[:-1][has]
    # columns are sorted within a row, so the first stored column is the smallest position
    out[has] = m.indices[starts]
    return out


def _top_sum(gains: np.ndarray, k: int) -> float:
    if gains.size == 0 or k <= 0:
        return 0.0
    k = min(int(k), gains.size)
    return float(np.partition(gains, gains.size - k)[gains.size - k:].clip(min=0).sum())
