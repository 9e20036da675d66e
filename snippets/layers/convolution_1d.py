"""1-D convolution (cross-correlation) as a layer: forward and backward passes.

Code for the page docs/layers/convolution-1d.md. Layout, examples first: an input A of
shape (m, c_in, w_in), a kernel K of shape (c_out, c_in, w_ker), a bias b of shape
(c_out,) and an output Z of shape (m, c_out, w_out). Indices are 0-based here and
1-based on the page. Needs NumPy only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Array = np.ndarray


# --8<-- [start:correlate]
def correlate1d(a: Array, K: Array) -> Array:
    """One channel, stride 1, no padding: z_p = sum_u K_u a_(p+u-1), eq. (1)."""
    a, K = _check_signal(a, K)
    w_out = a.size - K.size + 1
    z = np.zeros(w_out)
    for p in range(w_out):               # slide the kernel along the signal
        z[p] = np.sum(K * a[p : p + K.size])   # the window under the kernel, times it
    return z
# --8<-- [end:correlate]


# --8<-- [start:convolve]
def convolve1d(a: Array, K: Array) -> Array:
    """The convolution of signal processing: correlation with K reversed, eq. (2)."""
    a, K = _check_signal(a, K)
    return correlate1d(a, K[::-1])       # K[::-1] is the flipped kernel
# --8<-- [end:convolve]


# --8<-- [start:stride-padding]
def pad(x: Array, padding: int) -> Array:
    """Zero padding of the last axis, padding zeros at each end: eq. (3)."""
    padding = _check_padding(padding)
    x = np.asarray(x, dtype=np.float64)
    widths = [(0, 0)] * (x.ndim - 1) + [(padding, padding)]
    return np.pad(x, widths)             # zeros, the padded input A~


def correlate1d_strided(a: Array, K: Array, stride: int = 1, padding: int = 0) -> Array:
    """One channel with stride s and zero padding: eq. (3)."""
    a, K = _check_signal(a, K, stride, padding)
    a_pad = pad(a, padding)
    w_out = output_size(a.size, K.size, stride, padding)
    z = np.zeros(w_out)
    for p in range(w_out):
        start = stride * p               # s (p - 1) + 1 on the page, 1-based
        z[p] = np.sum(K * a_pad[start : start + K.size])
    return z
# --8<-- [end:stride-padding]


# --8<-- [start:output-size]
def output_size(w_in: int, w_ker: int, stride: int = 1, padding: int = 0) -> int:
    """Number of kernel positions along an axis: eq. (4)."""
    _check_sizes(w_in, w_ker, stride, padding)
    return (w_in + 2 * padding - w_ker) // stride + 1   # // rounds down: the floor
# --8<-- [end:output-size]


# --8<-- [start:forward]
def windows(A_pad: Array, w_ker: int, stride: int) -> Array:
    """Every window the kernel sees, entry [i, c, p, u] = A~[i, c, s p + u]: eq. (5)."""
    view = sliding_window_view(A_pad, w_ker, axis=2)   # every start, stride 1
    return view[:, :, ::stride]          # every s-th start: (m, c_in, w_out, w_ker)


def forward(A: Array, params: dict[str, Array], stride: int = 1,
            padding: int = 0) -> tuple[Array, tuple]:
    """Z (m, c_out, w_out) of A (m, c_in, w_in) and params {"K", "b"}: eq. (5)."""
    A, K, b = _check_forward(A, params, stride, padding)
    A_pad = pad(A, padding)                          # (m, c_in, w_in + 2 padding)
    P = windows(A_pad, K.shape[2], stride)           # (m, c_in, w_out, w_ker)
    Z = np.einsum("icpu,ocu->iop", P, K) + b[None, :, None]   # sum over c and u
    cache = (P, K, stride, padding, A.shape)
    return Z, cache
# --8<-- [end:forward]


# --8<-- [start:bias-gradient]
def bias_gradient(dZ: Array) -> Array:
    """dL/db (c_out,): G summed over examples and positions, eq. (6)."""
    dZ = _check_bias_upstream(dZ)
    return dZ.sum(axis=(0, 2))
# --8<-- [end:bias-gradient]


# --8<-- [start:kernel-gradient]
def kernel_gradient(P: Array, dZ: Array) -> Array:
    """dL/dK (c_out, c_in, w_ker) from the windows P of A~ and G: eq. (7)."""
    P, dZ = _check_windows(P, dZ)
    return np.einsum("iop,icpu->ocu", dZ, P)   # sum over i and p of G times A~
# --8<-- [end:kernel-gradient]


# --8<-- [start:input-gradient-scatter]
def padded_input_gradient_scatter(dZ: Array, K: Array, stride: int,
                                   w_pad: int) -> Array:
    """dL/dA~ (m, c_in, w_pad), tap by tap: the sum with [s(p-1) + u = r] of eq. (8)."""
    dZ, K = _check_scatter(dZ, K, stride, w_pad)
    m, c_out, w_out = dZ.shape
    dA_pad = np.zeros((m, K.shape[1], w_pad))
    for u in range(K.shape[2]):          # tap u touches the positions s p + u, all p
        hit = slice(u, u + stride * (w_out - 1) + 1, stride)
        dA_pad[:, :, hit] += np.einsum("iop,oc->icp", dZ, K[:, :, u])
    return dA_pad
# --8<-- [end:input-gradient-scatter]


# --8<-- [start:dilate]
def dilate_and_pad(dZ: Array, stride: int, w_ker: int, w_pad: int) -> Array:
    """G~ (m, c_out, w_pad + w_ker - 1): s - 1 zeros between entries, w_ker - 1 before.

    G~[i, o, (w_ker - 1) + s p] = G[i, o, p] and every other entry is 0: eq. (9).
    """
    dZ = _check_dilation(dZ, stride, w_ker, w_pad)
    m, c_out, w_out = dZ.shape
    G_tilde = np.zeros((m, c_out, w_pad + w_ker - 1))
    G_tilde[:, :, w_ker - 1 : w_ker + stride * (w_out - 1) : stride] = dZ
    return G_tilde
# --8<-- [end:dilate]


# --8<-- [start:full-convolution]
def padded_input_gradient(dZ: Array, K: Array, stride: int, w_pad: int) -> Array:
    """dL/dA~ (m, c_in, w_pad): G~ correlated with the flipped kernel, eq. (10)."""
    dZ, K = _check_scatter(dZ, K, stride, w_pad)
    w_ker = K.shape[2]
    G_tilde = dilate_and_pad(dZ, stride, w_ker, w_pad)
    GW = sliding_window_view(G_tilde, w_ker, axis=2)  # (m, c_out, w_pad, w_ker)
    K_flip = K[:, :, ::-1]                             # K[o, c, w_ker + 1 - u], 1-based
    return np.einsum("ioru,ocu->icr", GW, K_flip)      # sum over o and the taps u
# --8<-- [end:full-convolution]


# --8<-- [start:input-gradient]
def input_gradient(dZ: Array, K: Array, stride: int, padding: int, w_in: int) -> Array:
    """dL/dA (m, c_in, w_in): dL/dA~ without the padded positions, eq. (11)."""
    dZ, K = _check_gradient_and_kernel(dZ, K, stride, padding, w_in)
    dA_pad = padded_input_gradient(dZ, K, stride, w_in + 2 * padding)
    return dA_pad[:, :, padding : padding + w_in]      # the padded zeros are no inputs
# --8<-- [end:input-gradient]


# --8<-- [start:backward]
def backward(dZ: Array, cache: tuple) -> tuple[Array, dict[str, Array]]:
    """dL/dA and {"K": dL/dK, "b": dL/db} from G = dL/dZ: eqs. (6), (7), (10), (11)."""
    P, K, stride, padding, A_shape = cache
    dZ = _check_upstream(dZ, (A_shape[0], K.shape[0], P.shape[2]))
    dA = input_gradient(dZ, K, stride, padding, A_shape[2])
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


def _check_sizes(w_in: int, w_ker: int, stride: int, padding: int) -> None:
    _check_stride(stride)
    _check_padding(padding)
    if not (_is_int(w_in) and _is_int(w_ker) and w_in >= 1 and w_ker >= 1):
        raise ValueError(f"w_in and w_ker must be positive integers, got {w_in!r} and {w_ker!r}")
    if w_ker > w_in + 2 * padding:
        raise ValueError(f"the kernel (width {w_ker}) is larger than the padded input "
                         f"(width {w_in} + 2 * {padding} = {w_in + 2 * padding})")


def _check_no_overflow(bound: float, what: str) -> None:
    if not bound < MAX_SUM:              # also catches an inf or a nan bound
        raise ValueError(f"{what} could overflow float64: a bound on its size is {bound:.3g}; "
                         "rescale the inputs")


def _sum_bound(x: Array, weights: Array, axes: tuple[int, ...]) -> float:
    """max |x| times the largest sum of |weights| over axes: bounds every sum of products."""
    with np.errstate(over="ignore"):
        return float(np.max(np.abs(x)) * np.max(np.sum(np.abs(weights), axis=axes)))


def _check_signal(a: Array, K: Array, stride: int = 1, padding: int = 0) -> tuple[Array, Array]:
    a = _check_rank(a, 1, "a", "(w_in,)")
    K = _check_rank(K, 1, "K", "(w_ker,)")
    _check_sizes(a.size, K.size, stride, padding)
    _check_no_overflow(_sum_bound(a, K, (0,)), "the correlation")
    return a, K


def _check_forward(A: Array, params: dict[str, Array], stride: int,
                   padding: int) -> tuple[Array, Array, Array]:
    A = _check_rank(A, 3, "A", "(m, c_in, w_in)")
    if not isinstance(params, dict) or set(params) != {"K", "b"}:
        keys = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f'params must be a dict with keys "K" and "b", got {keys}')
    K = _check_rank(params["K"], 3, "K", "(c_out, c_in, w_ker)")
    b = _as_finite(params["b"], "b")
    if b.shape != (K.shape[0],):
        raise ValueError(f"b must have shape (c_out,) = ({K.shape[0]},), got {b.shape}")
    if K.shape[1] != A.shape[1]:
        raise ValueError(f"the kernel expects c_in = {K.shape[1]} input channels, "
                         f"but A has {A.shape[1]} (A of shape {A.shape}, K of shape {K.shape})")
    _check_sizes(A.shape[2], K.shape[2], stride, padding)
    bound = _sum_bound(A, K, (1, 2)) + float(np.max(np.abs(b)))
    _check_no_overflow(bound, "the output Z")
    return A, K, b


def _check_upstream(dZ: Array, shape: tuple[int, ...]) -> Array:
    dZ = _as_finite(dZ, "dZ")
    if dZ.shape != shape:
        raise ValueError(f"dZ must have the shape of the output Z, {shape}, got {dZ.shape}")
    return dZ


def _check_bias_upstream(dZ: Array) -> Array:
    dZ = _check_rank(dZ, 3, "dZ", "(m, c_out, w_out)")
    with np.errstate(over="ignore"):
        bound = float(np.max(np.abs(dZ)) * dZ.shape[0] * dZ.shape[2])
    _check_no_overflow(bound, "the bias gradient")
    return dZ


def _check_windows(P: Array, dZ: Array) -> tuple[Array, Array]:
    P = _check_rank(P, 4, "P", "(m, c_in, w_out, w_ker)")
    dZ = _check_rank(dZ, 3, "dZ", "(m, c_out, w_out)")
    if P.shape[0] != dZ.shape[0] or P.shape[2] != dZ.shape[2]:
        raise ValueError(f"P (m, c_in, w_out, w_ker) and dZ (m, c_out, w_out) must agree in "
                         f"m and w_out, got shapes {P.shape} and {dZ.shape}")
    with np.errstate(over="ignore"):
        bound = float(np.max(np.abs(P)) * np.max(np.sum(np.abs(dZ), axis=(0, 2))))
    _check_no_overflow(bound, "the kernel gradient")
    return P, dZ


def _check_gradient_and_kernel(dZ: Array, K: Array, stride: int, padding: int,
                               w_in: int) -> tuple[Array, Array]:
    w_pad = w_in + 2 * _check_padding(padding) if _is_int(w_in) else w_in
    return _check_scatter(dZ, K, stride, w_pad)


def _check_scatter(dZ: Array, K: Array, stride: int, w_pad: int) -> tuple[Array, Array]:
    dZ = _check_rank(dZ, 3, "dZ", "(m, c_out, w_out)")
    K = _check_rank(K, 3, "K", "(c_out, c_in, w_ker)")
    stride = _check_stride(stride)
    if K.shape[0] != dZ.shape[1]:
        raise ValueError(f"dZ has {dZ.shape[1]} channels but K has c_out = {K.shape[0]}")
    if not _is_int(w_pad) or K.shape[2] + stride * (dZ.shape[2] - 1) > w_pad:
        raise ValueError(f"w_out = {dZ.shape[2]} positions of a kernel of width {K.shape[2]} "
                         f"with stride {stride} do not fit in a padded input of width {w_pad!r}")
    _check_no_overflow(_sum_bound(dZ, K, (0, 2)), "the input gradient")
    return dZ, K


def _check_dilation(dZ: Array, stride: int, w_ker: int, w_pad: int) -> Array:
    dZ = _check_rank(dZ, 3, "dZ", "(m, c_out, w_out)")
    _check_sizes(w_pad, w_ker, stride, 0)
    if w_ker + _check_stride(stride) * (dZ.shape[2] - 1) > w_pad:
        raise ValueError(f"w_out = {dZ.shape[2]} positions of a kernel of width {w_ker} "
                         f"with stride {stride} do not fit in a padded input of width {w_pad}")
    return dZ
