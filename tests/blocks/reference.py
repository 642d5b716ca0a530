"""Independent dense float64 references of the blocks, written from the papers with numpy (no snl_plugins.ops code).

Everything here is position-major, as in the papers: X is N x C (one sample), W_* are C_in x C_out matrices, and
the affinity A is an explicit N x M matrix. The helpers at the bottom copy a block's weights out as such matrices
and give its norm layer non-trivial statistics so that the comparisons see the whole block.
"""
import math

import numpy as np
import torch


# ----------------------------------------------------------------------------------------------------------- basics
def relu(a):
    return np.maximum(a, 0.0)


def softmax_rows(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def normalize(a, how):
    """'sym' D^-1/2 A D^-1/2, 'row' D^-1 A, 'count' A / M, 'none'; rows / columns of zero (or negative) degree
    are left 0, as in the authors' code (d_i^-1/2 only where d_i != 0)."""
    a = np.array(a, dtype=np.float64)
    if how == 'none':
        return a
    if how == 'count':
        return a / a.shape[1]
    d = a.sum(axis=1)
    out = np.zeros_like(a)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if how == 'row':
                if d[i] > 0:
                    out[i, j] = a[i, j] / d[i]
            elif how == 'sym':
                if d[i] > 0 and d[j] > 0:
                    out[i, j] = a[i, j] / math.sqrt(d[i] * d[j])
            else:
                raise ValueError(how)
    return out


def maxpool(t, spatial, dim):
    """NL's sub-sampling of a position-major M x C map over space: 2 (1D), 2 x 2 (2D), 1 x 2 x 2 (3D)."""
    c = t.shape[1]
    g = t.T.reshape(c, *spatial)
    if dim == 1:
        (l,) = spatial
        g = g[:, :l // 2 * 2].reshape(c, l // 2, 2).max(axis=2)
    elif dim == 2:
        h, w = spatial
        g = g[:, :h // 2 * 2, :w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    else:
        tt, h, w = spatial
        g = g[:, :, :h // 2 * 2, :w // 2 * 2].reshape(c, tt, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    return g.reshape(c, -1).T


def dot_affinity(x, w_phi, w_psi, *, symmetric=True, normalize_as='sym', embed_relu=True, scale=None):
    """Sec. 3.1: A = f(X W_phi) f(X W_psi)^T (f = ReLU), (A + A^T) / 2, then the normalisation."""
    p, q = x @ w_phi, x @ w_psi
    if embed_relu:
        p, q = relu(p), relu(q)
    a = p @ q.T
    if symmetric:
        a = 0.5 * (a + a.T)
    if scale is not None:
        a = a * scale
    return normalize(a, normalize_as)


def softmax_affinity(query, key, *, scale=1.0, symmetric=False, normalize_as='none'):
    a = softmax_rows(query @ key.T * scale)
    if symmetric:
        a = 0.5 * (a + a.T)
    return normalize(a, normalize_as)


def batch_norm(v, stats):
    """v: B x N x C; stats: ('eval', mean, var, weight, bias, eps) or ('train', weight, bias, eps)."""
    if stats[0] == 'eval':
        _, mean, var, weight, bias, eps = stats
    else:
        _, weight, bias, eps = stats
        mean = v.mean(axis=(0, 1))
        var = v.var(axis=(0, 1))  # biased, as BatchNorm normalises with
    return (v - mean) / np.sqrt(var + eps) * weight + bias


def group_norm(v, groups, weight, bias, eps):
    """v: B x N x C; statistics per sample over (C / groups channels, N positions)."""
    b, n, c = v.shape
    out = np.empty_like(v)
    per = c // groups
    for s in range(b):
        for k in range(groups):
            block = v[s, :, k * per:(k + 1) * per]
            out[s, :, k * per:(k + 1) * per] = (block - block.mean()) / np.sqrt(block.var() + eps)
    return out * weight + bias


# ------------------------------------------------------------------------------------------------------ the blocks
def snl(x, w, affinity_fn, order=1, relu_out=False):
    """Eq. 9 / 11 on a batch (B x N x C1): Y = X + BN(Z W1 + A Z W2 [+ (2A - I) Z W3]).

    ``affinity_fn(x_b)`` gives the explicit N x N A of one sample; ``w`` holds W_g, W1, W2 (W3) and 'norm'.
    """
    branch = []
    for xb in x:
        a = affinity_fn(xb)
        z = xb @ w['g']
        v = z @ w['w1'] + a @ z @ w['w2']
        if order == 2:
            t2 = 2 * a - np.eye(a.shape[0])
            v = v + t2 @ z @ w['w3']
        branch.append(v)
    out = batch_norm(np.stack(branch), w['norm'])
    if relu_out:
        out = relu(out)
    return x + out


def nl(x, w, affinity_fn, *, spatial=None, dim=None, sub_sample=False):
    """Wang et al.: Y = X + BN(A Z W) with Z = X W_g (max-pooled over space when sub-sampling)."""
    branch = []
    for xb in x:
        a = affinity_fn(xb)
        z = xb @ w['g']
        if sub_sample:
            z = maxpool(z, spatial, dim)
        branch.append(a @ z @ w['w'])
    return x + batch_norm(np.stack(branch), w['norm'])


def ns(x, w, affinity_fn):
    """Tao et al.: Y = X + BN((A - D_A) Z W), D_A = diag(A 1)."""
    branch = []
    for xb in x:
        a = affinity_fn(xb)
        z = xb @ w['g']
        branch.append((a - np.diag(a.sum(axis=1))) @ z @ w['w'])
    return x + batch_norm(np.stack(branch), w['norm'])


def a2(x, w):
    """Chen et al. 2018: A = phi(X) (m x N), B = softmax over positions of theta(X) (n x N), V = softmax over the n
    descriptors of rho(X); G = A B^T (gathering), Z = G V (distribution); Y = X + BN(W Z)."""
    branch = []
    for xb in x:
        feats = (xb @ w['phi']).T  # m x N
        maps = (xb @ w['theta']).T  # n x N
        vecs = (xb @ w['rho']).T  # n x N
        b_bar = np.stack([softmax_rows(row[None])[0] for row in maps])  # each map sums to 1 over positions
        v_bar = np.stack([softmax_rows(col[None])[0] for col in vecs.T], axis=1)  # each position sums to 1
        gathered = feats @ b_bar.T  # m x n
        z = gathered @ v_bar  # m x N
        branch.append(z.T @ w['w'])
    return x + batch_norm(np.stack(branch), w['norm'])


def cgnl_kernel(kernel, gamma=None):
    """Yue et al.'s kernel of theta_a . phi_b, in closed form: the dot product itself, or the Gaussian
    exp(-gamma |theta_a - phi_b|^2) of unit-norm features, exp(-2 gamma) exp(2 gamma theta_a phi_b), which the block
    expands in a Taylor series (equal up to the series' truncation)."""
    if kernel == 'dot':
        return lambda t: t
    return lambda t: np.exp(-2 * gamma) * np.exp(2 * gamma * t)


def cgnl(x, w, *, groups, kernel_fn, use_scale=False):
    """Yue et al. 2018: per channel group, vec(Y) = K vec(g) with the explicit (N Cs/G)^2 kernel
    K_ab = kernel_fn(theta_a phi_b); then a grouped 1x1 W, GroupNorm(groups) and the residual."""
    cs = w['theta'].shape[1]
    c1 = x.shape[2]
    per, per_out = cs // groups, c1 // groups
    branch = []
    for xb in x:
        theta, phi, g = xb @ w['theta'], xb @ w['phi'], xb @ w['g']  # N x Cs
        y = np.zeros_like(theta)
        for k in range(groups):
            sl = slice(k * per, (k + 1) * per)
            # channel-major flattening (channel, position), as the block's B x Cs x N layout gives
            t, f, gv = theta[:, sl].T.reshape(-1), phi[:, sl].T.reshape(-1), g[:, sl].T.reshape(-1)
            kern = kernel_fn(np.outer(t, f))
            if use_scale:
                kern = kern / math.sqrt(len(gv))
            y[:, sl] = (kern @ gv).reshape(per, -1).T
        out = np.zeros((xb.shape[0], c1))
        for k in range(groups):  # grouped 1x1 convolution
            out[:, k * per_out:(k + 1) * per_out] = y[:, k * per:(k + 1) * per] @ w['w'][k]
        branch.append(out)
    gn = w['norm']
    return x + group_norm(np.stack(branch), groups, gn['weight'], gn['bias'], gn['eps'])


# ---------------------------------------------------------------------------------------------- block <-> numpy
def mat(conv):
    """A 1x1 convolution's weight as the position-major C_in x C_out matrix."""
    return conv.weight.detach().flatten(1).double().numpy().T


def grouped_mats(conv, groups):
    """A grouped 1x1 convolution as one (C_in / G) x (C_out / G) matrix per group."""
    wt = conv.weight.detach().flatten(1).double().numpy()  # C_out x C_in/G
    per_out = wt.shape[0] // groups
    return [wt[k * per_out:(k + 1) * per_out].T for k in range(groups)]


def to_positions(x):
    """B x C x spatial tensor -> B x N x C float64 array."""
    return x.detach().double().flatten(2).transpose(1, 2).numpy()


def from_positions(y, like):
    return torch.from_numpy(np.ascontiguousarray(y.transpose(0, 2, 1))).reshape(like.shape)


def randomize_norm(norm, generator=None, eval_mode=True):
    """Give a norm layer non-zero weight / bias (and random running statistics) so that the branch is seen."""
    with torch.no_grad():
        norm.weight.copy_(torch.rand(norm.weight.shape, generator=generator) + 0.5)
        norm.bias.copy_(torch.randn(norm.bias.shape, generator=generator) * 0.1)
        if getattr(norm, 'running_mean', None) is not None:
            norm.running_mean.copy_(torch.randn(norm.running_mean.shape, generator=generator) * 0.1)
            norm.running_var.copy_(torch.rand(norm.running_var.shape, generator=generator) + 0.5)


def norm_stats(norm, training):
    """The reference's view of a block's BatchNorm: eval (running statistics) or train (batch statistics)."""
    weight = norm.weight.detach().double().numpy()
    bias = norm.bias.detach().double().numpy()
    if training:
        return ('train', weight, bias, norm.eps)
    return ('eval', norm.running_mean.double().numpy(), norm.running_var.double().numpy(), weight, bias, norm.eps)


def randomize_all(module, seed=0, eval_mode=True):
    """Random (non-zero) norms everywhere in ``module``, float64, eval or train mode."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm)):
            randomize_norm(m, gen)
    module.double()
    module.train(not eval_mode)
    return module


def rel_err(a, b):
    a = a.detach().double() if torch.is_tensor(a) else torch.as_tensor(a, dtype=torch.float64)
    b = b.detach().double() if torch.is_tensor(b) else torch.as_tensor(b, dtype=torch.float64)
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()
