"""The softmax layer, scaled dot-product attention, masks and multi-head attention.

Code for the page docs/layers/attention.md; each function names the equation of that
page it computes. Needs NumPy only.

Every array has the examples on its first axis: queries Q of shape (m, n_q, d_k), keys K
(m, n_k, d_k), values V (m, n_k, d_v); inside multi-head attention a heads axis follows
(m, n_heads, n_q, d_k). The formulas of the page are written for one example (and one
head); matrix products with ``@`` apply them to every example and head at once.
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray
Params = dict[str, Array]
Cache = dict[str, object]


# --8<-- [start:softmax-forward]
def softmax_forward(Z: Array, params: Params | None = None) -> tuple[Array, Cache]:
    """The row-wise softmax layer, along the last axis, no parameters: eq. (1)."""
    Z = _check_scores(Z)
    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))   # every exponent <= 0
    S = E / np.sum(E, axis=-1, keepdims=True)           # each row sums to 1
    return S, {"S": S}
# --8<-- [end:softmax-forward]


# --8<-- [start:jacobian]
def softmax_row_jacobian(s: Array) -> Array:
    """The Jacobian of one row's softmax, shape (n_k, n_k): eq. (2)."""
    s = _check_row(s)
    return np.diag(s) - np.outer(s, s)      # entry [u, r] is s_u ([u = r] - s_r)


def softmax_backward_with_jacobians(dS: Array, cache: Cache) -> tuple[Array, Params]:
    """dZ row by row, forming each row's Jacobian (what eq. (3) avoids): eq. (2)."""
    S, dS = _check_upstream(dS, cache)
    dZ = np.empty_like(S)
    for index in np.ndindex(*S.shape[:-1]):   # every row of every example: a loop
        J = softmax_row_jacobian(S[index])    # (n_k, n_k), eq. (2)
        dZ[index] = J.T @ dS[index]           # the notation page's J^n_q g
    return dZ, {}
# --8<-- [end:jacobian]


# --8<-- [start:softmax-backward]
def softmax_backward(dS: Array, cache: Cache) -> tuple[Array, Params]:
    """The softmax layer's backward pass, no Jacobian formed: eq. (3)."""
    S, dS = _check_upstream(dS, cache)
    row_dot = np.sum(dS * S, axis=-1, keepdims=True)   # (dS * S) 1, one number per row
    return S * (dS - row_dot), {}                      # broadcasting is the 1^n_q
# --8<-- [end:softmax-backward]


# --8<-- [start:attention-forward]
def attention_forward(inputs: tuple[Array, Array, Array], params: Params | None = None,
                      mask: Array | None = None) -> tuple[Array, Cache]:
    """Scaled dot-product attention, the output O and a cache: eq. (4).

    inputs = (Q, K, V); mask, if given, is a boolean array of allowed (query, key)
    pairs, applied as in eq. (7).
    """
    Q, K, V = _check_qkv(inputs)
    d_k = Q.shape[-1]
    Z = Q @ np.swapaxes(K, -1, -2) / math.sqrt(d_k)   # (..., n_q, n_k) scores
    if mask is None:
        S, _ = softmax_forward(Z)
    else:
        S, _ = masked_softmax_forward(Z, mask)        # eq. (7)
    out = S @ V                                       # O, (..., n_q, d_v)
    return out, {"Q": Q, "K": K, "V": V, "S": S}
# --8<-- [end:attention-forward]


# --8<-- [start:values-backward]
def output_backward(dO: Array, S: Array, V: Array) -> tuple[Array, Array]:
    """Gradients with respect to S (..., n_q, n_k) and V (..., n_k, d_v): eq. (5)."""
    dS = dO @ np.swapaxes(V, -1, -2)       # sum over j of G_tj V_uj
    dV = np.swapaxes(S, -1, -2) @ dO       # sum over t of G_tj S_tu
    return dS, dV
# --8<-- [end:values-backward]


# --8<-- [start:scores-backward]
def scores_backward(dZ: Array, Q: Array, K: Array) -> tuple[Array, Array]:
    """Gradients with respect to Q and K from the one of the scores Z: eq. (6)."""
    scale = 1.0 / math.sqrt(Q.shape[-1])
    dQ = scale * dZ @ K                        # (..., n_q, n_k) @ (..., n_k, d_k)
    dK = scale * np.swapaxes(dZ, -1, -2) @ Q   # (..., n_k, n_q) @ (..., n_q, d_k)
    return dQ, dK
# --8<-- [end:scores-backward]


# --8<-- [start:attention-backward]
def attention_backward(dO: Array,
                       cache: Cache) -> tuple[tuple[Array, Array, Array], Params]:
    """Gradients (dQ, dK, dV) of attention, by eqs. (5), (3) and (6). No parameters."""
    dO = _check_attention_upstream(dO, cache)
    Q, K, V, S = cache["Q"], cache["K"], cache["V"], cache["S"]
    dS, dV = output_backward(dO, S, V)            # eq. (5)
    dZ, _ = softmax_backward(dS, {"S": S})        # eq. (3); zero where S is zero
    dQ, dK = scores_backward(dZ, Q, K)            # eq. (6)
    return (dQ, dK, dV), {}
# --8<-- [end:attention-backward]


# --8<-- [start:mask]
def causal_mask(n_q: int) -> Array:
    """The causal mask [u <= t] of eq. (7), (n_q, n_q): query t sees keys 1..t only."""
    n_q = _check_length(n_q)
    t = np.arange(n_q)
    return t[np.newaxis, :] <= t[:, np.newaxis]      # entry [t, u] is u <= t


def masked_softmax_forward(Z: Array, mask: Array) -> tuple[Array, Cache]:
    """Softmax over the allowed entries of each row, exactly 0 elsewhere: eq. (7)."""
    Z, mask = _check_mask(Z, mask)
    M = np.max(np.where(mask, Z, -np.inf), axis=-1, keepdims=True)   # allowed max
    E = np.where(mask, np.exp(np.where(mask, Z - M, 0.0)), 0.0)     # masked: 0
    S = E / np.sum(E, axis=-1, keepdims=True)   # >= 1 allowed entry: sum >= 1
    return S, {"S": S}
# --8<-- [end:mask]


# --8<-- [start:heads]
def split_heads(A: Array, n_heads: int) -> Array:
    """(m, n_q, d_model) -> (m, n_heads, n_q, d_k), head p = column block p: eq. (8)."""
    m, n_q, d_model = _check_split(A, n_heads)
    d_k = d_model // n_heads
    return A.reshape(m, n_q, n_heads, d_k).transpose(0, 2, 1, 3)


def merge_heads(A: Array) -> Array:
    """(m, n_heads, n_q, d_k) -> (m, n_q, n_heads d_k), undoing split_heads: eq. (8)."""
    m, n_heads, n_q, d_k = _check_merge(A)
    return A.transpose(0, 2, 1, 3).reshape(m, n_q, n_heads * d_k)
# --8<-- [end:heads]


# --8<-- [start:mha-forward]
def mha_forward(A: Array, params: Params, n_heads: int,
                mask: Array | None = None) -> tuple[Array, Cache]:
    """Multi-head self-attention, the heads made by reshapes: eq. (9).

    params = {"Wq", "Wk", "Wv", "Wo"}, each (d_model, d_model); A is (m, n_q, d_model).
    """
    A, params = _check_mha(A, params, n_heads)
    Q = split_heads(A @ params["Wq"], n_heads)      # (m, n_heads, n_q, d_k)
    K = split_heads(A @ params["Wk"], n_heads)
    V = split_heads(A @ params["Wv"], n_heads)
    O_heads, att_cache = attention_forward((Q, K, V), mask=mask)   # every head at once
    O_merged = merge_heads(O_heads)                 # O, (m, n_q, d_model)
    out = O_merged @ params["Wo"]                   # MHA(A), (m, n_q, d_model)
    return out, {"A": A, "params": params, "n_heads": n_heads, "O": O_merged,
                 "att": att_cache}


def mha_forward_loop(A: Array, params: Params, n_heads: int,
                     mask: Array | None = None) -> Array:
    """The sum over heads of eq. (9), one head at a time, for the tests."""
    A, params = _check_mha(A, params, n_heads)
    d_k = A.shape[-1] // n_heads
    out = np.zeros(A.shape)
    for p in range(n_heads):                        # head p + 1 of the page
        cols = slice(p * d_k, (p + 1) * d_k)        # column block of head p + 1
        Q_p, K_p, V_p = (A @ params[name][:, cols] for name in ("Wq", "Wk", "Wv"))
        O_p, _ = attention_forward((Q_p, K_p, V_p), mask=mask)
        out += O_p @ params["Wo"][cols, :]          # row block of W_o
    return out
# --8<-- [end:mha-forward]


# --8<-- [start:mha-backward]
def mha_backward(d_out: Array, cache: Cache) -> tuple[Array, Params]:
    """dA (m, n_q, d_model) and {"Wq", "Wk", "Wv", "Wo"} gradients: eq. (10)."""
    d_out = _check_mha_upstream(d_out, cache)
    A, params, O_merged = cache["A"], cache["params"], cache["O"]
    n_heads = cache["n_heads"]
    d_model = A.shape[-1]
    flat = lambda X: X.reshape(-1, d_model)         # (m n_q, d_model): sums over m, n_q
    grads = {"Wo": flat(O_merged).T @ flat(d_out)}  # sum over examples of O^n_q G
    dO = d_out @ params["Wo"].T                     # G W_o^n_q
    (dQ, dK, dV), _ = attention_backward(split_heads(dO, n_heads), cache["att"])
    dA = np.zeros_like(A)
    for name, d_heads in (("Wq", dQ), ("Wk", dK), ("Wv", dV)):
        d_proj = merge_heads(d_heads)               # backward of a split is a merge
        grads[name] = flat(A).T @ flat(d_proj)      # sum over examples of A^n_q dQ
        dA += d_proj @ params[name].T               # A feeds three paths: add them
    return dA, grads
# --8<-- [end:mha-backward]


# --- input checks (after the shown sections; names resolve when called) ----------------

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


#: Largest magnitude allowed for a result: far below float64's 1.8e308, so that a
#: difference or a sum of two such numbers cannot overflow.
LIMIT = 1e300


def _maxabs(a: Array) -> float:
    """The largest |entry| of a, as a Python float (whose products never warn)."""
    return float(np.max(np.abs(a)))


def _check_bound(bound: float, what: str) -> None:
    """Raise ValueError if a bound on the magnitude of a result reaches LIMIT."""
    if not bound < LIMIT:
        raise ValueError(f"{what} may overflow float64 (a bound on its entries is "
                         f"{bound:.3g} >= {LIMIT:.0e}): rescale the inputs")


def _check_scores(Z: Array) -> Array:
    Z = _as_real(Z, "Z")
    if Z.ndim < 2 or 0 in Z.shape:
        raise ValueError(f"Z must have shape (m, ..., n_k) with at least 2 axes and no "
                         f"empty axis, got shape {Z.shape}")
    _check_bound(_maxabs(Z), "Z")
    return Z


def _check_row(s: Array) -> Array:
    s = _as_real(s, "s")
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"s must be one non-empty row of softmax outputs, shape (n_k,), "
                         f"got shape {s.shape}")
    return s


def _check_upstream(dS: Array, cache: Cache) -> tuple[Array, Array]:
    S = cache["S"]
    dS = _as_real(dS, "dS")
    if dS.shape != S.shape:
        raise ValueError(f"dS must have the shape of the layer's output {S.shape}, "
                         f"got shape {dS.shape}")
    _check_bound(2 * _maxabs(dS), "dS - (dS * S) 1 1^n_q")
    return S, dS


def _check_qkv(inputs: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 3:
        raise ValueError("inputs must be the tuple (Q, K, V)")
    Q, K, V = (_as_real(a, name) for a, name in zip(inputs, "QKV", strict=True))
    if not (Q.ndim == K.ndim == V.ndim) or Q.ndim not in (3, 4):
        raise ValueError(f"Q, K and V must all be 3-D (m, positions, width) or all 4-D "
                         f"(m, n_heads, positions, width), got shapes {Q.shape}, {K.shape}, "
                         f"{V.shape}")
    if 0 in Q.shape + K.shape + V.shape:
        raise ValueError(f"Q, K and V must have no empty axis, got shapes {Q.shape}, "
                         f"{K.shape}, {V.shape}")
    if Q.shape[:-2] != K.shape[:-2] or K.shape[:-1] != V.shape[:-1]:
        raise ValueError(f"K and V need the same leading axes as Q and one value per key: "
                         f"got shapes Q {Q.shape}, K {K.shape}, V {V.shape}")
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(f"queries and keys need the same width d_k, got Q {Q.shape} and "
                         f"K {K.shape}")
    d_k, n_k = Q.shape[-1], K.shape[-2]
    _check_bound(_maxabs(Q) * _maxabs(K) * d_k, "the scores Q K^n_q / sqrt(d_k)")
    _check_bound(_maxabs(V) * n_k, "the output S V")
    return Q, K, V


def _check_attention_upstream(dO: Array, cache: Cache) -> Array:
    Q, K, V = cache["Q"], cache["K"], cache["V"]
    expected = Q.shape[:-1] + V.shape[-1:]
    dO = _as_real(dO, "dO")
    if dO.shape != expected:
        raise ValueError(f"dO must have the shape of the output {expected}, "
                         f"got shape {dO.shape}")
    n_q, n_k, d_v = Q.shape[-2], K.shape[-2], V.shape[-1]
    g = _maxabs(dO)
    b_S = g * _maxabs(V) * d_v                     # bounds |dS|; |dZ| <= 2 |dS|
    _check_bound(b_S, "dS = dO V^n_q")
    _check_bound(2 * b_S * max(_maxabs(K) * n_k, _maxabs(Q) * n_q), "dQ or dK")
    _check_bound(g * n_q, "dV = S^n_q dO")
    return dO


def _check_length(n_q: int) -> int:
    if not _is_count(n_q):
        raise ValueError(f"the sequence length n_q must be a positive integer, got {n_q!r:.60}")
    return int(n_q)


def _check_mask(Z: Array, mask: Array) -> tuple[Array, Array]:
    Z = _check_scores(Z)
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise ValueError(f"the mask must be a boolean array (True = allowed), got dtype "
                         f"{mask.dtype}")
    if (mask.ndim < 2 or mask.ndim > Z.ndim or mask.shape[-2:] != Z.shape[-2:]
            or np.broadcast_shapes(mask.shape, Z.shape) != Z.shape):
        raise ValueError(f"the mask must have shape (n_q, n_k) = {Z.shape[-2:]} or one "
                         f"that broadcasts to the scores' shape {Z.shape}, got shape "
                         f"{mask.shape}")
    if not np.all(np.any(mask, axis=-1)):
        raise ValueError("every query must be allowed at least one key: a fully masked row "
                         "has no softmax (its weights would be 0 / 0)")
    return Z, mask


def _is_count(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _check_split(A: Array, n_heads: int) -> tuple[int, int, int]:
    A = np.asarray(A)
    if not _is_count(n_heads):
        raise ValueError(f"n_heads must be a positive integer, got {n_heads!r:.60}")
    if A.ndim != 3 or A.shape[-1] % n_heads != 0:
        raise ValueError(f"expected shape (m, n_q, d_model) with d_model divisible by "
                         f"n_heads = {n_heads}, got shape {A.shape}")
    return A.shape


def _check_merge(A: Array) -> tuple[int, int, int, int]:
    A = np.asarray(A)
    if A.ndim != 4:
        raise ValueError(f"expected shape (m, n_heads, n_q, d_k), got shape {A.shape}")
    return A.shape


def _check_mha(A: Array, params: Params, n_heads: int) -> tuple[Array, Params]:
    A = _as_real(A, "A")
    if A.ndim != 3 or 0 in A.shape:
        raise ValueError(f"A must have shape (m, n_q, d_model) with no empty axis, "
                         f"got shape {A.shape}")
    _check_split(A, n_heads)
    if not isinstance(params, dict) or set(params) != {"Wq", "Wk", "Wv", "Wo"}:
        raise ValueError("params must be a dict with exactly the keys Wq, Wk, Wv, Wo")
    d_model = A.shape[-1]
    checked = {}
    for name, W in params.items():
        W = _as_real(W, name)
        if W.shape != (d_model, d_model):
            raise ValueError(f"{name} must have shape (d_model, d_model) = "
                             f"{(d_model, d_model)}, got shape {W.shape}")
        checked[name] = W
    w = max(_maxabs(W) for W in checked.values())
    _check_bound(_maxabs(A) * w * d_model, "the projections A W")
    _check_bound(_maxabs(A) * w**2 * d_model**2, "the output O W_o")
    return A, checked


def _check_mha_upstream(d_out: Array, cache: Cache) -> Array:
    A, params = cache["A"], cache["params"]
    d_out = _as_real(d_out, "d_out")
    if d_out.shape != A.shape:
        raise ValueError(f"d_out must have the shape of the output {A.shape}, "
                         f"got shape {d_out.shape}")
    m, n_q, d_model = A.shape
    w, a, g = max(_maxabs(W) for W in params.values()), _maxabs(A), _maxabs(d_out)
    b_O = g * w * d_model                             # bounds |dO|
    b_Q = a * w * d_model                             # bounds |Q|, |K|, |V|
    b_d = b_O * n_q * max(1.0, 2 * b_Q**2 * d_model)    # bounds |dQ|, |dK|, |dV|
    _check_bound(max(b_O, _maxabs(cache["O"]) * g * m * n_q,
                     b_d * max(3 * w * d_model, a * m * n_q)),
                 "a gradient of multi-head attention")
    return d_out
