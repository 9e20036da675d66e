"""A vanilla recurrent layer, backpropagation through time, gradient clipping, truncation.

Code for the page docs/layers/recurrent.md; each function names the equation of that
page it computes. Needs NumPy only.

Layout: examples first. A sequence X has shape (m, n_seq, n): X[:, t - 1] is the X_t of
the page (the page counts steps from 1, NumPy from 0). The hidden states H have shape
(m, n_seq, n_h), and the initial state H0 shape (m, n_h).
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray
Params = dict[str, Array]
Cache = dict[str, object]


# --8<-- [start:step-forward]
def rnn_step_forward(inputs: tuple[Array, Array],
                     params: Params) -> tuple[Array, Cache]:
    """One step, H_t from (X_t, H_{t-1}) and {"Wx", "Wh", "b"}: eq. (1)."""
    X_t, H_prev, params = _check_step(inputs, params)
    Z_t = X_t @ params["Wx"] + H_prev @ params["Wh"] + params["b"]   # (m, n_h)
    H_t = np.tanh(Z_t)
    return H_t, {"X_t": X_t, "H_prev": H_prev, "Z_t": Z_t, "H_t": H_t, "params": params}
# --8<-- [end:step-forward]


# --8<-- [start:step-backward]
def rnn_step_backward(dH_t: Array,
                      cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """Gradients (dX_t, dH_prev) and {"Wx", "Wh", "b"} of one step: eq. (2)."""
    dH_t = _check_step_upstream(dH_t, cache)
    X_t, H_prev, H_t = cache["X_t"], cache["H_prev"], cache["H_t"]
    params = cache["params"]
    dZ_t = dH_t * (1.0 - H_t * H_t)              # tanh'(Z_t) = 1 - H_t^2
    grads = {"Wx": X_t.T @ dZ_t,                 # (n, m) @ (m, n_h)
             "Wh": H_prev.T @ dZ_t,              # (n_h, m) @ (m, n_h)
             "b": dZ_t.T @ np.ones(dZ_t.shape[0])}
    dX_t = dZ_t @ params["Wx"].T                 # (m, n_h) @ (n_h, n)
    dH_prev = dZ_t @ params["Wh"].T              # (m, n_h) @ (n_h, n_h)
    return (dX_t, dH_prev), grads
# --8<-- [end:step-backward]


# --8<-- [start:forward]
def rnn_forward(X: Array, params: Params,
                H0: Array | None = None) -> tuple[Array, Cache]:
    """Hidden states H (m, n_seq, n_h) of a sequence, eq. (1) at every step."""
    X, H0, params = _check_sequence(X, params, H0)
    m, n_seq, _ = X.shape
    H = np.empty((m, n_seq, params["Wh"].shape[0]))
    steps, H_prev = [], H0
    for t in range(n_seq):                         # step t + 1 of the page
        H[:, t], step_cache = rnn_step_forward((X[:, t], H_prev), params)
        steps.append(step_cache)
        H_prev = H[:, t]
    return H, {"steps": steps, "H0": H0}
# --8<-- [end:forward]


# --8<-- [start:bptt]
def rnn_backward(dH: Array, cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """Backpropagation through time: (dX, dH0) and {"Wx", "Wh", "b"}: eq. (3).

    dH (m, n_seq, n_h) holds G_t, the gradient reaching each H_t directly.
    """
    dH = _check_sequence_upstream(dH, cache)
    steps = cache["steps"]
    dX = np.empty((dH.shape[0], len(steps), steps[0]["X_t"].shape[1]))
    grads = {name: np.zeros_like(W) for name, W in steps[0]["params"].items()}
    carry = np.zeros_like(dH[:, 0])                # dL/dZ_{t+1} W_h^T; 0 after the end
    for t in reversed(range(len(steps))):
        dH_t = dH[:, t] + carry                    # both paths from H_t to the loss
        (dX[:, t], carry), step_grads = rnn_step_backward(dH_t, steps[t])
        for name in grads:
            grads[name] += step_grads[name]        # shared weights: sum over steps
    return (dX, carry), grads                      # the last carry is dL/dH_0
# --8<-- [end:bptt]


# --8<-- [start:jacobians]
def state_jacobian(h_t: Array, Wh: Array) -> Array:
    """dh_t / dh_{t-1} of one example, shape (n_h, n_h): eq. (4)."""
    h_t, Wh = _check_jacobian_inputs(h_t, Wh)
    return np.diag(1.0 - h_t * h_t) @ Wh.T


def jacobian_products(H: Array, Wh: Array) -> Array:
    """P[t] = dh_last / dh_t, t = 0..n_seq, one example, (n_seq + 1, n_h, n_h): eq. (4).

    H is one example's hidden states (n_seq, n_h), rows h_1 .. h_n_seq.
    """
    H, Wh = _check_one_sequence(H, Wh)
    n_seq, n_h = H.shape
    P = np.empty((n_seq + 1, n_h, n_h))
    P[n_seq] = np.eye(n_h)                         # dh_last / dh_last
    for t in range(n_seq, 0, -1):                  # the page's t, from n_seq down to 1
        P[t - 1] = P[t] @ state_jacobian(H[t - 1], Wh)
    return P
# --8<-- [end:jacobians]


# --8<-- [start:global-norm]
def global_norm(grads: Params) -> float:
    """The norm of all gradients together, as one long vector: eq. (5)."""
    grads = _check_grads(grads)
    scale = max(float(np.max(np.abs(g), initial=0.0)) for g in grads.values())
    if scale == 0.0:
        return 0.0
    total = sum(float(np.sum((g / scale) ** 2)) for g in grads.values())
    return scale * math.sqrt(total)    # after dividing by scale, no square overflows
# --8<-- [end:global-norm]


# --8<-- [start:clip]
def clip_by_global_norm(grads: Params, max_norm: float) -> tuple[Params, float]:
    """The gradients rescaled to a global norm of at most max_norm: eq. (6).

    Returns the clipped gradients (new arrays) and the norm before clipping.
    """
    _check_max_norm(max_norm)
    norm = global_norm(grads)
    factor = 1.0 if norm <= max_norm else max_norm / norm   # min(1, g_max / ||g||)
    return {name: factor * g for name, g in grads.items()}, norm
# --8<-- [end:clip]


# --8<-- [start:truncated]
def truncated_bptt(X: Array, params: Params, dH: Array, n_tr: int,
                   H0: Array | None = None) -> Params:
    """Weight gradients of truncated backpropagation through time: eq. (7).

    The forward pass runs through the whole sequence, chunk after chunk; the backward
    pass stops at the start of each chunk of n_tr steps.
    """
    X, H0, params = _check_sequence(X, params, H0)
    n_tr, dH = _check_truncation(n_tr, dH, X, params)
    grads = {name: np.zeros_like(W) for name, W in params.items()}
    H_start = H0
    for start in range(0, X.shape[1], n_tr):
        chunk = slice(start, start + n_tr)
        H, cache = rnn_forward(X[:, chunk], params, H_start)
        _, chunk_grads = rnn_backward(dH[:, chunk], cache)   # dL/dH_start is dropped
        for name in grads:
            grads[name] += chunk_grads[name]
        H_start = H[:, -1]                       # the state goes forward, not back
    return grads
# --8<-- [end:truncated]


# --- input checks (after the shown sections; names resolve when called) ----------------

#: Largest magnitude allowed for a result: far below float64's 1.8e308, so that a sum of
#: a few such numbers cannot overflow.
LIMIT = 1e300


def _as_real(a: Array, name: str) -> Array:
    """Return a as a finite float array, or raise ValueError."""
    try:
        a = np.asarray(a)
    except ValueError:                       # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array of numbers") from None
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return a


def _maxabs(a: Array) -> float:
    """The largest |entry| of a, as a Python float (whose products never warn)."""
    return float(np.max(np.abs(a), initial=0.0))


def _check_bound(bound: float, what: str) -> None:
    if not bound < LIMIT:
        raise ValueError(f"{what} may overflow float64 (a bound on its entries is "
                         f"{bound:.3g} >= {LIMIT:.0e}): rescale the inputs")


def _is_count(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _check_params(params: Params) -> tuple[int, int, Params]:
    """Check {"Wx" (n, n_h), "Wh" (n_h, n_h), "b" (n_h,)}; return n, n_h, float params."""
    if not isinstance(params, dict) or set(params) != {"Wx", "Wh", "b"}:
        raise ValueError("params must be a dict with exactly the keys Wx, Wh, b")
    Wx, Wh, b = (_as_real(params[k], k) for k in ("Wx", "Wh", "b"))
    if Wx.ndim != 2 or 0 in Wx.shape:
        raise ValueError(f"Wx must have shape (n, n_h) with n, n_h >= 1, got shape {Wx.shape}")
    n, n_h = Wx.shape
    if Wh.shape != (n_h, n_h):
        raise ValueError(f"Wh must have shape (n_h, n_h) = {(n_h, n_h)}, got shape {Wh.shape}")
    if b.shape != (n_h,):
        raise ValueError(f"b must have shape (n_h,) = {(n_h,)}, got shape {b.shape}")
    return n, n_h, {"Wx": Wx, "Wh": Wh, "b": b}


def _check_step(inputs: tuple[Array, Array],
                params: Params) -> tuple[Array, Array, Params]:
    n, n_h, params = _check_params(params)
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
        raise ValueError("inputs must be the pair (X_t, H_prev)")
    X_t, H_prev = _as_real(inputs[0], "X_t"), _as_real(inputs[1], "H_prev")
    if X_t.ndim != 2 or X_t.shape[0] == 0 or X_t.shape[1] != n:
        raise ValueError(f"X_t must have shape (m, n) = (m, {n}) with m >= 1, "
                         f"got shape {X_t.shape}")
    if H_prev.shape != (X_t.shape[0], n_h):
        raise ValueError(f"H_prev must have shape (m, n_h) = {(X_t.shape[0], n_h)}, "
                         f"got shape {H_prev.shape}")
    bound = (_maxabs(X_t) * _maxabs(params["Wx"]) * n
             + _maxabs(H_prev) * _maxabs(params["Wh"]) * n_h + _maxabs(params["b"]))
    _check_bound(bound, "the pre-activation Z_t")
    return X_t, H_prev, params


def _check_step_upstream(dH_t: Array, cache: Cache) -> Array:
    H_t = cache["H_t"]
    dH_t = _as_real(dH_t, "dH_t")
    if dH_t.shape != H_t.shape:
        raise ValueError(f"dH_t must have the shape of H_t {H_t.shape}, got shape {dH_t.shape}")
    X_t, H_prev, params = cache["X_t"], cache["H_prev"], cache["params"]
    largest = max(1.0, _maxabs(X_t), _maxabs(H_prev), _maxabs(params["Wx"]),
                  _maxabs(params["Wh"]))
    _check_bound(_maxabs(dH_t) * largest * max(H_t.shape[0], H_t.shape[1], X_t.shape[1]),
                 "a gradient of the step")
    return dH_t


def _check_sequence(X: Array, params: Params,
                    H0: Array | None) -> tuple[Array, Array, Params]:
    n, n_h, params = _check_params(params)
    X = _as_real(X, "X")
    if X.ndim != 3 or X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] != n:
        raise ValueError(f"X must have shape (m, n_seq, n) = (m, n_seq, {n}) with "
                         f"m, n_seq >= 1, got shape {X.shape}")
    if H0 is None:
        return X, np.zeros((X.shape[0], n_h)), params
    H0 = _as_real(H0, "H0")
    if H0.shape != (X.shape[0], n_h):
        raise ValueError(f"H0 must have shape (m, n_h) = {(X.shape[0], n_h)}, "
                         f"got shape {H0.shape}")
    return X, H0, params


def _check_sequence_upstream(dH: Array, cache: Cache) -> Array:
    steps = cache["steps"]
    expected = (steps[0]["H_t"].shape[0], len(steps), steps[0]["H_t"].shape[1])
    dH = _as_real(dH, "dH")
    if dH.shape != expected:
        raise ValueError(f"dH must have the shape of H {expected}, got shape {dH.shape}")
    return dH


def _check_jacobian_inputs(h_t: Array, Wh: Array) -> tuple[Array, Array]:
    h_t, Wh = _as_real(h_t, "h_t"), _as_real(Wh, "Wh")
    if h_t.ndim != 1 or h_t.size == 0 or Wh.shape != (h_t.size, h_t.size):
        raise ValueError(f"h_t must be one state (n_h,) and Wh (n_h, n_h), got shapes "
                         f"{h_t.shape} and {Wh.shape}")
    if np.any(np.abs(h_t) > 1.0):
        raise ValueError("h_t must be a state of the tanh layer, with entries in [-1, 1]")
    return h_t, Wh


def _check_one_sequence(H: Array, Wh: Array) -> tuple[Array, Array]:
    H, Wh = _as_real(H, "H"), _as_real(Wh, "Wh")
    if H.ndim != 2 or 0 in H.shape or Wh.shape != (H.shape[1], H.shape[1]):
        raise ValueError(f"H must be one example's states (n_seq, n_h) and Wh (n_h, n_h), "
                         f"got shapes {H.shape} and {Wh.shape}")
    return H, Wh


def _check_grads(grads: Params) -> Params:
    if not isinstance(grads, dict) or not grads:
        raise ValueError("grads must be a non-empty dict of gradient arrays")
    checked = {name: _as_real(g, f"the gradient {name!r}") for name, g in grads.items()}
    _check_bound(max(_maxabs(g) for g in checked.values()), "the global norm")
    return checked


def _check_max_norm(max_norm: float) -> None:
    if not (isinstance(max_norm, (int, float, np.integer, np.floating))
            and not isinstance(max_norm, bool) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"the clipping threshold max_norm must be a positive finite number, "
                         f"got {max_norm!r:.60}")


def _check_truncation(n_tr: int, dH: Array, X: Array, params: Params) -> tuple[int, Array]:
    if not _is_count(n_tr):
        raise ValueError(f"the truncation length n_tr must be a positive integer, "
                         f"got {n_tr!r:.60}")
    expected = X.shape[:2] + (params["Wh"].shape[0],)
    dH = _as_real(dH, "dH")
    if dH.shape != expected:
        raise ValueError(f"dH must have the shape of H {expected}, got shape {dH.shape}")
    return int(n_tr), dH
