"""RNN, LSTM and GRU, fast: the same recurrences as ``barenet.reference.recurrent``,
with every product that does not wait for the previous step taken out of the loop.

- The input projection of all steps, x W_ihᵀ + b, is one GEMM over (T·N, I) before the
  loop; in backward dW_ih = dAᵀ x, dW_hh = dAᵀ h₍ₜ₋₁₎, db = Σ dA and dx = dA W_ih are
  one GEMM each after it, over the gate gradients dA of every step kept in one buffer.
  Only h W_hhᵀ (forward) and dA W_hh (backward) stay in the loop.
- The loop runs on the calling thread, its products on the BLAS's threads. (Running
  halves of the batch side by side on two threads, each with a one-thread BLAS, was
  measured slower: the many small element-wise calls of a step contend for the
  interpreter lock instead of running in parallel.)
- Gates, states and their gradients live in buffers allocated once per call, and the
  element-wise work runs in place in them.
- σ(a) = 1 / (1 + e⁻ᵃ) and tanh a = 2σ(2a) - 1 cost one exp each (NumPy's float32 exp
  runs about twice as fast as its tanh here). The LSTM's gate rows are reordered to
  (i, f, o, g) and the g rows of its weights doubled (exact in binary), so one σ over a
  step's whole (N, 4H) block gives every gate: g = 2σ(2a_g) - 1. Overflow of e⁻ᵃ to inf
  gives σ = 0, the right limit, and is not an error here.

Shapes, arguments and returns are the reference functions'; the results are theirs up
to rounding (the tests hold them to 1e-12 in float64). y is a new array: the cache
keeps the state buffer that the outputs are read from.
"""

from __future__ import annotations

import numpy as np


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """a ← σ(a) in place. (Not ``np.negative(a, out=a)``: NumPy 2.4.6 gives wrong numbers
    for it on some strided float32 views, a 1-column block for one.)"""
    np.multiply(a, -1, out=a)
    with np.errstate(over="ignore"):
        np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


def _tanh_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out ← tanh a = 1 - 2 / (e²ᵃ + 1), by one exp (e²ᵃ = inf gives 1)."""
    np.multiply(a, 2, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    np.divide(-2, out, out=out)
    out += 1
    return out


def _projection(x: np.ndarray, w_ih: np.ndarray, bias) -> tuple[np.ndarray, np.ndarray]:
    """(x as (T·N, I), x W_ihᵀ + bias as (T, N, G·H)): every step's input term at once."""
    t, n, i = x.shape
    x2 = x.reshape(t * n, i)
    a = x2 @ w_ih.T
    if bias is not None:
        a += bias
    return x2, a.reshape(t, n, w_ih.shape[0])


def _buffer(first, t: int, dtype) -> np.ndarray:
    """(T + 1, N, H) buffer of a state over time, ``first`` (N, H) in row 0."""
    out = np.empty((t + 1, *first.shape), dtype)
    out[0] = first
    return out


def _start(d, n: int, h: int, dtype) -> np.ndarray:
    """The gradient arriving at the final state: ``d`` as a new array, or zeros."""
    return np.zeros((n, h), dtype) if d is None else np.array(d, dtype=dtype)


def _keep_where_missing(new: np.ndarray, old: np.ndarray, m) -> None:
    """new ← old where the step is missing (m False): the state is carried."""
    if m is not None:
        np.copyto(new, old, where=~m)


def _param_grads(da2, x2, hprev2, dgh2=None, order=None):
    """dW_ih = dAᵀ x, dW_hh = dA_hᵀ h₍ₜ₋₁₎ (dA_h = dA but for the GRU), db = Σ dA (and
    Σ dA_h), with the gate rows put back in PyTorch's order when ``order`` is given."""
    dgh2 = da2 if dgh2 is None else dgh2
    grads = [da2.T @ x2, dgh2.T @ hprev2, da2.sum(axis=0), dgh2.sum(axis=0)]
    if order is None:
        return grads
    out = []
    for g in grads:
        back = np.empty_like(g)
        back[order] = g
        out.append(back)
    return out


# ---- Elman RNN ------------------------------------------------------------------------


def rnn_forward(x, state, w_ih, w_hh, b_ih, b_hh, mask=None, nonlinearity="tanh"):
    """hₜ = φ(xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh); returns (y, (h_T,), cache)."""
    t_len, n, _ = x.shape
    h = w_hh.shape[1]
    x2, acts = _projection(x, w_ih, None if b_ih is None else b_ih + b_hh)
    hs = _buffer(state[0], t_len, x.dtype)
    whh_t = np.ascontiguousarray(w_hh.T)

    tmp = np.empty((n, h), x.dtype)
    for t in range(t_len):
        np.matmul(hs[t], whh_t, out=tmp)
        a = acts[t]  # the activations overwrite the pre-activations
        a += tmp
        if nonlinearity == "tanh":
            _tanh_into(a, a)
        else:
            np.maximum(a, 0, out=a)
        hs[t + 1] = a
        _keep_where_missing(hs[t + 1], hs[t], _m(mask, t))

    y = acts * mask[:, :, None] if mask is not None else hs[1:].copy()
    cache = (x2, x.shape, acts, hs, w_ih, w_hh, b_ih is not None, mask, nonlinearity)
    return y, (hs[t_len].copy(),), cache


def _m(mask, t: int):
    """mask[t] as an (N, 1) column, or None."""
    return None if mask is None else mask[t][:, None]


def rnn_backward(dy, dstate, cache, need_dx=True):
    """BPTT as ``reference.recurrent.rnn_backward``, the weight products after the loop."""
    x2, x_shape, acts, hs, w_ih, w_hh, has_bias, mask, nonlinearity = cache
    t_len, n, _ = x_shape
    h = w_hh.shape[1]
    da = np.empty_like(acts)
    dh = _start(dstate[0], n, h, acts.dtype)

    for t in reversed(range(t_len)):
        d, a, m = da[t], acts[t], _m(mask, t)
        np.add(dy[t], dh, out=d)
        if m is not None:
            d *= m
        d *= (1 - a * a) if nonlinearity == "tanh" else a > 0
        carried = d @ w_hh
        _keep_where_missing(carried, dh, m)
        dh = carried

    da2 = da.reshape(t_len * n, h)
    dw_ih, dw_hh, db_ih, db_hh = _param_grads(da2, x2, hs[:-1].reshape(t_len * n, h))
    dx = (da2 @ w_ih).reshape(x_shape) if need_dx else None
    if not has_bias:
        db_ih = db_hh = None
    return dx, (dh,), dw_ih, dw_hh, db_ih, db_hh


# ---- LSTM -----------------------------------------------------------------------------


def _lstm_order(h: int) -> np.ndarray:
    """Rows of PyTorch's (i, f, g, o) blocks in the order (i, f, o, g)."""
    return np.concatenate([np.arange(0, 2 * h), np.arange(3 * h, 4 * h), np.arange(2 * h, 3 * h)])


def lstm_forward(x, state, w_ih, w_hh, b_ih, b_hh, mask=None):
    """As ``reference.recurrent.lstm_forward``; returns (y, (h_T, c_T), cache)."""
    t_len, n, _ = x.shape
    h = w_hh.shape[1]
    order = _lstm_order(h)
    scale = np.ones((4 * h, 1), x.dtype)
    scale[3 * h :] = 2  # σ(2a) of the g rows gives tanh a = 2σ(2a) - 1
    bias = None if b_ih is None else (b_ih + b_hh)[order] * scale[:, 0]
    x2, gates = _projection(x, w_ih[order] * scale, bias)
    whh_t = np.ascontiguousarray((w_hh[order] * scale).T)
    hs, cs = _buffer(state[0], t_len, x.dtype), _buffer(state[1], t_len, x.dtype)
    tcs = np.empty((t_len, n, h), x.dtype)  # tanh of each step's new cell

    tmp = np.empty((n, 4 * h), x.dtype)
    ig = np.empty((n, h), x.dtype)
    for t in range(t_len):
        np.matmul(hs[t], whh_t, out=tmp)
        a = gates[t]
        a += tmp
        _sigmoid_(a)
        i, f, o, g = a[:, :h], a[:, h : 2 * h], a[:, 2 * h : 3 * h], a[:, 3 * h :]
        g *= 2
        g -= 1
        c = cs[t + 1]
        np.multiply(f, cs[t], out=c)
        np.multiply(i, g, out=ig)
        c += ig
        _tanh_into(c, tcs[t])
        np.multiply(o, tcs[t], out=hs[t + 1])
        m = _m(mask, t)
        if m is not None:  # the new state where the step exists, the old one else
            tcs[t] *= m  # and y = o ⊙ tanh c only there, 0 else
            _keep_where_missing(hs[t + 1], hs[t], m)
            _keep_where_missing(c, cs[t], m)

    if mask is None:
        y = hs[1:].copy()
    else:
        y = gates[:, :, 2 * h : 3 * h] * tcs  # o ⊙ tanh c, 0 at missing steps
    final = (hs[t_len].copy(), cs[t_len].copy())
    cache = (x2, x.shape, gates, hs, cs, tcs, w_ih, w_hh, b_ih is not None, mask, order)
    return y, final, cache


def lstm_backward(dy, dstate, cache, need_dx=True):
    """BPTT as ``reference.recurrent.lstm_backward``, the weight products after the loop.
    At a missing step (mask False) the kept tanh c is 0 and the arriving gradients are
    masked to 0, so nothing flows through its gates; the state's gradients pass by."""
    x2, x_shape, gates, hs, cs, tcs, w_ih, w_hh, has_bias, mask, order = cache
    t_len, n, _ = x_shape
    h = w_hh.shape[1]
    dtype = gates.dtype
    whh = w_hh[order]
    da = np.empty_like(gates)
    dh, dc = _start(dstate[0], n, h, dtype), _start(dstate[1], n, h, dtype)

    dh_t, dc_t, tmp = (np.empty((n, h), dtype) for _ in range(3))
    carried = np.empty((n, h), dtype)
    for t in reversed(range(t_len)):
        a, tc, c_prev = gates[t], tcs[t], cs[t]
        i, f, o, g = a[:, :h], a[:, h : 2 * h], a[:, 2 * h : 3 * h], a[:, 3 * h :]
        m = _m(mask, t)
        np.add(dy[t], dh, out=dh_t)
        np.copyto(dc_t, dc)
        if m is not None:
            dh_t *= m
            dc_t *= m
        np.multiply(tc, tc, out=tmp)  # δc += δh ⊙ o ⊙ (1 - tanh² c)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh_t
        dc_t += tmp
        d = da[t]
        di, df, do, dg = d[:, :h], d[:, h : 2 * h], d[:, 2 * h : 3 * h], d[:, 3 * h :]
        np.subtract(1, i, out=di)  # di = δc ⊙ g ⊙ i(1 - i)
        di *= i
        di *= g
        di *= dc_t
        np.subtract(1, f, out=df)  # df = δc ⊙ c₍ₜ₋₁₎ ⊙ f(1 - f)
        df *= f
        df *= c_prev
        df *= dc_t
        np.subtract(1, o, out=do)  # do = δh ⊙ tanh c ⊙ o(1 - o)
        do *= o
        do *= tc
        do *= dh_t
        np.multiply(g, g, out=dg)  # dg = δc ⊙ i ⊙ (1 - g²)
        np.subtract(1, dg, out=dg)
        dg *= i
        dg *= dc_t
        np.matmul(d, whh, out=carried)
        dc_t *= f
        _keep_where_missing(carried, dh, m)
        _keep_where_missing(dc_t, dc, m)
        dh[...], dc[...] = carried, dc_t

    da2 = da.reshape(t_len * n, 4 * h)
    dw_ih, dw_hh, db_ih, db_hh = _param_grads(da2, x2, hs[:-1].reshape(t_len * n, h), order=order)
    dx = (da2 @ w_ih[order]).reshape(x_shape) if need_dx else None
    if not has_bias:
        db_ih = db_hh = None
    return dx, (dh, dc), dw_ih, dw_hh, db_ih, db_hh


# ---- GRU ------------------------------------------------------------------------------


def gru_forward(x, state, w_ih, w_hh, b_ih, b_hh, mask=None):
    """As ``reference.recurrent.gru_forward``; returns (y, (h_T,), cache)."""
    t_len, n, _ = x.shape
    h = w_hh.shape[1]
    x2, gates = _projection(x, w_ih, b_ih)  # each step's block becomes its [r z n]
    whh_t = np.ascontiguousarray(w_hh.T)
    hs = _buffer(state[0], t_len, x.dtype)
    nh = np.empty((t_len, n, h), x.dtype)  # n_h = h W_hnᵀ + b_hn of each step, for dr

    gh = np.empty((n, 3 * h), x.dtype)
    hn = np.empty((n, h), x.dtype)
    for t in range(t_len):
        np.matmul(hs[t], whh_t, out=gh)
        if b_hh is not None:
            gh += b_hh
        a = gates[t]
        rz = a[:, : 2 * h]
        rz += gh[:, : 2 * h]
        _sigmoid_(rz)
        r, z, nn = a[:, :h], a[:, h : 2 * h], a[:, 2 * h :]
        nh[t] = gh[:, 2 * h :]
        np.multiply(r, nh[t], out=hn)
        nn += hn
        _tanh_into(nn, nn)
        np.subtract(hs[t], nn, out=hn)  # hₜ = n + z ⊙ (hₜ₋₁ - n)
        hn *= z
        hn += nn
        hs[t + 1] = hn
        _keep_where_missing(hs[t + 1], hs[t], _m(mask, t))

    y = hs[1:].copy() if mask is None else hs[1:] * mask[:, :, None]
    cache = (x2, x.shape, gates, nh, hs, w_ih, w_hh, b_ih is not None, mask)
    return y, (hs[t_len].copy(),), cache


def gru_backward(dy, dstate, cache, need_dx=True):
    """BPTT as ``reference.recurrent.gru_backward``, the weight products after the loop."""
    x2, x_shape, gates, nh, hs, w_ih, w_hh, has_bias, mask = cache
    t_len, n, _ = x_shape
    h = w_hh.shape[1]
    dtype = gates.dtype
    dgi, dgh = np.empty_like(gates), np.empty_like(gates)
    dh = _start(dstate[0], n, h, dtype)

    dh_t, tmp = np.empty((n, h), dtype), np.empty((n, h), dtype)
    for t in reversed(range(t_len)):
        a = gates[t]
        r, z, nn = a[:, :h], a[:, h : 2 * h], a[:, 2 * h :]
        m = _m(mask, t)
        np.add(dy[t], dh, out=dh_t)
        if m is not None:
            dh_t *= m
        d, e = dgi[t], dgh[t]
        dr, dz, dn = d[:, :h], d[:, h : 2 * h], d[:, 2 * h :]
        np.multiply(nn, nn, out=dn)  # daₙ = δh (1 - z)(1 - n²)
        np.subtract(1, dn, out=dn)
        np.subtract(1, z, out=tmp)
        dn *= tmp
        dn *= dh_t
        np.subtract(1, r, out=dr)  # da_r = daₙ ⊙ n_h ⊙ r(1 - r)
        dr *= r
        dr *= nh[t]
        dr *= dn
        np.subtract(1, z, out=dz)  # da_z = δh ⊙ (hₜ₋₁ - n) ⊙ z(1 - z)
        dz *= z
        np.subtract(hs[t], nn, out=tmp)
        dz *= tmp
        dz *= dh_t
        e[:, : 2 * h] = d[:, : 2 * h]
        np.multiply(dn, r, out=e[:, 2 * h :])
        carried = e @ w_hh
        np.multiply(dh_t, z, out=tmp)
        carried += tmp
        _keep_where_missing(carried, dh, m)
        dh = carried

    dgi2, dgh2 = dgi.reshape(t_len * n, 3 * h), dgh.reshape(t_len * n, 3 * h)
    dw_ih, dw_hh, db_ih, db_hh = _param_grads(dgi2, x2, hs[:-1].reshape(t_len * n, h), dgh2)
    dx = (dgi2 @ w_ih).reshape(x_shape) if need_dx else None
    if not has_bias:
        db_ih = db_hh = None
    return dx, (dh,), dw_ih, dw_hh, db_ih, db_hh
