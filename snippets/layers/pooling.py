"""Max pooling, average pooling and global average pooling as layers, both passes.

Code for the page docs/layers/pooling.md. Layout, examples first: an input A of shape
(m, c_in, h_in, w_in) and an output Z of shape (m, c_in, h_out, w_out), or (m, c_in) for global
pooling. Pooling has no parameters: params is the empty dict and the parameter gradients
are the empty dict. Indices are 0-based here and 1-based on the page. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Array = np.ndarray


# --8<-- [start:output-shape]
def pool_output_shape(h_in: int, w_in: int, h_win: int, w_win: int,
                      stride: int) -> tuple[int, int]:
    """(h_out, w_out), the number of window positions down and across: eq. (1)."""
    _check_sizes(h_in, w_in, h_win, w_win, stride)
    return (h_in - h_win) // stride + 1, (w_in - w_win) // stride + 1
# --8<-- [end:output-shape]


# --8<-- [start:max-forward]
def windows(A: Array, h_win: int, w_win: int, stride: int) -> Array:
    """Every window, (m, c_in, h_out, w_out, h_win, w_win), a view of A: eq. (2)."""
    A = _check_input(A)
    _check_sizes(A.shape[2], A.shape[3], h_win, w_win, stride)
    view = sliding_window_view(A, (h_win, w_win), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def max_pool_forward(A: Array, params: dict, window: int | tuple[int, int] = 2,
                     stride: int = 2) -> tuple[Array, tuple]:
    """Z (m, c_in, h_out, w_out), the largest entry of each window: eq. (2)."""
    A, (h_win, w_win) = _check_layer(A, params, window, stride)
    P = windows(A, h_win, w_win, stride)      # (m, c_in, h_out, w_out, h_win, w_win)
    Z = P.max(axis=(4, 5))
    return Z, (max_routes(P), stride, A.shape)
# --8<-- [end:max-forward]


# --8<-- [start:routes]
def max_routes(P: Array) -> Array:
    """R: 1 at the first maximum of each window in row-major order, else 0: eq. (3)."""
    P = _check_rank(P, 6, "P", "(m, c_in, h_out, w_out, h_win, w_win)")
    flat = P.reshape(*P.shape[:4], -1)             # each window in row-major order
    first = np.argmax(flat, axis=-1)               # argmax returns the first maximum
    R = np.arange(flat.shape[-1]) == first[..., None]
    return R.reshape(P.shape).astype(np.float64)
# --8<-- [end:routes]


# --8<-- [start:max-backward]
def max_pool_backward(dZ: Array, cache: tuple) -> tuple[Array, dict]:
    """dL/dA (m, c_in, h_in, w_in): each G goes to its window's maximum, eq. (4)."""
    R, stride, A_shape = cache
    m, c_in, h_out, w_out, h_win, w_win = R.shape
    dZ = _check_upstream(dZ, (m, c_in, h_out, w_out), (h_win, w_win), stride)
    dA = np.zeros(A_shape)
    for u, v in np.ndindex(h_win, w_win):          # tap (u, v) of every window at once
        rows = slice(u, u + stride * (h_out - 1) + 1, stride)
        cols = slice(v, v + stride * (w_out - 1) + 1, stride)
        dA[:, :, rows, cols] += dZ * R[:, :, :, :, u, v]   # overlapping windows add up
    return dA, {}
# --8<-- [end:max-backward]


# --8<-- [start:avg-forward]
def avg_pool_forward(A: Array, params: dict, window: int | tuple[int, int] = 2,
                     stride: int = 2) -> tuple[Array, tuple]:
    """Z (m, c_in, h_out, w_out), the mean of each window: eq. (5)."""
    A, (h_win, w_win) = _check_layer(A, params, window, stride)
    P = windows(A, h_win, w_win, stride)
    Z = np.sum(P / (h_win * w_win), axis=(4, 5))   # divide first: no overflow at 1e308
    return Z, ((h_win, w_win), stride, A.shape)
# --8<-- [end:avg-forward]


# --8<-- [start:avg-backward]
def avg_pool_backward(dZ: Array, cache: tuple) -> tuple[Array, dict]:
    """dL/dA (m, c_in, h_in, w_in): each G shared equally by its window, eq. (6)."""
    (h_win, w_win), stride, A_shape = cache
    h_out, w_out = pool_output_shape(A_shape[2], A_shape[3], h_win, w_win, stride)
    dZ = _check_upstream(dZ, (A_shape[0], A_shape[1], h_out, w_out))
    dA = np.zeros(A_shape)
    for u, v in np.ndindex(h_win, w_win):
        rows = slice(u, u + stride * (h_out - 1) + 1, stride)
        cols = slice(v, v + stride * (w_out - 1) + 1, stride)
        dA[:, :, rows, cols] += dZ / (h_win * w_win)
    return dA, {}
# --8<-- [end:avg-backward]


# --8<-- [start:loops]
def max_pool_forward_loop(A: Array, params: dict, window: int | tuple[int, int] = 2,
                          stride: int = 2) -> tuple[Array, tuple]:
    """Eq. (2) one output entry at a time."""
    A, (h_win, w_win) = _check_layer(A, params, window, stride)
    h_out, w_out = pool_output_shape(A.shape[2], A.shape[3], h_win, w_win, stride)
    Z = np.zeros((*A.shape[:2], h_out, w_out))
    for i, c, p, q in np.ndindex(Z.shape):
        r, t = stride * p, stride * q             # top-left corner of the window
        Z[i, c, p, q] = np.max(A[i, c, r : r + h_win, t : t + w_win])
    return Z, (A, (h_win, w_win), stride)


def max_pool_backward_loop(dZ: Array, cache: tuple) -> tuple[Array, dict]:
    """Eq. (4) one output entry at a time: G to the first maximum of its window."""
    A, (h_win, w_win), stride = cache
    h_out, w_out = pool_output_shape(A.shape[2], A.shape[3], h_win, w_win, stride)
    dZ = _check_upstream(dZ, (*A.shape[:2], h_out, w_out), (h_win, w_win), stride)
    dA = np.zeros_like(A)
    for i, c, p, q in np.ndindex(dZ.shape):
        r, t = stride * p, stride * q
        u, v = np.unravel_index(np.argmax(A[i, c, r : r + h_win, t : t + w_win]),
                                (h_win, w_win))   # the first maximum, row by row
        dA[i, c, r + u, t + v] += dZ[i, c, p, q]
    return dA, {}


def avg_pool_forward_loop(A: Array, params: dict, window: int | tuple[int, int] = 2,
                          stride: int = 2) -> tuple[Array, tuple]:
    """Eq. (5) one output entry at a time."""
    A, (h_win, w_win) = _check_layer(A, params, window, stride)
    h_out, w_out = pool_output_shape(A.shape[2], A.shape[3], h_win, w_win, stride)
    Z = np.zeros((*A.shape[:2], h_out, w_out))
    for i, c, p, q in np.ndindex(Z.shape):
        r, t = stride * p, stride * q
        Z[i, c, p, q] = np.sum(A[i, c, r : r + h_win, t : t + w_win] / (h_win * w_win))
    return Z, ((h_win, w_win), stride, A.shape)


def avg_pool_backward_loop(dZ: Array, cache: tuple) -> tuple[Array, dict]:
    """Eq. (6) one output entry at a time: G / (h_win w_win) to each entry."""
    (h_win, w_win), stride, A_shape = cache
    h_out, w_out = pool_output_shape(A_shape[2], A_shape[3], h_win, w_win, stride)
    dZ = _check_upstream(dZ, (*A_shape[:2], h_out, w_out))
    dA = np.zeros(A_shape)
    for i, c, p, q in np.ndindex(dZ.shape):
        r, t = stride * p, stride * q
        dA[i, c, r : r + h_win, t : t + w_win] += dZ[i, c, p, q] / (h_win * w_win)
    return dA, {}
# --8<-- [end:loops]


# --8<-- [start:global-forward]
def global_avg_pool_forward(A: Array, params: dict) -> tuple[Array, tuple]:
    """Z (m, c_in): the mean of each channel over all positions, eq. (7)."""
    A = _check_input(A)
    _check_no_params(params)
    h_in, w_in = A.shape[2], A.shape[3]
    Z = np.sum(A / (h_in * w_in), axis=(2, 3))     # divide first: no overflow at 1e308
    return Z, (A.shape,)
# --8<-- [end:global-forward]


# --8<-- [start:global-backward]
def global_avg_pool_backward(dZ: Array, cache: tuple) -> tuple[Array, dict]:
    """dL/dA (m, c_in, h_in, w_in): G / (h_in w_in) at every position, eq. (8)."""
    (A_shape,) = cache
    m, c_in, h_in, w_in = A_shape
    dZ = _check_upstream(dZ, (m, c_in))
    dA = np.broadcast_to(dZ[:, :, None, None] / (h_in * w_in), A_shape)
    return dA.copy(), {}                           # a writable array of its own
# --8<-- [end:global-backward]


# Input checks: after the shown sections, so that the file reads in the order of its page.

def _as_finite(x: Array, name: str) -> Array:
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)   # no copy when it is float64 already
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (no inf or nan)")
    return x


def _check_rank(x: Array, ndim: int, name: str, layout: str) -> Array:
    x = _as_finite(x, name)
    if x.ndim != ndim or 0 in x.shape:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array {layout}, got shape {x.shape}")
    return x


def _check_input(A: Array) -> Array:
    return _check_rank(A, 4, "A", "(m, c_in, h_in, w_in)")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_no_params(params: dict) -> None:
    if not isinstance(params, dict) or params:
        raise ValueError(f"pooling has no parameters: params must be the empty dict {{}}, "
                         f"got {params!r}")


def _check_window(window: int | tuple[int, int]) -> tuple[int, int]:
    pair = (window, window) if _is_int(window) else window
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(_is_int(n) for n in pair)
            and min(pair) >= 1):
        raise ValueError(f"the window must be a positive integer or a pair (h_win, w_win) of "
                         f"positive integers, got {window!r}")
    return int(pair[0]), int(pair[1])


def _check_sizes(h_in: int, w_in: int, h_win: int, w_win: int, stride: int) -> None:
    if not _is_int(stride) or stride < 1:
        raise ValueError(f"the stride must be a positive integer, got {stride!r}")
    _check_window((h_win, w_win))
    if not (_is_int(h_in) and _is_int(w_in) and min(h_in, w_in) >= 1):
        raise ValueError(f"h_in and w_in must be positive integers, got {h_in!r} and {w_in!r}")
    if h_win > h_in or w_win > w_in:
        raise ValueError(f"the window ({h_win} x {w_win}) does not fit in the input "
                         f"({h_in} x {w_in})")


def _check_layer(A: Array, params: dict, window: int | tuple[int, int],
                 stride: int) -> tuple[Array, tuple[int, int]]:
    A = _check_input(A)
    _check_no_params(params)
    h_win, w_win = _check_window(window)
    _check_sizes(A.shape[2], A.shape[3], h_win, w_win, stride)
    return A, (h_win, w_win)


#: Largest magnitude allowed for a bound on any sum the layer computes: below the float64
#: maximum (about 1.8e308) with room for the rounding of the bound itself.
MAX_SUM = 1e306


def _check_upstream(dZ: Array, shape: tuple[int, ...], window: tuple[int, int] = (1, 1),
                    stride: int = 1) -> Array:
    """dZ of the given shape; for max pooling, also small enough that the entries routed to
    one input (at most ceil(h_win / s) ceil(w_win / s) overlapping windows) cannot overflow."""
    dZ = _as_finite(dZ, "dZ")
    if dZ.shape != shape:
        raise ValueError(f"dZ must have the shape of the output Z, {shape}, got {dZ.shape}")
    overlap = -(-window[0] // stride) * -(-window[1] // stride)
    with np.errstate(over="ignore"):
        bound = float(np.max(np.abs(dZ)) * overlap)
    if not bound < MAX_SUM:
        raise ValueError(f"the input gradient could overflow float64: up to {overlap} entries "
                         f"of dZ (largest {np.max(np.abs(dZ)):.3g}) add up at one input; "
                         "rescale dZ")
    return dZ
