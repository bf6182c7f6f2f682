"""Recurrent layers: one layer, one direction, the textbook loop over time steps.

Shapes: x (T, N, I), every state (N, H), y (T, N, H). The weights are PyTorch's:
W_ih (G·H, I), W_hh (G·H, H), b_ih and b_hh (G·H,) or None, with the gates stacked in
PyTorch's order (RNN: G = 1; LSTM: i, f, g, o; GRU: r, z, n). ``state`` is a tuple:
(h,) for RNN and GRU, (h, c) for the LSTM.

``mask`` (T, N) of bools, or None for all True, marks the steps that exist: at a step
where mask is False the state is carried unchanged and the output is 0, so a padded
sequence of length L ends in the state of its step L - 1 (PyTorch's packed sequences).

Every forward returns (y, final state, cache); every backward takes dy (T, N, H), the
gradient of the final state (a tuple like ``state``) and the cache, and returns
(dx, d initial state, dW_ih, dW_hh, db_ih, db_hh): backpropagation through time, the
same loop run from the last step to the first with the gradients of the state carried
backwards. dx is None when not ``need_dx``; the bias gradients None without biases.
"""

from __future__ import annotations

from ..core.backend import array_module


def _sigmoid(a):
    """σ(a) = (1 + tanh(a/2)) / 2: the same number as 1 / (1 + e⁻ᵃ), never overflowing."""
    half = a.dtype.type(0.5)
    return (1 + array_module(a).tanh(a * half)) * half


def _pre(x_t, h, w_ih, w_hh, b_ih, b_hh):
    """(x_t W_ihᵀ + b_ih, h W_hhᵀ + b_hh): the two halves of every gate's input."""
    gi, gh = x_t @ w_ih.T, h @ w_hh.T
    if b_ih is not None:
        gi, gh = gi + b_ih, gh + b_hh
    return gi, gh


def _step_mask(mask, t, like):
    """mask[t] as a (N, 1) column of 0/1 in ``like``'s dtype, or None."""
    return None if mask is None else mask[t][:, None].astype(like.dtype)


def _keep(m, new, old):
    """m · new + (1 - m) · old: the new state where the step exists, the old one else."""
    return new if m is None else m * new + (1 - m) * old


def _param_grads(w_ih, w_hh, has_bias):
    xp = array_module(w_ih)
    dw_ih, dw_hh = xp.zeros_like(w_ih), xp.zeros_like(w_hh)
    db = (xp.zeros(w_ih.shape[0], w_ih.dtype), xp.zeros(w_ih.shape[0], w_ih.dtype))
    return dw_ih, dw_hh, db if has_bias else (None, None)


def _zeros_if_none(d, like):
    return array_module(like).zeros_like(like) if d is None else d


# ---- Elman RNN ------------------------------------------------------------------------


def rnn_forward(x, state, w_ih, w_hh, b_ih, b_hh, mask=None, nonlinearity="tanh"):
    """hₜ = φ(aₜ),  aₜ = xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh,  φ = tanh or relu;  yₜ = hₜ."""
    xp = array_module(x)
    (h,) = state
    ys, hs, hprev = [], [], []
    for t in range(x.shape[0]):
        gi, gh = _pre(x[t], h, w_ih, w_hh, b_ih, b_hh)
        a = gi + gh
        h_new = xp.tanh(a) if nonlinearity == "tanh" else xp.maximum(a, a.dtype.type(0))
        m = _step_mask(mask, t, x)
        hprev.append(h)
        hs.append(h_new)
        ys.append(h_new if m is None else m * h_new)
        h = _keep(m, h_new, h)
    cache = (x, hprev, hs, w_ih, w_hh, b_ih is not None, mask, nonlinearity)
    return xp.stack(ys), (h,), cache


def rnn_backward(dy, dstate, cache, need_dx=True):
    """From the last step back, with δhₜ = dyₜ + (the gradient carried from step t + 1):
    daₜ = δhₜ ⊙ φ'(aₜ) (tanh: 1 - hₜ²; relu: [hₜ > 0]),
    dxₜ = daₜ W_ih,  δhₜ₋₁ = daₜ W_hh,  dW_ih += daₜᵀ xₜ,  dW_hh += daₜᵀ hₜ₋₁,  db += Σₙ daₜ.
    """
    x, hprev, hs, w_ih, w_hh, has_bias, mask, nonlinearity = cache
    xp = array_module(x)
    dw_ih, dw_hh, (db_ih, db_hh) = _param_grads(w_ih, w_hh, has_bias)
    dh = _zeros_if_none(dstate[0], hs[0])
    dx = xp.zeros_like(x) if need_dx else None
    for t in reversed(range(x.shape[0])):
        m = _step_mask(mask, t, x)
        dh_new = dy[t] + dh if m is None else m * (dy[t] + dh)  # what reaches this step's h
        h = hs[t]
        da = dh_new * (1 - h * h) if nonlinearity == "tanh" else dh_new * (h > 0)
        if need_dx:
            dx[t] = da @ w_ih
        dw_ih += da.T @ x[t]
        dw_hh += da.T @ hprev[t]
        if has_bias:
            db_ih += da.sum(axis=0)
            db_hh += da.sum(axis=0)
        dh = da @ w_hh if m is None else da @ w_hh + (1 - m) * dh
    return dx, (dh,), dw_ih, dw_hh, db_ih, db_hh


# ---- LSTM -----------------------------------------------------------------------------


def lstm_forward(x, state, w_ih, w_hh, b_ih, b_hh, mask=None):
    """[i f g o] = [σ σ tanh σ](xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh),
    cₜ = f ⊙ cₜ₋₁ + i ⊙ g,   hₜ = o ⊙ tanh cₜ,   yₜ = hₜ."""
    xp = array_module(x)
    h, c = state
    H = h.shape[1]
    ys, steps = [], []
    for t in range(x.shape[0]):
        gi, gh = _pre(x[t], h, w_ih, w_hh, b_ih, b_hh)
        a = gi + gh
        i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H])
        g, o = xp.tanh(a[:, 2 * H : 3 * H]), _sigmoid(a[:, 3 * H :])
        c_new = f * c + i * g
        tc = xp.tanh(c_new)
        h_new = o * tc
        m = _step_mask(mask, t, x)
        steps.append((h, c, i, f, g, o, tc))
        ys.append(h_new if m is None else m * h_new)
        h, c = _keep(m, h_new, h), _keep(m, c_new, c)
    cache = (x, steps, w_ih, w_hh, b_ih is not None, mask)
    return xp.stack(ys), (h, c), cache


def lstm_backward(dy, dstate, cache, need_dx=True):
    """From the last step back, with δh, δc the gradients carried from step t + 1:
    δhₜ = dyₜ + δh,   δcₜ = δc + δhₜ ⊙ o ⊙ (1 - tanh² cₜ),
    di = δcₜ ⊙ g,  df = δcₜ ⊙ cₜ₋₁,  dg = δcₜ ⊙ i,  do = δhₜ ⊙ tanh cₜ,
    da = [di·i(1-i), df·f(1-f), dg·(1-g²), do·o(1-o)],
    dxₜ = da W_ih,  δh ← da W_hh,  δc ← δcₜ ⊙ f,  dW_ih += daᵀ xₜ,  dW_hh += daᵀ hₜ₋₁.
    """
    x, steps, w_ih, w_hh, has_bias, mask = cache
    xp = array_module(x)
    dw_ih, dw_hh, (db_ih, db_hh) = _param_grads(w_ih, w_hh, has_bias)
    dh = _zeros_if_none(dstate[0], steps[0][0])
    dc = _zeros_if_none(dstate[1], steps[0][1])
    dx = xp.zeros_like(x) if need_dx else None
    for t in reversed(range(x.shape[0])):
        h_prev, c_prev, i, f, g, o, tc = steps[t]
        m = _step_mask(mask, t, x)
        dh_t = dy[t] + dh if m is None else m * (dy[t] + dh)
        dc_t = (dc if m is None else m * dc) + dh_t * o * (1 - tc * tc)
        da = xp.concatenate(
            [
                dc_t * g * i * (1 - i),
                dc_t * c_prev * f * (1 - f),
                dc_t * i * (1 - g * g),
                dh_t * tc * o * (1 - o),
            ],
            axis=1,
        )
        if need_dx:
            dx[t] = da @ w_ih
        dw_ih += da.T @ x[t]
        dw_hh += da.T @ h_prev
        if has_bias:
            db_ih += da.sum(axis=0)
            db_hh += da.sum(axis=0)
        dh_prev, dc_prev = da @ w_hh, dc_t * f
        if m is not None:  # a missing step passes the carried gradients through
            dh_prev, dc_prev = dh_prev + (1 - m) * dh, dc_prev + (1 - m) * dc
        dh, dc = dh_prev, dc_prev
    return dx, (dh, dc), dw_ih, dw_hh, db_ih, db_hh


# ---- GRU ------------------------------------------------------------------------------


def gru_forward(x, state, w_ih, w_hh, b_ih, b_hh, mask=None):
    """[rᵢ zᵢ nᵢ] = xₜ W_ihᵀ + b_ih,  [r_h z_h n_h] = hₜ₋₁ W_hhᵀ + b_hh,
    r = σ(rᵢ + r_h),  z = σ(zᵢ + z_h),  n = tanh(nᵢ + r ⊙ n_h),
    hₜ = (1 - z) ⊙ n + z ⊙ hₜ₋₁,   yₜ = hₜ."""
    xp = array_module(x)
    (h,) = state
    H = h.shape[1]
    ys, steps = [], []
    for t in range(x.shape[0]):
        gi, gh = _pre(x[t], h, w_ih, w_hh, b_ih, b_hh)
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n_h = gh[:, 2 * H :]
        n = xp.tanh(gi[:, 2 * H :] + r * n_h)
        h_new = (1 - z) * n + z * h
        m = _step_mask(mask, t, x)
        steps.append((h, r, z, n, n_h))
        ys.append(h_new if m is None else m * h_new)
        h = _keep(m, h_new, h)
    cache = (x, steps, w_ih, w_hh, b_ih is not None, mask)
    return xp.stack(ys), (h,), cache


def gru_backward(dy, dstate, cache, need_dx=True):
    """From the last step back, with δhₜ = dyₜ + (the gradient carried from step t + 1):
    dn = δhₜ (1 - z),  dz = δhₜ (hₜ₋₁ - n),  daₙ = dn (1 - n²),  dr = daₙ ⊙ n_h,
    dgᵢ = [dr·r(1-r), dz·z(1-z), daₙ],   dg_h = [dr·r(1-r), dz·z(1-z), daₙ ⊙ r],
    dxₜ = dgᵢ W_ih,  δh ← dg_h W_hh + δhₜ ⊙ z,  dW_ih += dgᵢᵀ xₜ,  dW_hh += dg_hᵀ hₜ₋₁.
    """
    x, steps, w_ih, w_hh, has_bias, mask = cache
    xp = array_module(x)
    dw_ih, dw_hh, (db_ih, db_hh) = _param_grads(w_ih, w_hh, has_bias)
    dh = _zeros_if_none(dstate[0], steps[0][0])
    dx = xp.zeros_like(x) if need_dx else None
    for t in reversed(range(x.shape[0])):
        h_prev, r, z, n, n_h = steps[t]
        m = _step_mask(mask, t, x)
        dh_t = dy[t] + dh if m is None else m * (dy[t] + dh)
        da_n = dh_t * (1 - z) * (1 - n * n)
        da_r = da_n * n_h * r * (1 - r)
        da_z = dh_t * (h_prev - n) * z * (1 - z)
        dgi = xp.concatenate([da_r, da_z, da_n], axis=1)
        dgh = xp.concatenate([da_r, da_z, da_n * r], axis=1)
        if need_dx:
            dx[t] = dgi @ w_ih
        dw_ih += dgi.T @ x[t]
        dw_hh += dgh.T @ h_prev
        if has_bias:
            db_ih += dgi.sum(axis=0)
            db_hh += dgh.sum(axis=0)
        dh_prev = dgh @ w_hh + dh_t * z
        dh = dh_prev if m is None else dh_prev + (1 - m) * dh
    return dx, (dh,), dw_ih, dw_hh, db_ih, db_hh
