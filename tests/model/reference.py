"""An independent float64 implementation of paper Eqs. 2-4 for one temporal attention layer,
written from the equations (numpy, no code shared with server.trackgo)."""
from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def pool_mean(features: np.ndarray, factor: int) -> np.ndarray:
    """(B, L, C, H, W) -> mean over factor x factor blocks (sizes divisible by factor)."""
    if factor == 1:
        return features
    b, l, c, h, w = features.shape
    return features.reshape(b, l, c, h // factor, factor, w // factor, factor).mean(axis=(4, 6))


def reference_layer(attn, layer, hidden, features, heads, level=0, alpha=0.2, gate=1.0):
    """Returns (output, A' per row/head, unspecified mask, A V, A' V); ``gate`` scales A in rows
    where every A' entry is below alpha (our tau definition)."""
    w = lambda m: m.weight.detach().double().numpy()
    b = lambda m: m.bias.detach().double().numpy()
    x = hidden.detach().double().numpy()                     # (rows, L, C)
    f = pool_mean(features.detach().double().numpy(), 2 ** level)
    bf, frames, cf, hh, ww = f.shape
    f = f.transpose(0, 3, 4, 1, 2).reshape(bf * hh * ww, frames, cf)
    rows, _, channels = x.shape
    repeats = rows // f.shape[0]
    f = np.concatenate([f] * repeats, axis=0)
    d = channels // heads

    def heads_of(t):                                        # (rows, L, C) -> (rows, heads, L, d)
        return t.reshape(rows, frames, heads, d).transpose(0, 2, 1, 3)

    aligned = f @ w(layer.align).T + b(layer.align)
    qp, kp = heads_of(aligned @ w(layer.to_q).T), heads_of(aligned @ w(layer.to_k).T)
    a_prime = softmax(qp @ kp.transpose(0, 1, 3, 2) / np.sqrt(d))                # Eq. 2
    a_mask = np.where(a_prime >= alpha, -1e4, 0.0)                               # Eq. 3
    q, k, v = (heads_of(x @ w(m).T) for m in (attn.to_q, attn.to_k, attn.to_v))
    a = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + a_mask)               # Eq. 4
    unspecified = a_prime.max(axis=-1, keepdims=True) < alpha
    a = np.where(unspecified, gate * a, a)
    av, apv = a @ v, a_prime @ v
    o = (av + apv).transpose(0, 2, 1, 3).reshape(rows, frames, channels)         # (A + A') V
    out = o @ w(attn.to_out[0]).T + b(attn.to_out[0])
    return out, a_prime, unspecified, av, apv
