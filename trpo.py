"""TRPO (Schulman et al. 2015) with GAE, the policy optimiser of SLBO (paper Sec. 2.4; Algorithm 1, line 14).

Maximises the reward-to-go of the Gaussian MLP policy π_θ on batches of rollouts (real or virtual, Eq. 5's first
term) with the natural gradient inside a KL trust region, SLBO's settings (REFERENCE.md "SLBO"). Also holds the batched
`rollout` helper that produces the batch layout every other module consumes, and GAE.

    policy, vf = GaussianPolicy(obs_dim, act_dim), ValueFunction(obs_dim)
    batch = rollout(vec_env, policy, horizon=200, seed=0)          # dict of (n_envs, horizon, ...) tensors
    stats = trpo_step(policy, vf, batch, TRPOConfig())              # one TRPO update + value-function fit
"""
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn.utils import parameters_to_vector


def _hp(default, help):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TRPOConfig:
    max_kl: float = _hp(0.01, "TRPO trust region: max mean KL(π_old‖π_new) per update")
    cg_iters: int = _hp(10, "conjugate-gradient iterations for the natural direction F⁻¹g")
    cg_damping: float = _hp(0.1, "damping c of the Fisher-vector product (F + c·I)v")
    ls_steps: int = _hp(10, "line search: step sizes tried (the full natural step, then halved each time)")
    ls_accept_ratio: float = _hp(1.5, "line search accepts a step if mean KL ≤ ratio·max_kl and the surrogate improved")
    gamma: float = _hp(0.99, "discount γ")
    lam: float = _hp(0.95, "GAE λ")
    ent_coef: float = _hp(0.005, "entropy bonus coefficient in the surrogate")
    vf_lr: float = _hp(1e-3, "value-function Adam learning rate")
    vf_epochs: int = _hp(5, "value-function passes over the batch per TRPO step (SLBO's n_vf_iters = 5)")
    vf_batch: int = _hp(64, "value-function minibatch size (SLBO's 64)")
    policy_hidden: tuple = _hp((32, 32), "policy MLP hidden widths (tanh)")
    value_hidden: tuple = _hp((64, 64), "value MLP hidden widths (tanh)")


def _mlp(sizes):
    return nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))


def _mlp_forward(layers, x, activation=torch.tanh):
    # F.linear on the weights directly (and no ModuleList slicing): the rollout loop calls this every step.
    *hidden, out = layers
    for layer in hidden:
        x = activation(F.linear(x, layer.weight, layer.bias))
    return F.linear(x, out.weight, out.bias)


class GaussianPolicy(nn.Module):
    """π_θ(a|s) = N(μ_θ(s), diag σ²): μ an MLP [obs → 32 → 32 → act] tanh (SLBO; MAML: [100, 100] ReLU),
    log σ a state-independent parameter."""

    def __init__(self, obs_dim, act_dim, hidden=(32, 32), obs_normalizer=None, activation="tanh"):
        super().__init__()
        self.mu = _mlp((obs_dim, *hidden, act_dim))
        self.activation = activation
        self._act_fn = {"tanh": torch.tanh, "relu": torch.relu}[activation]
        self.log_std = nn.Parameter(torch.zeros(act_dim))  # log σ, initialised to 0 (σ = 1)
        # The obs normaliser is owned elsewhere (SLBO's dynamics model; its running state normaliser is shared with
        # policy and value net). Held in a tuple so nn.Module does not register it: its tensors stay out of
        # parameters() (TRPO's flat θ), state_dict() and .to(). Caveat: copy.deepcopy(policy) would duplicate it.
        self._obs_normalizer = (obs_normalizer,)

    def forward(self, obs):  # μ_θ(s) (..., act_dim)
        norm = self._obs_normalizer[0]
        return _mlp_forward(self.mu, obs if norm is None else norm(obs), self._act_fn)

    def dist(self, obs):
        """π_θ(·|s) as a distribution over the whole action vector (log-probs/entropy summed over act_dim)."""
        return Independent(Normal(self(obs), self.log_std.exp(), validate_args=False), 1, validate_args=False)

    @torch.no_grad()
    def act(self, obs, deterministic=False, generator=None):
        """a ~ π_θ(·|s) (or μ_θ(s) if deterministic), sampled through `generator` when given. (rollout() does not
        call this: it draws all its noise up front to keep its loop lean.)"""
        mean = self(obs)  # (n_envs, act_dim)
        if deterministic:
            return mean
        eps = torch.randn(mean.shape, generator=generator, device=mean.device)  # (n_envs, act_dim)
        return torch.addcmul(mean, eps, self.log_std.exp())


class ValueFunction(nn.Module):
    """V(s): MLP [obs → 64 → 64 → 1] tanh. `optimizer` (Adam, made by trpo_step on first use) persists with it."""

    def __init__(self, obs_dim, hidden=(64, 64), obs_normalizer=None):
        super().__init__()
        self.v = _mlp((obs_dim, *hidden, 1))
        self._obs_normalizer = (obs_normalizer,)  # shared, unregistered: see GaussianPolicy
        self.optimizer = None  # torch.optim.Adam over self.parameters(); not a Module, so not registered

    def forward(self, obs):  # V(s) (...,)
        norm = self._obs_normalizer[0]
        return _mlp_forward(self.v, obs if norm is None else norm(obs)).squeeze(-1)


def rollout(env, policy, horizon, noise=None, deterministic=False, seed=None, generator=None):
    """env.num_envs episodes in parallel for `horizon` steps from one env.reset(seed=seed) -> the conventions' batch
    dict (obs, act, rew, next_obs, mask, terminal; (n_envs, horizon, ...) float32 on the policy's device) plus
    act_pi, the unclipped sample a ~ π(·|s) before exploration noise, which TRPO's likelihood ratio needs.
    Real (numpy) vector envs are converted at the boundary; torch (virtual) envs pass tensors through and must return
    fresh tensors each step (they are kept, not copied). `noise()` (e.g. OU) is added to the policy action before
    clipping to the action bounds; the clipped action is stored and stepped. `generator` (on the policy's device)
    drives the policy's sampling."""
    dev = policy.log_std.device
    n, act_dim = env.num_envs, env.single_action_space.shape[0]
    low = torch.as_tensor(env.single_action_space.low, dtype=torch.float32, device=dev)  # (act_dim,)
    high = torch.as_tensor(env.single_action_space.high, dtype=torch.float32, device=dev)  # (act_dim,)
    # Time-major: each step appends (n_envs, ·) tensors, stacked once at the end (no per-step copies).
    A, A_pi = (torch.empty(horizon, n, act_dim, device=dev) for _ in range(2))  # (horizon, n_envs, act_dim) each
    S, R, TERM, TRUNC = [], [], [], []  # s_0 … s_H, then r_t, d_t, truncated_t: (n_envs, ·) per step
    final_obs = []  # (t, env indices, true s_{t+1}) for sub-envs that autoreset in the step their episode ended
    obs, _ = env.reset(seed=seed)
    is_np = isinstance(obs, np.ndarray)
    to_t = (lambda x: torch.tensor(x, dtype=torch.float32, device=dev)) if is_np else (lambda x: x)
    # a model env (dynamics.VirtualEnv) is stepped by predict(a) alone; its r and d are scored after the loop
    model_env = hasattr(env, "predict") and hasattr(env, "score")
    if noise is not None:
        noise.reset()
    # a_t = μ_θ(s_t) + σ ε_t, ε_t ~ N(0, I), all drawn up front (σ is fixed during a rollout): a lean loop
    with torch.no_grad():
        sigma_eps = torch.zeros(horizon, n, act_dim, device=dev) if deterministic else \
            torch.randn(horizon, n, act_dim, generator=generator, device=dev) * policy.log_std.exp()
    # inference mode: the hot loop's many small ops skip autograd bookkeeping; the stacks below are ordinary tensors
    with torch.inference_mode():
        S.append(to_t(obs))
        for t in range(horizon):
            a = torch.add(policy(S[t]), sigma_eps[t], out=A_pi[t])  # (n_envs, act_dim)
            if noise is not None:
                a = a + torch.as_tensor(noise(), dtype=torch.float32, device=dev)  # (n_envs, act_dim)
            torch.clamp(a, low, high, out=A[t])
            if model_env:
                S.append(env.predict(A[t]))  # s_{t+1} (n_envs, obs_dim)
                continue
            obs, rew, term, trunc, info = env.step(A[t].cpu().numpy() if is_np else A[t])
            S.append(to_t(obs))
            R.append(to_t(rew))
            TERM.append(to_t(term))
            TRUNC.append(to_t(trunc))
            if "_final_obs" in info:  # gymnasium SAME_STEP autoreset: obs is already the next episode's s_0
                idx = np.flatnonzero(info["_final_obs"])
                final_obs.append((t, idx, to_t(np.stack(info["final_obs"][idx]))))
    S = torch.stack(S).float()  # (horizon+1, n_envs, obs_dim)  s_0 … s_H
    if model_env:
        # r_t = r_ψ(s_t, a_t, s_{t+1}), d_t = d(s_{t+1}) for all steps at once
        R, TERM = env.score(S[:-1], A, S[1:])  # (horizon, n_envs) each
        TRUNC = torch.zeros_like(R)  # (horizon, n_envs)  a model env never truncates
    R, TERM, TRUNC = (torch.stack(x).float() if isinstance(x, list) else x.float() for x in (R, TERM, TRUNC))
    next_S = S[1:].clone()  # (horizon, n_envs, obs_dim)  s_{t+1}
    for t, idx, s_next in final_obs:
        next_S[t, idx] = s_next
    # m_t = 1 iff no episode end (termination or truncation) before t; d_t = termination at a valid step.
    ended = torch.maximum(TERM, TRUNC)  # (horizon, n_envs)
    mask = (torch.cumsum(ended, 0) - ended == 0).float()  # (horizon, n_envs)
    return {
        "obs": S[:-1].transpose(0, 1).contiguous(),  # (n_envs, horizon, obs_dim)
        "act": A.transpose(0, 1).contiguous(),  # (n_envs, horizon, act_dim)
        "act_pi": A_pi.transpose(0, 1).contiguous(),  # (n_envs, horizon, act_dim)
        "rew": R.T.contiguous(),  # (n_envs, horizon)
        "next_obs": next_S.transpose(0, 1).contiguous(),  # (n_envs, horizon, obs_dim)
        "mask": mask.T.contiguous(),  # (n_envs, horizon)
        "terminal": (TERM * mask).T.contiguous(),  # (n_envs, horizon)
    }


def gae(rew, values, next_values, mask, terminal, gamma, lam):
    """GAE(γ, λ) on (n_envs, horizon) tensors -> (advantages Â, returns Â + V), both 0 on padded steps.
    next_values[:, t] = V(s_{t+1}) bootstraps every non-terminal step, e.g. the time-limit truncation at the end."""
    # δ_t = r_t + γ (1 − d_t) V(s_{t+1}) − V(s_t)
    delta = rew + gamma * (1.0 - terminal) * next_values - values  # (n_envs, horizon)
    adv = torch.zeros_like(delta)  # (n_envs, horizon)
    last = torch.zeros_like(delta[:, 0])  # (n_envs,)  Â_{t+1}, 0 past the horizon
    for t in reversed(range(delta.shape[1])):
        # Â_t = m_t (δ_t + γλ Â_{t+1}); Â_{t+1} is already 0 once the episode ended at t (its mask is 0)
        last = mask[:, t] * (delta[:, t] + gamma * lam * last)
        adv[:, t] = last
    return adv, (adv + values) * mask


def conjugate_gradient(Avp, b, iters, residual_tol=1e-10):
    """Solve A x = b for symmetric positive-definite A given only v ↦ A v (Avp)."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()  # residual b − A x, search direction
    rr = r @ r
    for _ in range(iters):
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = r @ r
        if rr_new < residual_tol:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def _fisher_vector_product(kl, params, damping):
    """v ↦ (F + c·I) v with F = ∇²_θ kl at the current θ (double backprop), kl = mean_s KL(π_old(·|s) ‖ π_θ(·|s))
    built from `params` (MAML passes its post-adaptation KL, which reaches θ through the inner step)."""
    grad_kl = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))  # (n_params,)

    def fvp(v):
        # F v = ∇_θ (∇_θ KL · v)
        Fv = torch.autograd.grad(grad_kl @ v, params, retain_graph=True)
        return parameters_to_vector(Fv) + damping * v

    return fvp


def _set_flat(params, theta):
    # Copy into the existing tensors (vector_to_parameters would make every parameter a view into θ's storage).
    with torch.no_grad():
        for p, x in zip(params, torch.split(theta, [p.numel() for p in params])):
            p.copy_(x.view_as(p))


def _fit_value(value_fn, obs, returns, cfg, optimizer):
    """Regress V(s) on the GAE returns: cfg.vf_epochs shuffled passes of Adam minibatches (global torch RNG)."""
    for _ in range(cfg.vf_epochs):
        for idx in torch.randperm(len(obs), device=obs.device).split(cfg.vf_batch):
            loss = F.mse_loss(value_fn(obs[idx]), returns[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return F.mse_loss(value_fn(obs), returns).item()


def trpo_step(policy, value_fn, batch, cfg=TRPOConfig(), vf_optimizer=None):
    """One TRPO update of `policy` on a rollout batch, then a fit of `value_fn`; returns float stats. Adam for the
    value function: `vf_optimizer` if given, else value_fn.optimizer (created here on first call, then reused)."""
    m = batch["mask"] > 0  # (n_envs, horizon)  only these steps count in any mean
    with torch.no_grad():
        V, V_next = value_fn(batch["obs"]), value_fn(batch["next_obs"])  # (n_envs, horizon) each
    adv, ret = gae(batch["rew"], V, V_next, batch["mask"], batch["terminal"], cfg.gamma, cfg.lam)
    # NOTE (differs from the conventions' `act`): the ratio uses the unclipped sample a ~ π_old ("act_pi"), as SLBO
    # does; clipped actions are not draws from π_old (with σ = 1, bounds ±1 clip ~1/3), which biases the gradient.
    s, a, adv, ret = batch["obs"][m], batch["act_pi"][m], adv[m], ret[m]  # (N, obs_dim), (N, act_dim), (N,), (N,)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)  # normalised advantages Â
    params = list(policy.parameters())
    with torch.no_grad():
        pi_old = policy.dist(s)
        logp_old = pi_old.log_prob(a)  # (N,)

    def surrogate():
        pi = policy.dist(s)
        # L(θ) = E[π_θ(a|s) / π_old(a|s) · Â] + c_ent · E[H(π_θ(·|s))]
        L = (torch.exp(pi.log_prob(a) - logp_old) * adv).mean() + cfg.ent_coef * pi.entropy().mean()
        return L, pi

    L_old, _ = surrogate()
    g = parameters_to_vector(torch.autograd.grad(L_old, params))  # (n_params,)  ∇_θ L
    theta_old = parameters_to_vector(params).detach()  # (n_params,)
    accepted, kl, improve = False, 0.0, 0.0
    if torch.any(g != 0):
        Fvp = _fisher_vector_product(kl_divergence(pi_old, policy.dist(s)).mean(), params, cfg.cg_damping)
        x = conjugate_gradient(Fvp, g, cfg.cg_iters)  # natural direction x ≈ F⁻¹ g
        # largest step β along x with the quadratic KL model ½ β² xᵀF x = δ:  β = sqrt(2δ / xᵀF x)
        beta = torch.sqrt(2 * cfg.max_kl / (x @ Fvp(x)))
        for _ in range(cfg.ls_steps):
            _set_flat(params, theta_old + beta * x)  # θ = θ_old + β x
            with torch.no_grad():
                L_new, pi = surrogate()
                # KL(π_old ‖ π_θ), mean over valid steps
                kl_new = kl_divergence(pi_old, pi).mean()
            if torch.isfinite(L_new) and kl_new <= cfg.ls_accept_ratio * cfg.max_kl and L_new > L_old:
                accepted, kl, improve = True, kl_new.item(), (L_new - L_old).item()
                break
            beta = beta * 0.5
        else:
            _set_flat(params, theta_old)
    with torch.no_grad():
        entropy = policy.dist(s[:1]).entropy().item()  # σ is state-independent, so is H(π_θ(·|s))
    if vf_optimizer is None:
        if value_fn.optimizer is None:
            value_fn.optimizer = torch.optim.Adam(value_fn.parameters(), lr=cfg.vf_lr)
        vf_optimizer = value_fn.optimizer
    vf_loss = _fit_value(value_fn, s, ret, cfg, vf_optimizer)
    ep_return = (batch["rew"] * batch["mask"]).sum(1).mean().item()
    return {"kl": kl, "surr_improve": improve, "entropy": entropy, "vf_loss": vf_loss,
            "ls_accepted": accepted, "ep_return": ep_return}


if __name__ == "__main__":
    import gymnasium as gym

    class _PointMass:
        """Torch vector env: 2-D point x, action = velocity in [-1, 1]², x ← x + 0.2a, reward −‖x‖, no termination."""

        num_envs = 20
        single_observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        single_action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

        def reset(self, seed=None):
            g = torch.Generator().manual_seed(seed) if seed is not None else None
            self.x = torch.rand(self.num_envs, 2, generator=g) * 4 - 2  # (n_envs, 2)
            return self.x, {}

        def step(self, a):
            self.x = self.x + 0.2 * a
            zeros = torch.zeros(self.num_envs, dtype=torch.bool)
            return self.x, -self.x.norm(dim=1), zeros, zeros, {}

    torch.manual_seed(0)
    env, pol, vf = _PointMass(), GaussianPolicy(2, 2), ValueFunction(2)
    gen = torch.Generator().manual_seed(0)
    returns = []
    for it in range(31):
        stats = trpo_step(pol, vf, rollout(env, pol, 50, seed=it, generator=gen))
        returns.append(stats["ep_return"])
        if it % 5 == 0:
            print(f"iter {it:2d}  " + "  ".join(f"{k} {float(v):.4g}" for k, v in stats.items()))
    print(f"mean return {returns[0]:.1f} -> {returns[-1]:.1f}: {'OK' if returns[-1] > returns[0] / 3 else 'FAILED'}")
