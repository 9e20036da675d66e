"""Gated recurrent cells: the LSTM and the GRU, one step and a whole sequence.

Code for the page docs/layers/gated-recurrent.md; each function names the equation of
that page it computes. Needs NumPy only.

Layout: examples first. A sequence X has shape (m, n_seq, n), the hidden states H
(m, n_seq, n_h), the initial states H0 and M0 (m, n_h). The gates are stacked side by
side in PyTorch's order: i, f, g, o for the LSTM (Wx of shape (n, 4 n_h)) and r, z, n
for the GRU (Wx of shape (n, 3 n_h)); the page calls the GRU's z the update gate u and
its n the candidate state.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray
Params = dict[str, Array]
Cache = dict[str, object]


# --8<-- [start:lstm-gates]
def sigmoid(z: Array) -> Array:
    """The logistic sigmoid, stable for any z, of the gates of eqs. (1) and (8)."""
    e = np.exp(-np.abs(z))                          # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def lstm_gates(X_t: Array, H_prev: Array,
               params: Params) -> tuple[Array, Array, Array, Array]:
    """The gates and the candidate (Gi, Gf, M_cand, Go), each (m, n_h): eq. (1)."""
    X_t, H_prev, params = _check_cell_inputs(X_t, H_prev, params, "lstm")
    Z = X_t @ params["Wx"] + H_prev @ params["Wh"] + params["b"]   # (m, 4 n_h)
    Z_i, Z_f, Z_g, Z_o = np.split(Z, 4, axis=1)     # four blocks of n_h columns
    return sigmoid(Z_i), sigmoid(Z_f), np.tanh(Z_g), sigmoid(Z_o)
# --8<-- [end:lstm-gates]


# --8<-- [start:lstm-forward]
def lstm_step_forward(inputs: tuple[Array, Array, Array],
                      params: Params) -> tuple[tuple[Array, Array], Cache]:
    """One LSTM step, (H_t, M_t) from (X_t, H_prev, M_prev): eq. (2)."""
    X_t, H_prev, M_prev = _check_lstm_inputs(inputs)
    Gi, Gf, M_cand, Go = lstm_gates(X_t, H_prev, params)
    M_t = Gf * M_prev + Gi * M_cand                 # forget some, write some
    H_t = Go * np.tanh(M_t)                         # show some
    cache = {"X_t": X_t, "H_prev": H_prev, "M_prev": M_prev, "M_t": M_t,
             "gates": (Gi, Gf, M_cand, Go), "params": params}
    return (H_t, M_t), cache
# --8<-- [end:lstm-forward]


# --8<-- [start:lstm-output-backward]
def lstm_output_backward(dH_t: Array, dM_t: Array, cache: Cache) -> tuple[Array, Array]:
    """dL/dGo and the total dL/dM_t from the step's two upstream gradients: eq. (3)."""
    _, _, _, Go = cache["gates"]
    tanh_M = np.tanh(cache["M_t"])
    dGo = dH_t * tanh_M
    dM = dM_t + dH_t * Go * (1.0 - tanh_M * tanh_M)   # later steps + through H_t
    return dGo, dM
# --8<-- [end:lstm-output-backward]


# --8<-- [start:lstm-cell-backward]
def lstm_cell_backward(dM: Array, cache: Cache) -> tuple[Array, Array, Array, Array]:
    """dL/dGi, dL/dGf, dL/dM_cand and dL/dM_prev from dL/dM_t: eq. (4)."""
    Gi, Gf, M_cand, _ = cache["gates"]
    dGi = dM * M_cand
    dGf = dM * cache["M_prev"]
    dM_cand = dM * Gi
    dM_prev = dM * Gf                               # the additive path: no W, no tanh'
    return dGi, dGf, dM_cand, dM_prev
# --8<-- [end:lstm-cell-backward]


# --8<-- [start:lstm-gates-backward]
def lstm_gates_backward(dGi: Array, dGf: Array, dM_cand: Array, dGo: Array,
                        cache: Cache) -> Array:
    """dL/dZ (m, 4 n_h), the four blocks side by side: eq. (5)."""
    Gi, Gf, M_cand, Go = cache["gates"]
    dZ_i = dGi * Gi * (1.0 - Gi)                    # sigmoid' = s (1 - s)
    dZ_f = dGf * Gf * (1.0 - Gf)
    dZ_g = dM_cand * (1.0 - M_cand * M_cand)        # tanh' = 1 - tanh^2
    dZ_o = dGo * Go * (1.0 - Go)
    return np.concatenate([dZ_i, dZ_f, dZ_g, dZ_o], axis=1)
# --8<-- [end:lstm-gates-backward]


# --8<-- [start:lstm-step-backward]
def lstm_step_backward(d_outputs: tuple[Array, Array],
                       cache: Cache) -> tuple[tuple[Array, Array, Array], Params]:
    """(dX_t, dH_prev, dM_prev) and {"Wx", "Wh", "b"} of one step: eqs. (3)-(6)."""
    dH_t, dM_t = _check_lstm_upstream(d_outputs, cache)
    dGo, dM = lstm_output_backward(dH_t, dM_t, cache)              # eq. (3)
    dGi, dGf, dM_cand, dM_prev = lstm_cell_backward(dM, cache)      # eq. (4)
    dZ = lstm_gates_backward(dGi, dGf, dM_cand, dGo, cache)        # eq. (5)
    X_t, H_prev, params = cache["X_t"], cache["H_prev"], cache["params"]
    grads = {"Wx": X_t.T @ dZ, "Wh": H_prev.T @ dZ,                 # eq. (6)
             "b": dZ.T @ np.ones(dZ.shape[0])}
    dX_t, dH_prev = dZ @ params["Wx"].T, dZ @ params["Wh"].T
    return (dX_t, dH_prev, dM_prev), grads
# --8<-- [end:lstm-step-backward]


# --8<-- [start:lstm-sequence]
def lstm_forward(X: Array, params: Params, H0: Array | None = None,
                 M0: Array | None = None) -> tuple[Array, Cache]:
    """Hidden states H (m, n_seq, n_h) of a sequence, eq. (2) at every step."""
    X, H_prev, M_prev = _check_gated_sequence(X, params, H0, M0, "lstm")
    H = np.empty(X.shape[:2] + H_prev.shape[1:])
    steps = []
    for t in range(X.shape[1]):
        (H[:, t], M_prev), step_cache = lstm_step_forward((X[:, t], H_prev, M_prev),
                                                          params)
        steps.append(step_cache)
        H_prev = H[:, t]
    return H, {"steps": steps}


def lstm_backward(dH: Array,
                  cache: Cache) -> tuple[tuple[Array, Array, Array], Params]:
    """Backpropagation through time, (dX, dH0, dM0) and weight gradients: eq. (7)."""
    steps = cache["steps"]
    dH = _check_gated_upstream(dH, steps)
    dX = np.empty(dH.shape[:2] + steps[0]["X_t"].shape[1:])
    grads = {name: np.zeros_like(W) for name, W in steps[0]["params"].items()}
    carry_H = carry_M = np.zeros_like(dH[:, 0])     # nothing comes from after the end
    for t in reversed(range(len(steps))):
        d_outputs = (dH[:, t] + carry_H, carry_M)   # G_h and G_m of step t
        d_inputs, step_grads = lstm_step_backward(d_outputs, steps[t])
        dX[:, t], carry_H, carry_M = d_inputs
        for name in grads:
            grads[name] += step_grads[name]
    return (dX, carry_H, carry_M), grads
# --8<-- [end:lstm-sequence]


# --8<-- [start:gru-gates]
def gru_gates(X_t: Array, H_prev: Array,
              params: Params) -> tuple[Array, Array, Array, Array]:
    """The reset and update gates, the candidate state and Z_hc: eq. (8)."""
    X_t, H_prev, params = _check_cell_inputs(X_t, H_prev, params, "gru")
    Z_xr, Z_xu, Z_xc = np.split(X_t @ params["Wx"] + params["bx"], 3, axis=1)
    Z_hr, Z_hu, Z_hc = np.split(H_prev @ params["Wh"] + params["bh"], 3, axis=1)
    Gr = sigmoid(Z_xr + Z_hr)                       # reset gate
    Gu = sigmoid(Z_xu + Z_hu)                       # update gate (PyTorch's z)
    H_cand = np.tanh(Z_xc + Gr * Z_hc)              # r scales the hidden part only
    return Gr, Gu, H_cand, Z_hc
# --8<-- [end:gru-gates]


# --8<-- [start:gru-forward]
def gru_step_forward(inputs: tuple[Array, Array],
                     params: Params) -> tuple[Array, Cache]:
    """One GRU step, H_t from (X_t, H_prev): eq. (9)."""
    X_t, H_prev = _check_gru_inputs(inputs)
    Gr, Gu, H_cand, Z_hc = gru_gates(X_t, H_prev, params)
    H_t = (1.0 - Gu) * H_cand + Gu * H_prev         # between the new and the old state
    cache = {"X_t": X_t, "H_prev": H_prev, "gates": (Gr, Gu, H_cand, Z_hc),
             "params": params}
    return H_t, cache
# --8<-- [end:gru-forward]


# --8<-- [start:gru-update-backward]
def gru_update_backward(dH_t: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """dL/dH_cand, dL/dGu and the direct part of dL/dH_prev: eq. (10)."""
    _, Gu, H_cand, _ = cache["gates"]
    dH_cand = dH_t * (1.0 - Gu)
    dGu = dH_t * (cache["H_prev"] - H_cand)
    dH_prev_direct = dH_t * Gu
    return dH_cand, dGu, dH_prev_direct
# --8<-- [end:gru-update-backward]


# --8<-- [start:gru-gates-backward]
def gru_gates_backward(dH_cand: Array, dGu: Array, cache: Cache) -> tuple[Array, Array]:
    """dL/dZ_x and dL/dZ_h, (m, 3 n_h) each, blocks r, u, c: eq. (11)."""
    Gr, Gu, H_cand, Z_hc = cache["gates"]
    dZ_xc = dH_cand * (1.0 - H_cand * H_cand)      # through the tanh
    dZ_hc = dZ_xc * Gr
    dGr = dZ_xc * Z_hc
    dZ_r = dGr * Gr * (1.0 - Gr)                    # the same for Z_xr and Z_hr
    dZ_u = dGu * Gu * (1.0 - Gu)                    # the same for Z_xu and Z_hu
    dZ_x = np.concatenate([dZ_r, dZ_u, dZ_xc], axis=1)
    dZ_h = np.concatenate([dZ_r, dZ_u, dZ_hc], axis=1)
    return dZ_x, dZ_h
# --8<-- [end:gru-gates-backward]


# --8<-- [start:gru-step-backward]
def gru_step_backward(dH_t: Array,
                      cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """(dX_t, dH_prev) and {"Wx", "Wh", "bx", "bh"} of one step: eqs. (10)-(12)."""
    dH_t = _check_gru_upstream(dH_t, cache)
    dH_cand, dGu, dH_prev_direct = gru_update_backward(dH_t, cache)   # eq. (10)
    dZ_x, dZ_h = gru_gates_backward(dH_cand, dGu, cache)              # eq. (11)
    X_t, H_prev, params = cache["X_t"], cache["H_prev"], cache["params"]
    ones = np.ones(dZ_x.shape[0])
    grads = {"Wx": X_t.T @ dZ_x, "Wh": H_prev.T @ dZ_h,               # eq. (12)
             "bx": dZ_x.T @ ones, "bh": dZ_h.T @ ones}
    dX_t = dZ_x @ params["Wx"].T
    dH_prev = dH_prev_direct + dZ_h @ params["Wh"].T   # two paths from H_prev
    return (dX_t, dH_prev), grads
# --8<-- [end:gru-step-backward]


# --8<-- [start:gru-sequence]
def gru_forward(X: Array, params: Params,
                H0: Array | None = None) -> tuple[Array, Cache]:
    """Hidden states H (m, n_seq, n_h) of a sequence, eq. (9) at every step."""
    X, H_prev, _ = _check_gated_sequence(X, params, H0, None, "gru")
    H = np.empty(X.shape[:2] + H_prev.shape[1:])
    steps = []
    for t in range(X.shape[1]):
        H[:, t], step_cache = gru_step_forward((X[:, t], H_prev), params)
        steps.append(step_cache)
        H_prev = H[:, t]
    return H, {"steps": steps}


def gru_backward(dH: Array, cache: Cache) -> tuple[tuple[Array, Array], Params]:
    """Backpropagation through time for the GRU, by eqs. (10)-(12): (dX, dH0), grads."""
    steps = cache["steps"]
    dH = _check_gated_upstream(dH, steps)
    dX = np.empty(dH.shape[:2] + steps[0]["X_t"].shape[1:])
    grads = {name: np.zeros_like(W) for name, W in steps[0]["params"].items()}
    carry = np.zeros_like(dH[:, 0])
    for t in reversed(range(len(steps))):
        (dX[:, t], carry), step_grads = gru_step_backward(dH[:, t] + carry, steps[t])
        for name in grads:
            grads[name] += step_grads[name]
    return (dX, carry), grads
# --8<-- [end:gru-sequence]


# --- input checks (after the shown sections; names resolve when called) ----------------

#: Largest magnitude allowed for a result: far below float64's 1.8e308, so that a sum of
#: a few such numbers cannot overflow.
LIMIT = 1e300

#: The parameters of each cell, and how many gate blocks its weight matrices stack.
CELLS = {"lstm": (("Wx", "Wh", "b"), 4), "gru": (("Wx", "Wh", "bx", "bh"), 3)}


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


def _check_params(params: Params, cell: str) -> tuple[int, int, Params]:
    """Check a cell's parameter dict; return n, n_h and the float parameters."""
    names, blocks = CELLS[cell]
    if not isinstance(params, dict) or set(params) != set(names):
        raise ValueError(f"params must be a dict with exactly the keys {', '.join(names)}")
    checked = {name: _as_real(params[name], name) for name in names}
    Wx = checked["Wx"]
    if Wx.ndim != 2 or Wx.shape[0] == 0 or Wx.shape[1] == 0 or Wx.shape[1] % blocks:
        raise ValueError(f"Wx must have shape (n, {blocks} n_h) with n, n_h >= 1, "
                         f"got shape {Wx.shape}")
    n, n_h = Wx.shape[0], Wx.shape[1] // blocks
    if checked["Wh"].shape != (n_h, blocks * n_h):
        raise ValueError(f"Wh must have shape (n_h, {blocks} n_h) = {(n_h, blocks * n_h)}, "
                         f"got shape {checked['Wh'].shape}")
    for name in names[2:]:
        if checked[name].shape != (blocks * n_h,):
            raise ValueError(f"{name} must have shape ({blocks} n_h,) = ({blocks * n_h},), "
                             f"got shape {checked[name].shape}")
    return n, n_h, checked


def _check_cell_inputs(X_t: Array, H_prev: Array, params: Params,
                       cell: str) -> tuple[Array, Array, Params]:
    n, n_h, params = _check_params(params, cell)
    X_t, H_prev = _as_real(X_t, "X_t"), _as_real(H_prev, "H_prev")
    if X_t.ndim != 2 or X_t.shape[0] == 0 or X_t.shape[1] != n:
        raise ValueError(f"X_t must have shape (m, n) = (m, {n}) with m >= 1, "
                         f"got shape {X_t.shape}")
    if H_prev.shape != (X_t.shape[0], n_h):
        raise ValueError(f"H_prev must have shape (m, n_h) = {(X_t.shape[0], n_h)}, "
                         f"got shape {H_prev.shape}")
    bound = (_maxabs(X_t) * _maxabs(params["Wx"]) * n
             + _maxabs(H_prev) * _maxabs(params["Wh"]) * n_h
             + sum(_maxabs(params[name]) for name in CELLS[cell][0][2:]))
    _check_bound(bound, "a gate's pre-activation")
    return X_t, H_prev, params


def _check_lstm_inputs(inputs: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 3:
        raise ValueError("inputs must be the triple (X_t, H_prev, M_prev)")
    X_t, H_prev, M_prev = inputs
    M_prev = _as_real(M_prev, "M_prev")
    if M_prev.shape != np.shape(H_prev):
        raise ValueError(f"M_prev must have the shape of H_prev {np.shape(H_prev)}, "
                         f"got shape {M_prev.shape}")
    _check_bound(_maxabs(M_prev), "the cell state M_t")
    return X_t, H_prev, M_prev


def _check_gru_inputs(inputs: tuple[Array, Array]) -> tuple[Array, Array]:
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
        raise ValueError("inputs must be the pair (X_t, H_prev)")
    return inputs[0], inputs[1]


def _check_step_gradient(d: Array, name: str, cache: Cache) -> Array:
    H_prev, X_t, params = cache["H_prev"], cache["X_t"], cache["params"]
    d = _as_real(d, name)
    if d.shape != H_prev.shape:
        raise ValueError(f"{name} must have the shape of the state {H_prev.shape}, "
                         f"got shape {d.shape}")
    largest = max([1.0, _maxabs(X_t), _maxabs(H_prev)]
                  + [_maxabs(W) for W in params.values()]
                  + [_maxabs(cache.get("M_prev", 0.0)), _maxabs(cache.get("M_t", 0.0))])
    _check_bound(_maxabs(d) * largest**2 * 4 * max(d.shape + X_t.shape),
                 f"a gradient of the step from {name}")
    return d


def _check_lstm_upstream(d_outputs: tuple[Array, Array], cache: Cache) -> tuple[Array, Array]:
    if not isinstance(d_outputs, (tuple, list)) or len(d_outputs) != 2:
        raise ValueError("d_outputs must be the pair (dH_t, dM_t)")
    return (_check_step_gradient(d_outputs[0], "dH_t", cache),
            _check_step_gradient(d_outputs[1], "dM_t", cache))


def _check_gru_upstream(dH_t: Array, cache: Cache) -> Array:
    return _check_step_gradient(dH_t, "dH_t", cache)


def _check_gated_sequence(X: Array, params: Params, H0: Array | None, M0: Array | None,
                          cell: str) -> tuple[Array, Array, Array]:
    n, n_h, _ = _check_params(params, cell)
    X = _as_real(X, "X")
    if X.ndim != 3 or X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] != n:
        raise ValueError(f"X must have shape (m, n_seq, n) = (m, n_seq, {n}) with "
                         f"m, n_seq >= 1, got shape {X.shape}")
    states = []
    for name, S0 in (("H0", H0), ("M0", M0)):
        S0 = np.zeros((X.shape[0], n_h)) if S0 is None else _as_real(S0, name)
        if S0.shape != (X.shape[0], n_h):
            raise ValueError(f"{name} must have shape (m, n_h) = {(X.shape[0], n_h)}, "
                             f"got shape {S0.shape}")
        states.append(S0)
    return X, states[0], states[1]


def _check_gated_upstream(dH: Array, steps: list[Cache]) -> Array:
    expected = (steps[0]["H_prev"].shape[0], len(steps), steps[0]["H_prev"].shape[1])
    dH = _as_real(dH, "dH")
    if dH.shape != expected:
        raise ValueError(f"dH must have the shape of H {expected}, got shape {dH.shape}")
    return dH

