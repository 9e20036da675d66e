"""Embedding and ranking losses: cosine embedding, contrastive and triplet margin loss.

Code for the page docs/losses/embeddings.md; each function names the equation of that page
it computes. Needs NumPy only.

Embeddings come as matrices of shape (m, n), one embedding per row. Each loss returns the
mean over the m rows; each gradient function returns the gradients of that mean with
respect to every embedding argument, as a tuple in argument order.
"""

from __future__ import annotations

import numpy as np


# --8<-- [start:cosine]
def cosine_similarity(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Cosine of the angle between rows u_i and v_i, shape (m,): eq. (1)."""
    u, v = _check_embeddings(u, v)
    norm_u, norm_v = _row_norm(u), _row_norm(v)
    _check_nonzero(norm_u)
    _check_nonzero(norm_v)
    return np.sum((u / norm_u[:, None]) * (v / norm_v[:, None]), axis=1)
# --8<-- [end:cosine]


# --8<-- [start:cosine-grad]
def cosine_similarity_grad(u: np.ndarray,
                           v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Derivatives of c_i with respect to u_i and v_i, each (m, n): eq. (2)."""
    u, v = _check_embeddings(u, v)
    c = cosine_similarity(u, v)[:, None]                  # (m, 1)
    norm_u, norm_v = _row_norm(u)[:, None], _row_norm(v)[:, None]
    u_hat, v_hat = u / norm_u, v / norm_v                 # unit vectors, (m, n)
    return (v_hat - c * u_hat) / norm_u, (u_hat - c * v_hat) / norm_v
# --8<-- [end:cosine-grad]


# --8<-- [start:cosine-embedding]
def cosine_embedding_loss(u: np.ndarray, v: np.ndarray, y: np.ndarray,
                          margin: float = 0.0) -> float:
    """Cosine embedding loss, labels y in {1, -1}, mean over m pairs: eq. (3)."""
    u, v = _check_embeddings(u, v)
    y = _check_labels(y, u.shape[0], (1.0, -1.0))
    _check_margin(margin, -1.0, 1.0)
    c = cosine_similarity(u, v)
    return float(np.mean(np.where(y == 1.0, 1.0 - c, np.maximum(0.0, c - margin))))
# --8<-- [end:cosine-embedding]


# --8<-- [start:cosine-embedding-grad]
def cosine_embedding_grad(u: np.ndarray, v: np.ndarray, y: np.ndarray,
                          margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the mean of eq. (3) with respect to u and v: eq. (4)."""
    u, v = _check_embeddings(u, v)
    y = _check_labels(y, u.shape[0], (1.0, -1.0))
    _check_margin(margin, -1.0, 1.0)
    c = cosine_similarity(u, v)
    dl_dc = np.where(y == 1.0, -1.0, (c - margin > 0.0).astype(float))   # 0 at the kink
    dc_du, dc_dv = cosine_similarity_grad(u, v)
    m = u.shape[0]
    return dl_dc[:, None] * dc_du / m, dl_dc[:, None] * dc_dv / m
# --8<-- [end:cosine-embedding-grad]


# --8<-- [start:distance]
def distance(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Euclidean distance between rows u_i and v_i, shape (m,): eq. (5)."""
    u, v = _check_embeddings(u, v)
    return _row_norm(u - v)


def distance_grad(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Derivatives of d_i with respect to u_i and v_i, 0 where d_i = 0: eq. (5)."""
    u, v = _check_embeddings(u, v)
    unit = _unit(u - v, distance(u, v))                   # (u_i - v_i) / d_i, (m, n)
    return unit, -unit
# --8<-- [end:distance]


# --8<-- [start:contrastive]
def contrastive_loss(u: np.ndarray, v: np.ndarray, y: np.ndarray,
                     margin: float = 1.0) -> float:
    """Contrastive loss, y = 1 for similar and 0 for dissimilar pairs: eq. (6)."""
    u, v = _check_embeddings(u, v)
    y = _check_labels(y, u.shape[0], (0.0, 1.0))
    _check_margin(margin, 0.0, np.inf)
    d = distance(u, v)
    return float(np.mean(y * d**2 + (1.0 - y) * np.maximum(0.0, margin - d) ** 2))
# --8<-- [end:contrastive]


# --8<-- [start:contrastive-grad]
def contrastive_grad(u: np.ndarray, v: np.ndarray, y: np.ndarray,
                     margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the mean of eq. (6) with respect to u and v: eq. (7)."""
    u, v = _check_embeddings(u, v)
    y = _check_labels(y, u.shape[0], (0.0, 1.0))
    _check_margin(margin, 0.0, np.inf)
    d = distance(u, v)
    dl_dd = y * 2.0 * d - (1.0 - y) * 2.0 * np.maximum(0.0, margin - d)   # (m,)
    dd_du, dd_dv = distance_grad(u, v)
    m = u.shape[0]
    return dl_dd[:, None] * dd_du / m, dl_dd[:, None] * dd_dv / m
# --8<-- [end:contrastive-grad]


# --8<-- [start:triplet]
def triplet_margin_loss(u: np.ndarray, v_pos: np.ndarray, v_neg: np.ndarray,
                        margin: float = 1.0) -> float:
    """Triplet margin loss of anchors u, positives and negatives: eq. (8)."""
    u, v_pos, v_neg = _check_embeddings(u, v_pos, v_neg)
    _check_margin(margin, 0.0, np.inf)
    gap = distance(u, v_pos) - distance(u, v_neg) + margin    # (m,)
    return float(np.mean(np.maximum(0.0, gap)))
# --8<-- [end:triplet]


# --8<-- [start:triplet-grad]
def triplet_margin_grad(
    u: np.ndarray, v_pos: np.ndarray, v_neg: np.ndarray, margin: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the mean of eq. (8) for u, v_pos and v_neg: eq. (9)."""
    u, v_pos, v_neg = _check_embeddings(u, v_pos, v_neg)
    _check_margin(margin, 0.0, np.inf)
    gap = distance(u, v_pos) - distance(u, v_neg) + margin
    active = (gap > 0.0).astype(float)[:, None] / u.shape[0]   # 0 at the kink
    e_pos, _ = distance_grad(u, v_pos)        # (u - v_pos) / d_pos, 0 where d_pos = 0
    e_neg, _ = distance_grad(u, v_neg)
    return active * (e_pos - e_neg), -active * e_pos, active * e_neg
# --8<-- [end:triplet-grad]


# Input checks, kept out of the sections the page shows.


def _check_embeddings(*arrays: np.ndarray) -> list[np.ndarray]:
    """Float matrices of one shape (m, n), m, n >= 1, all finite; or ValueError."""
    out = []
    for name, a in zip(("first", "second", "third"), arrays, strict=False):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"the {name} embeddings must be a non-empty (m, n) array, "
                             f"got shape {a.shape}")
        if out and a.shape != out[0].shape:
            raise ValueError(f"the {name} embeddings must have the shape of the first, "
                             f"{out[0].shape}, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"the {name} embeddings must be finite (no inf or nan)")
        out.append(a)
    return out


def _check_labels(y: np.ndarray, m: int, allowed: tuple[float, float]) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (m,):
        raise ValueError(f"y must have shape ({m},), one label per pair, got shape {y.shape}")
    bad = ~np.isin(y, allowed)
    if np.any(bad):
        raise ValueError(f"labels must be in {set(allowed)}, got {y[bad][:5]}")
    return y


def _check_nonzero(norm: np.ndarray) -> None:
    if np.any(norm == 0.0):
        rows = np.flatnonzero(norm == 0.0)[:5]
        raise ValueError(f"the cosine is undefined for a zero vector; rows {rows} have norm 0")


def _check_margin(margin: float, low: float, high: float) -> None:
    """margin a single finite number in [low, high] (high may be inf), or ValueError."""
    if not (np.ndim(margin) == 0 and np.isfinite(margin) and low <= margin <= high):
        where = f"in [{low}, {high}]" if np.isfinite(high) else f">= {low}"
        raise ValueError(f"margin must be a finite number {where}, got {margin!r}")


def _row_norm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, scaled by its largest entry: no overflow, no underflow."""
    s = np.max(np.abs(x), axis=1)                         # (m,)
    safe = np.where(s > 0.0, s, 1.0)
    return s * np.sqrt(np.sum((x / safe[:, None]) ** 2, axis=1))


def _unit(diff: np.ndarray, d: np.ndarray) -> np.ndarray:
    """diff / d row by row, and 0 in rows where d = 0 (the subgradient used)."""
    out = np.zeros_like(diff)
    np.divide(diff, d[:, None], out=out, where=d[:, None] > 0.0)
    return out
