"""2-D convolution (cross-correlation) as a layer: loop and vectorised forms, both passes.

Code for the page docs/layers/convolution-2d.md. Layout, examples first: an input A of
shape (m, c_in, h_in, w_in), a kernel K of shape (c_out, c_in, h_ker, w_ker), a bias b of
shape (c_out,) and an output Z of shape (m, c_out, h_out, w_out). Indices are 0-based here
and 1-based on the page. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Array = np.ndarray


# --8<-- [start:pad-and-size]
def pad(x: Array, padding: int) -> Array:
    """Zero padding of the last two axes, padding zeros on every side: eq. (1)."""
    padding = _check_padding(padding)
    x = np.asarray(x, dtype=np.float64)
    widths = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
    return np.pad(x, widths)


def output_shape(h_in: int, w_in: int, h_ker: int, w_ker: int, stride: int = 1,
                 padding: int = 0) -> tuple[int, int]:
    """(h_out, w_out), the number of kernel positions down and across: eq. (1)."""
    _check_sizes(h_in, w_in, h_ker, w_ker, stride, padding)
    h_out = (h_in + 2 * padding - h_ker) // stride + 1
    w_out = (w_in + 2 * padding - w_ker) // stride + 1
    return h_out, w_out
# --8<-- [end:pad-and-size]


# --8<-- [start:forward-loop]
def forward_loop(A: Array, params: dict[str, Array], stride: int = 1,
                 padding: int = 0) -> tuple[Array, tuple]:
    """Z (m, c_out, h_out, w_out) by the sum of eq. (2), one entry at a time."""
    A, K, b = _check_forward(A, params, stride, padding)
    (m, _, h_in, w_in), (c_out, _, h_ker, w_ker) = A.shape, K.shape
    h_out, w_out = output_shape(h_in, w_in, h_ker, w_ker, stride, padding)
    A_pad = pad(A, padding)
    Z = np.zeros((m, c_out, h_out, w_out))
    for i, o, p, q in np.ndindex(Z.shape):
        r, t = stride * p, stride * q     # top-left corner of the window in A~
        window = A_pad[i, :, r : r + h_ker, t : t + w_ker]    # (c_in, h_ker, w_ker)
        Z[i, o, p, q] = b[o] + np.sum(K[o] * window)   # sum over c, u and v
    return Z, (A_pad, K, stride, padding, A.shape)
# --8<-- [end:forward-loop]


# --8<-- [start:patches]
def patches(A_pad: Array, h_ker: int, w_ker: int, stride: int) -> Array:
    """P (m, c_in, h_out, w_out, h_ker, w_ker), every window of A~, no copy: eq. (3)."""
    A_pad = _check_rank(A_pad, 4, "A_pad", "(m, c_in, h_pad, w_pad)")
    _check_sizes(A_pad.shape[2], A_pad.shape[3], h_ker, w_ker, stride, 0)
    view = sliding_window_view(A_pad, (h_ker, w_ker), axis=(2, 3))
    return view[:, :, ::stride, ::stride]   # every s-th window down and across
# --8<-- [end:patches]


# --8<-- [start:forward]
def forward(A: Array, params: dict[str, Array], stride: int = 1,
            padding: int = 0) -> tuple[Array, tuple]:
    """Z (m, c_out, h_out, w_out): one tensordot of the patches with K, eq. (4)."""
    A, K, b = _check_forward(A, params, stride, padding)
    P = patches(pad(A, padding), K.shape[2], K.shape[3], stride)
    Z = np.tensordot(P, K, axes=([1, 4, 5], [1, 2, 3]))   # (m, h_out, w_out, c_out)
    Z = Z.transpose(0, 3, 1, 2) + b[None, :, None, None]   # (m, c_out, h_out, w_out)
    return Z, (P, K, stride, padding, A.shape)
# --8<-- [end:forward]


# --8<-- [start:bias-gradient]
def bias_gradient(dZ: Array) -> Array:
    """dL/db (c_out,): G summed over examples and positions, eq. (5)."""
    dZ = _check_bias_upstream(dZ)
    return dZ.sum(axis=(0, 2, 3))
# --8<-- [end:bias-gradient]


# --8<-- [start:kernel-gradient]
def kernel_gradient(P: Array, dZ: Array) -> Array:
    """dL/dK (c_out, c_in, h_ker, w_ker): G against the patches of A~, eq. (6)."""
    P, dZ = _check_patches(P, dZ)
    return np.tensordot(dZ, P, axes=([0, 2, 3], [0, 2, 3]))   # sum over i, p and q
# --8<-- [end:kernel-gradient]


# --8<-- [start:backward-loop]
def backward_loop(dZ: Array, cache: tuple) -> tuple[Array, dict[str, Array]]:
    """dL/dA, dL/dK and dL/db by eqs. (5), (6) and (7), one output entry at a time."""
    A_pad, K, stride, padding, (m, _, h_in, w_in) = cache
    _, _, h_ker, w_ker = K.shape
    dZ = _check_upstream(dZ, (m, K.shape[0], *output_shape(h_in, w_in, h_ker, w_ker,
                                                           stride, padding)))
    dA_pad, dK, db = np.zeros_like(A_pad), np.zeros_like(K), np.zeros(K.shape[0])
    for i, o, p, q in np.ndindex(dZ.shape):
        r, t = stride * p, stride * q     # the window that made Z[i, o, p, q]
        dA_pad[i, :, r : r + h_ker, t : t + w_ker] += dZ[i, o, p, q] * K[o]   # eq. (7)
        dK[o] += dZ[i, o, p, q] * A_pad[i, :, r : r + h_ker, t : t + w_ker]    # eq. (6)
        db[o] += dZ[i, o, p, q]                                                # eq. (5)
    dA = dA_pad[:, :, padding : padding + h_in, padding : padding + w_in]
    return dA, {"K": dK, "b": db}
# --8<-- [end:backward-loop]


# --8<-- [start:dilate]
def dilate_and_pad(dZ: Array, stride: int, h_ker: int, w_ker: int, h_pad: int,
                   w_pad: int) -> Array:
    """G~ (m, c_out, h_pad + h_ker - 1, w_pad + w_ker - 1): G spread out, eq. (8).

    G~[i, o, (h_ker - 1) + s p, (w_ker - 1) + s q] = G[i, o, p, q]; the rest is 0.
    """
    dZ = _check_dilation(dZ, stride, h_ker, w_ker, h_pad, w_pad)
    m, c_out, h_out, w_out = dZ.shape
    G_tilde = np.zeros((m, c_out, h_pad + h_ker - 1, w_pad + w_ker - 1))
    rows = slice(h_ker - 1, h_ker + stride * (h_out - 1), stride)
    cols = slice(w_ker - 1, w_ker + stride * (w_out - 1), stride)
    G_tilde[:, :, rows, cols] = dZ
    return G_tilde
# --8<-- [end:dilate]


# --8<-- [start:full-convolution]
def padded_input_gradient(dZ: Array, K: Array, stride: int, h_pad: int,
                          w_pad: int) -> Array:
    """dL/dA~ (m, c_in, h_pad, w_pad): G~ against the flipped kernel, eq. (9)."""
    dZ, K = _check_scatter(dZ, K, stride, h_pad, w_pad)
    _, _, h_ker, w_ker = K.shape
    G_tilde = dilate_and_pad(dZ, stride, h_ker, w_ker, h_pad, w_pad)
    GW = sliding_window_view(G_tilde, (h_ker, w_ker), axis=(2, 3))
    K_flip = K[:, :, ::-1, ::-1]         # K[o, c, h_ker + 1 - u, w_ker + 1 - v]
    dA_pad = np.tensordot(GW, K_flip, axes=([1, 4, 5], [0, 2, 3]))   # sum over o, u, v
    return dA_pad.transpose(0, 3, 1, 2)            # (m, c_in, h_pad, w_pad)
# --8<-- [end:full-convolution]


# --8<-- [start:input-gradient]
def input_gradient(dZ: Array, K: Array, stride: int, padding: int, h_in: int,
                   w_in: int) -> Array:
    """dL/dA (m, c_in, h_in, w_in): dL/dA~ without the padded border, eq. (10)."""
    dZ, K, padding = _check_gradient_and_kernel(dZ, K, stride, padding, h_in, w_in)
    h_pad, w_pad = h_in + 2 * padding, w_in + 2 * padding
    dA_pad = padded_input_gradient(dZ, K, stride, h_pad, w_pad)
    return dA_pad[:, :, padding : padding + h_in, padding : padding + w_in]
# --8<-- [end:input-gradient]


# --8<-- [start:backward]
def backward(dZ: Array, cache: tuple) -> tuple[Array, dict[str, Array]]:
    """dL/dA and {"K": dL/dK, "b": dL/db} from G = dL/dZ: eqs. (5), (6), (9), (10)."""
    P, K, stride, padding, (m, _, h_in, w_in) = cache
    dZ = _check_upstream(dZ, (m, K.shape[0], P.shape[2], P.shape[3]))
    dA = input_gradient(dZ, K, stride, padding, h_in, w_in)
    return dA, {"K": kernel_gradient(P, dZ), "b": bias_gradient(dZ)}
# --8<-- [end:backward]


# Input checks: after the shown sections, so that the file reads in the order of its page.

#: Largest magnitude allowed for a bound on any sum the layer computes: below the float64
#: maximum (about 1.8e308) with room for the rounding of the bound itself.
MAX_SUM = 1e306


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


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_stride(stride: int) -> int:
    if not _is_int(stride) or stride < 1:
        raise ValueError(f"the stride must be a positive integer, got {stride!r}")
    return int(stride)


def _check_padding(padding: int) -> int:
    if not _is_int(padding) or padding < 0:
        raise ValueError(f"the padding must be a non-negative integer, got {padding!r}")
    return int(padding)


def _check_sizes(h_in: int, w_in: int, h_ker: int, w_ker: int, stride: int,
                 padding: int) -> None:
    _check_stride(stride)
    _check_padding(padding)
    sizes = (h_in, w_in, h_ker, w_ker)
    if not all(_is_int(n) and n >= 1 for n in sizes):
        raise ValueError(f"h_in, w_in, h_ker and w_ker must be positive integers, got {sizes!r}")
    if h_ker > h_in + 2 * padding or w_ker > w_in + 2 * padding:
        raise ValueError(f"the kernel ({h_ker} x {w_ker}) is larger than the padded input "
                         f"({h_in + 2 * padding} x {w_in + 2 * padding}, padding {padding})")


def _check_no_overflow(bound: float, what: str) -> None:
    if not bound < MAX_SUM:              # also catches an inf or a nan bound
        raise ValueError(f"{what} could overflow float64: a bound on its size is {bound:.3g}; "
                         "rescale the inputs")


def _sum_bound(x: Array, weights: Array, axes: tuple[int, ...]) -> float:
    """max |x| times the largest sum of |weights| over axes: bounds every sum of products."""
    with np.errstate(over="ignore"):
        return float(np.max(np.abs(x)) * np.max(np.sum(np.abs(weights), axis=axes)))


def _check_forward(A: Array, params: dict[str, Array], stride: int,
                   padding: int) -> tuple[Array, Array, Array]:
    A = _check_rank(A, 4, "A", "(m, c_in, h_in, w_in)")
    if not isinstance(params, dict) or set(params) != {"K", "b"}:
        keys = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f'params must be a dict with keys "K" and "b", got {keys}')
    K = _check_rank(params["K"], 4, "K", "(c_out, c_in, h_ker, w_ker)")
    b = _as_finite(params["b"], "b")
    if b.shape != (K.shape[0],):
        raise ValueError(f"b must have shape (c_out,) = ({K.shape[0]},), got {b.shape}")
    if K.shape[1] != A.shape[1]:
        raise ValueError(f"the kernel expects c_in = {K.shape[1]} input channels, "
                         f"but A has {A.shape[1]} (A of shape {A.shape}, K of shape {K.shape})")
    _check_sizes(A.shape[2], A.shape[3], K.shape[2], K.shape[3], stride, padding)
    bound = _sum_bound(A, K, (1, 2, 3)) + float(np.max(np.abs(b)))
    _check_no_overflow(bound, "the output Z")
    return A, K, b


def _check_upstream(dZ: Array, shape: tuple[int, ...]) -> Array:
    dZ = _as_finite(dZ, "dZ")
    if dZ.shape != shape:
        raise ValueError(f"dZ must have the shape of the output Z, {shape}, got {dZ.shape}")
    return dZ


def _check_bias_upstream(dZ: Array) -> Array:
    dZ = _check_rank(dZ, 4, "dZ", "(m, c_out, h_out, w_out)")
    with np.errstate(over="ignore"):
        bound = float(np.max(np.abs(dZ)) * dZ.shape[0] * dZ.shape[2] * dZ.shape[3])
    _check_no_overflow(bound, "the bias gradient")
    return dZ


def _check_patches(P: Array, dZ: Array) -> tuple[Array, Array]:
    P = _check_rank(P, 6, "P", "(m, c_in, h_out, w_out, h_ker, w_ker)")
    dZ = _check_rank(dZ, 4, "dZ", "(m, c_out, h_out, w_out)")
    if (P.shape[0], *P.shape[2:4]) != (dZ.shape[0], *dZ.shape[2:]):
        raise ValueError(f"P (m, c_in, h_out, w_out, h_ker, w_ker) and dZ (m, c_out, h_out, "
                         f"w_out) must agree in m, h_out and w_out, got shapes {P.shape} and "
                         f"{dZ.shape}")
    with np.errstate(over="ignore"):
        bound = float(np.max(np.abs(P)) * np.max(np.sum(np.abs(dZ), axis=(0, 2, 3))))
    _check_no_overflow(bound, "the kernel gradient")
    return P, dZ


def _check_fit(n_out: tuple[int, int], ker: tuple[int, int], stride: int,
               pads: tuple[int, int]) -> None:
    """The n_out positions of a kernel with this stride must fit in the padded input."""
    if any(k + stride * (n - 1) > w for n, k, w in zip(n_out, ker, pads, strict=True)):
        raise ValueError(f"{n_out[0]} x {n_out[1]} positions of a {ker[0]} x {ker[1]} kernel "
                         f"with stride {stride} do not fit in a padded input of "
                         f"{pads[0]} x {pads[1]}")


def _check_gradient_and_kernel(dZ: Array, K: Array, stride: int, padding: int, h_in: int,
                               w_in: int) -> tuple[Array, Array, int]:
    K = _check_rank(K, 4, "K", "(c_out, c_in, h_ker, w_ker)")
    _check_sizes(h_in, w_in, K.shape[2], K.shape[3], stride, padding)
    dZ, K = _check_scatter(dZ, K, stride, h_in + 2 * padding, w_in + 2 * padding)
    return dZ, K, padding


def _check_scatter(dZ: Array, K: Array, stride: int, h_pad: int,
                   w_pad: int) -> tuple[Array, Array]:
    dZ = _check_rank(dZ, 4, "dZ", "(m, c_out, h_out, w_out)")
    K = _check_rank(K, 4, "K", "(c_out, c_in, h_ker, w_ker)")
    _check_sizes(h_pad, w_pad, K.shape[2], K.shape[3], stride, 0)
    if K.shape[0] != dZ.shape[1]:
        raise ValueError(f"dZ has {dZ.shape[1]} channels but K has c_out = {K.shape[0]}")
    _check_fit(dZ.shape[2:], K.shape[2:], stride, (h_pad, w_pad))
    _check_no_overflow(_sum_bound(dZ, K, (0, 2, 3)), "the input gradient")
    return dZ, K


def _check_dilation(dZ: Array, stride: int, h_ker: int, w_ker: int, h_pad: int,
                    w_pad: int) -> Array:
    dZ = _check_rank(dZ, 4, "dZ", "(m, c_out, h_out, w_out)")
    _check_sizes(h_pad, w_pad, h_ker, w_ker, stride, 0)
    _check_fit(dZ.shape[2:], (h_ker, w_ker), stride, (h_pad, w_pad))
    return dZ
