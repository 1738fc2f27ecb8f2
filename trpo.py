"""TRPO (Schulman et al. 2015) with GAE, the policy optimiser of SLBO (paper Sec. 2.4; Algorithm 1, line 14).

Maximises the reward-to-go of the Gaussian MLP policy π_θ on batches of rollouts (real or virtual, Eq. 5's first
term) with the natural gradient inside a KL trust region, with SLBO's settings (Luo et al. 2019; their code,
github.com/facebookresearch/slbo). Also holds `rollout`, which makes the rollout batches every module consumes
(their keys, shapes and meanings are in its docstring, once), and GAE.

    policy, vf = GaussianPolicy(obs_dim, act_dim), ValueFunction(obs_dim)
    batch = rollout(vec_env, policy, horizon=200, seed=0)          # dict of (n_envs, horizon, ...) tensors
    stats = trpo_step(policy, vf, batch, TRPOConfig())              # one TRPO update + value-function fit
"""
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn.utils import parameters_to_vector
from torch.profiler import record_function  # labels trpo_step's parts in a profiler trace (lab/bench.py round)

from config import hp

ENTROPY_LIMIT = 2.0  # the entropy bonus counts π's density on u ∈ [−2, 2] only (SLBO's LimitedEntNormal)


@dataclass(frozen=True)
class TRPOConfig:
    max_kl: float = hp(0.01, "TRPO trust region: max mean KL(π_old‖π_new) per update", "> 0", source="SLBO's code")
    cg_iters: int = hp(10, "conjugate-gradient iterations for the natural direction F⁻¹g", ">= 1", source="SLBO's code")
    cg_damping: float = hp(0.1, "damping c of the Fisher-vector product (F + c·I)v", ">= 0", source="SLBO's code")
    fvp_subsample: int = hp(1, "the Fisher matrix F is estimated on every k-th state of the batch (SLBO: 1, all; "
                               "OpenAI baselines' TRPO: 5)", ">= 1", source="SLBO's code")
    ls_steps: int = hp(10, "line search: step sizes tried (the full natural step, then halved each time)", ">= 1",
                       source="SLBO's code")
    ls_accept_ratio: float = hp(1.5, "line search accepts a step if mean KL ≤ ratio·max_kl and the surrogate improved",
                                "> 0", source="SLBO's code")
    gamma: float = hp(0.99, "discount γ", "(0, 1]", source="SLBO's code")
    gae_lambda: float = hp(0.95, "GAE's λ (not Eq. (5)'s λ, which weights the model loss)", "[0, 1]",
                           source="SLBO's code")
    ent_coef: float = hp(0.005, "coefficient of the entropy bonus H_c (entropy on [−2, 2], SLBO) in the surrogate",
                         ">= 0", source="SLBO's code")
    vf_lr: float = hp(1e-3, "value-function Adam learning rate", "> 0", source="SLBO's code")
    vf_epochs: int = hp(5, "value-function passes over the batch per TRPO step", ">= 0",
                        source="SLBO's code")
    vf_batch: int = hp(64, "value-function minibatch size", ">= 1", source="SLBO's code")
    # NOTE (differs from paper): Section 5.1 gives every policy "two hidden layers of 100 units each, using the ReLU
    # activation", the Appendix gives ours "two hidden layers of width 32". SMTL's policy is 32 × 32 tanh, the
    # Appendix's width with SLBO's activation, because the authors ran SLBO's code; MAML's and the oracle's policies
    # are Section 5.1's 100 × 100 ReLU (maml.MAMLConfig.hidden), as in MAML's code.
    policy_hidden: tuple = hp((32, 32), "policy MLP hidden widths",
                              source="paper, Appendix 7.1 (two layers of width 32; tanh as SLBO's code; Section 5.1 "
                                     "says 100 × 100 ReLU)")
    policy_activation: str = hp("tanh", "policy MLP activation", ("tanh", "relu"), source="SLBO's code")
    slbo_init: bool = hp(True, "SLBO/SMTL policy init as SLBO's: normc rows, the output layer's of norm 0.01 "
                               "(false: PyTorch's default)", source="SLBO's code")
    value_hidden: tuple = hp((64, 64), "value MLP hidden widths (tanh)", source="SLBO's code")


def _mlp(sizes):
    return nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))


def _normc_(layer, scale):
    """SLBO's (baselines') normc initialisation: each output unit's weight row ~ N(0, I), rescaled to norm `scale`;
    bias 0."""
    with torch.no_grad():
        w = torch.randn_like(layer.weight)  # (out, in)
        layer.weight.copy_(w * scale / w.norm(dim=1, keepdim=True))
        layer.bias.zero_()


def limited_entropy(mean, std, c=ENTROPY_LIMIT):
    """H_c = −∫_{−c}^{c} p(u) log p(u) du per action dim, p = N(mean, std²), summed over the last dim: (...,).

    With z = (u − m)/σ, h± = (±c − m)/(σ√2) and mass P = ½(erf h₊ − erf h₋):
    H_c = (log σ + ½ log 2π + ½) P − (h₊ e^{−h₊²} − h₋ e^{−h₋²}) / (2√π).
    For small σ it is the normal's entropy; it peaks near σ ≈ 1.2 (m = 0) and falls as σ grows beyond the range, so
    the bonus stops pushing σ up once the policy's noise covers the action box [−1, 1].
    # NOTE (differs from SLBO): SLBO's LimitedEntNormal has the same idea with another closed form (its bonus peaks
    # near σ ≈ 2); this one is the exact integral.
    """
    h_hi, h_lo = (c - mean) / (std * math.sqrt(2)), (-c - mean) / (std * math.sqrt(2))  # (..., act_dim) each
    mass = 0.5 * (torch.erf(h_hi) - torch.erf(h_lo))
    tails = (h_hi * torch.exp(-h_hi ** 2) - h_lo * torch.exp(-h_lo ** 2)) / (2 * math.sqrt(math.pi))
    return ((torch.log(std) + 0.5 * math.log(2 * math.pi) + 0.5) * mass - tails).sum(-1)


def _mlp_forward(layers, x, activation=torch.tanh):
    # F.linear on the weights directly (and no ModuleList slicing): the rollout loop calls this every step.
    *hidden, out = layers
    for layer in hidden:
        x = activation(F.linear(x, layer.weight, layer.bias))
    return F.linear(x, out.weight, out.bias)


class GaussianPolicy(nn.Module):
    """π_θ(u|s) = N(m_θ(s), diag σ²) over u ∈ [−1, 1]^act_dim (rollout maps u onto the env's action box): the mean
    m_θ an MLP [obs → 32 → 32 → act] tanh (SLBO; MAML: [100, 100] ReLU), log σ a state-independent parameter.
    With slbo_init, initialised as SLBO's: normc weights, the output layer's rows of norm 0.01, so the first mean
    actions are ≈ 0; else PyTorch's default (close to the Glorot init of MAML's rllab policies)."""

    def __init__(self, obs_dim, act_dim, hidden=(32, 32), obs_normalizer=None, activation="tanh", slbo_init=True):
        super().__init__()
        self.mean_net = _mlp((obs_dim, *hidden, act_dim))
        self.activation = activation
        self._act_fn = {"tanh": torch.tanh, "relu": torch.relu}[activation]
        self.log_std = nn.Parameter(torch.zeros(act_dim))  # log σ, initialised to 0 (σ = 1)
        for layer in self.mean_net if slbo_init else ():
            _normc_(layer, 0.01 if layer is self.mean_net[-1] else 1.0)
        # The obs normaliser is owned elsewhere (SLBO's dynamics model; its running state normaliser is shared with
        # policy and value net). Held in a tuple so nn.Module does not register it: its tensors stay out of
        # parameters() (TRPO's flat θ), state_dict() and .to(). Caveat: copy.deepcopy(policy) would duplicate it.
        self._obs_normalizer = (obs_normalizer,)

    def forward(self, obs):  # mean action m_θ(s) (..., act_dim)
        norm = self._obs_normalizer[0]
        return _mlp_forward(self.mean_net, obs if norm is None else norm(obs), self._act_fn)

    def dist(self, obs):
        """π_θ(·|s) as a distribution over the whole action vector (log-probs/entropy summed over act_dim)."""
        return Independent(Normal(self(obs), self.log_std.exp(), validate_args=False), 1, validate_args=False)


class ValueFunction(nn.Module):
    """V(s): MLP [obs → 64 → 64 → 1] tanh. `optimizer` (Adam, made by trpo_step on first use) persists with it."""

    def __init__(self, obs_dim, hidden=(64, 64), obs_normalizer=None):
        super().__init__()
        # NOTE (differs from SLBO): PyTorch's default initialisation; SLBO's MLPVFunction uses normc (rows of norm 1)
        self.v = _mlp((obs_dim, *hidden, 1))
        self._obs_normalizer = (obs_normalizer,)  # shared, unregistered: see GaussianPolicy
        self.optimizer = None  # Adam made by make_optimizer; not a Module, so not registered

    def make_optimizer(self, lr):
        """self.optimizer = Adam over V's parameters, fused (one kernel per tensor instead of a dozen small ops: the
        same update, a quarter of its time on a CPU)."""
        self.optimizer = torch.optim.Adam(self.parameters(), lr=lr, fused=True)
        return self.optimizer

    def forward(self, obs):  # V(s) (...,)
        norm = self._obs_normalizer[0]
        return _mlp_forward(self.v, obs if norm is None else norm(obs)).squeeze(-1)


def _first_episode(ep_end):
    """1 on the steps of each row's first episode: no episode end before t. ep_end (n_envs, H) -> (n_envs, H)."""
    return (torch.cumsum(ep_end, 1) - ep_end == 0).float()


def episode_returns(batch):
    """Return of each row's first episode (the one that starts at t = 0): (n_envs,). A training batch holds more
    episodes per row on bodies that fall; their first is the one comparable to an evaluation episode."""
    return (batch["rew"] * batch["mask"] * _first_episode(batch["ep_end"])).sum(1)


def rollout(env, policy, horizon, noise=None, deterministic=False, seed=None, generator=None, one_episode=False):
    """env.num_envs rows of `horizon` steps from one env.reset(seed=seed) -> a rollout batch, the dict of tensors
    that every module consumes, n_envs rows of H steps:

    | key      | shape                | meaning                                                                     |
    | -------- | -------------------- | --------------------------------------------------------------------------- |
    | obs      | (n_envs, H, obs_dim) | s_t                                                                         |
    | act      | (n_envs, H, act_dim) | a_t as the env received it: the sample plus noise, clipped, in env units    |
    | act_pi   | (n_envs, H, act_dim) | u_t ~ π_θ(·|s_t), the policy's own sample before noise and clipping: TRPO's |
    |          |                      | likelihood ratio needs it (a clipped action is no draw from π_θ)            |
    | rew      | (n_envs, H)          | r_t = r_ψ(s_t, a_t, s_{t+1})                                                |
    | next_obs | (n_envs, H, obs_dim) | s_{t+1}, the true successor (before any reset)                              |
    | mask     | (n_envs, H)          | 1 if step t is a sample: all 1, but with one_episode the steps after the    |
    |          |                      | row's first episode ended are 0                                             |
    | terminal | (n_envs, H)          | d_t = 1 if the episode terminated at t (a fall): no bootstrap from s_{t+1}  |
    | ep_end   | (n_envs, H)          | e_t = 1 if the episode ended at t for any reason (a fall, a time limit, the |
    |          |                      | row's end): GAE's λ-sum stops there, and D's k-step windows never cross it  |

    Training batches (one_episode=False) follow SLBO's runner: an env whose episode ends (termination or time limit)
    resets in place and keeps stepping, so all n_envs·horizon steps are valid samples. With one_episode=True each row
    holds one episode and the steps after its end are masked out (evaluation). Real (numpy) vector envs must reset
    themselves in the step their episode ends (gymnasium's SAME_STEP autoreset, true last state in
    info["final_obs"]); a model env (dynamics.VirtualEnv: `predict`, `restart`, `reward`) is reset here.

    Actions: the policy acts in u ∈ [−1, 1]^act_dim (a sample u ~ π(·|s), plus `noise()` if given, e.g. OU, then
    clipped); the env receives a = mid + u·half, the env's action box [mid − half, mid + half] (SLBO's
    rescale_action; the identity on the half-cheetah's and the ant's [−1, 1]). `generator` (on any device) drives the
    policy's sampling.
    """
    dev = policy.log_std.device
    n, act_dim = env.num_envs, env.single_action_space.shape[0]
    low, high = (torch.as_tensor(x, dtype=torch.float32, device=dev) for x in (env.single_action_space.low,
                                                                                env.single_action_space.high))
    mid, half = (high + low) / 2, (high - low) / 2  # (act_dim,) each: the env's box is mid ± half
    rescale = not (torch.all(mid == 0) and torch.all(half == 1))  # the box [−1, 1] needs no mapping
    # Time-major: each step appends (n_envs, ·) tensors, stacked once at the end (no per-step copies).
    A, A_pi = (torch.empty(horizon, n, act_dim, device=dev) for _ in range(2))  # (horizon, n_envs, act_dim) each
    S, S_next, R, TERM, TRUNC = [], [], [], [], []  # s_t, s_{t+1}, r_t, d_t, truncated_t: (n_envs, ·) per step
    obs, _ = env.reset(seed=seed)
    is_np = isinstance(obs, np.ndarray)
    to_t = (lambda x: torch.tensor(x, dtype=torch.float32, device=dev)) if is_np else (lambda x: x)
    # a model env (dynamics.VirtualEnv) is stepped by predict(a) alone; its rewards are scored after the loop
    model_env = hasattr(env, "predict") and hasattr(env, "reward")
    if noise is not None:
        noise.reset()
    # u_t = m_θ(s_t) + σ ε_t, ε_t ~ N(0, I), all drawn up front (σ is fixed during a rollout): a lean loop. ε comes
    # from the generator's device (a Learner's generator is on the CPU) to the policy's.
    eps_dev = dev if generator is None else generator.device
    with torch.no_grad():
        sigma_eps = torch.zeros(horizon, n, act_dim, device=dev) if deterministic else \
            torch.randn(horizon, n, act_dim, generator=generator, device=eps_dev).to(dev) * policy.log_std.exp()
    # per step views of the buffers, made once (indexing them inside the loop would cost an op per step each)
    sigma_eps_t, A_pi_t, A_t = sigma_eps.unbind(0), A_pi.unbind(0), A.unbind(0)  # (n_envs, act_dim) each
    # inference mode: the hot loop's many small ops skip autograd bookkeeping; the stacks below are ordinary tensors
    with torch.inference_mode():
        s = to_t(obs)  # (n_envs, obs_dim)
        for t in range(horizon):
            S.append(s)
            u = torch.add(policy(s), sigma_eps_t[t], out=A_pi_t[t])  # (n_envs, act_dim)
            if noise is not None:
                u = u + torch.as_tensor(noise(), dtype=torch.float32, device=dev)  # (n_envs, act_dim)
            # a = mid + clip(u, −1, 1) · half
            if rescale:
                torch.addcmul(mid, torch.clamp(u, -1.0, 1.0), half, out=A_t[t])
            else:
                torch.clamp(u, -1.0, 1.0, out=A_t[t])
            if model_env:
                s_next, term, trunc = env.predict(A_t[t])  # s_{t+1}, d_t, time limit (n_envs, ·)
                s = env.restart(term, trunc) if not one_episode and t + 1 < horizon else s_next
            else:
                obs, rew, term, trunc, info = env.step(A_t[t].cpu().numpy() if is_np else A_t[t])
                s = s_next = to_t(obs)
                R.append(to_t(rew))
                if "_final_obs" in info:  # SAME_STEP autoreset: obs is already the next episode's s_0
                    idx = np.flatnonzero(np.asarray(info["_final_obs"]))
                    s_next = s_next.clone()
                    s_next[idx] = torch.stack([to_t(info["final_obs"][i]) for i in idx]).to(s_next.dtype)
            S_next.append(s_next)
            TERM.append(to_t(term))
            TRUNC.append(to_t(trunc))
            if noise is not None and hasattr(noise, "restart"):
                # NOTE (differs from SLBO): a new episode starts with fresh exploration noise; SLBO's OU process
                # runs on across episodes (reset once, when made)
                noise.restart(term | trunc)
    S, S_next = torch.stack(S).float(), torch.stack(S_next).float()  # (horizon, n_envs, obs_dim) each
    TERM, TRUNC = (torch.stack(x).float() for x in (TERM, TRUNC))  # (horizon, n_envs) each
    # r_t = r_ψ(s_t, a_t, s_{t+1}), all steps of a model env at once
    R = env.reward(S, A, S_next).float() if model_env else torch.stack(R).float()  # (horizon, n_envs)
    ep_end = torch.maximum(TERM, TRUNC).T.contiguous()  # (n_envs, horizon)
    ep_end[:, -1] = 1  # the row's end ends its last episode
    mask = _first_episode(ep_end) if one_episode else torch.ones_like(ep_end)  # (n_envs, horizon)
    return {
        "obs": S.transpose(0, 1).contiguous(),  # (n_envs, horizon, obs_dim)
        "act": A.transpose(0, 1).contiguous(),  # (n_envs, horizon, act_dim)
        "act_pi": A_pi.transpose(0, 1).contiguous(),  # (n_envs, horizon, act_dim)
        "rew": R.T.contiguous(),  # (n_envs, horizon)
        "next_obs": S_next.transpose(0, 1).contiguous(),  # (n_envs, horizon, obs_dim)
        "mask": mask,  # (n_envs, horizon)
        "terminal": TERM.T * mask,  # (n_envs, horizon)
        "ep_end": ep_end * mask,  # (n_envs, horizon)
    }


def gae(rew, values, next_values, terminal, ep_end, gamma, gae_lambda):
    """GAE(γ, λ) on (n_envs, horizon) tensors -> (advantages Â, returns Â + V); callers keep the valid steps.
    next_values[:, t] = V(s_{t+1}) of the true successor: it bootstraps every step but a termination, e.g. a time
    limit or the row's end; the λ-recursion stops at every episode end, so an in-row reset starts afresh."""
    # δ_t = r_t + γ (1 − d_t) V(s_{t+1}) − V(s_t)
    delta = rew + gamma * (1.0 - terminal) * next_values - values  # (n_envs, horizon)
    keep = gamma * gae_lambda * (1.0 - ep_end)  # (n_envs, horizon)  γλ, or 0 where the episode ends at t
    # per step t the columns δ_t, γλ(1 − e_t) (n_envs,) as views, made in one op each: the loop is one op per step
    # plain equivalent: a Python loop per row and step (test_trpo_gae_matches_python_loop)
    deltas, keeps = delta.unbind(1), keep.unbind(1)
    adv = [torch.zeros_like(deltas[0])]  # Â_H = 0, then Â_{H−1}, …, Â_0 (n_envs,) each
    for t in reversed(range(len(deltas))):
        # Â_t = δ_t + γλ (1 − e_t) Â_{t+1}
        adv.append(torch.addcmul(deltas[t], keeps[t], adv[-1]))
    adv = torch.stack(adv[:0:-1], 1)  # (n_envs, horizon)
    return adv, adv + values


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


def fisher_vector_product(kl, params, damping):
    """v ↦ (F + c·I) v with F = ∇²_θ kl at the current θ (double backprop), kl = mean_s KL(π_old(·|s) ‖ π_θ(·|s))
    built from `params` (MAML passes its post-adaptation KL, which reaches θ through the inner step)."""
    grad_kl = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))  # (n_params,)

    def fvp(v):
        # F v = ∇_θ (∇_θ KL · v)
        Fv = torch.autograd.grad(grad_kl @ v, params, retain_graph=True)
        return parameters_to_vector(Fv) + damping * v

    return fvp


def policy_fisher_product(policy, s, damping):
    """v ↦ (F + c·I) v for a GaussianPolicy at its current θ on states s (N, obs_dim), in closed form; exact.

    The mean KL's Hessian at θ_old is the Gaussian's Fisher matrix (a Gauss–Newton product): with Σ = diag σ² and
    J_n = ∂m_θ(s_n)/∂θ_m, F = blockdiag((1/N) Σ_n J_nᵀ Σ⁻¹ J_n, 2·I) over (θ_m, log σ). The network's activations
    are computed once here; each product is then one forward-mode pass (J v) and one backward pass (Jᵀ w) through
    the small MLP, about a third of the operations of double backprop (fisher_vector_product), which MAML still
    needs. Layers are numbered from 1 in the comments, from 0 in the code."""
    W = [layer.weight.detach() for layer in policy.mean_net]  # W_l (width_l, width_{l−1}); detached: no graph for F v
    with torch.no_grad():
        norm = policy._obs_normalizer[0]
        # h_0 = normalised s (N, obs_dim), then h_l = ρ(z_l) (N, width_l), ρ tanh or ReLU
        h = [s if norm is None else norm(s)]
        for layer in policy.mean_net[:-1]:
            h.append(policy._act_fn(F.linear(h[-1], layer.weight, layer.bias)))
        # ρ'(z_l) from ρ's output: tanh' = 1 − h², relu' = [h > 0]
        drho = [1 - x * x if policy.activation == "tanh" else (x > 0).to(x.dtype) for x in h[1:]]  # (N, width_l) each
        inv_var = torch.exp(-2 * policy.log_std.detach()) / len(s)  # (act_dim,)  Σ⁻¹ / N
    shapes = [p.shape for p in policy.parameters()]  # log σ (own parameters come first), W_1, b_1, ..., W_n, b_n

    def fvp(v):
        v_log_std, *v_mu = (x.view(shape) for x, shape in zip(torch.split(v, [n.numel() for n in shapes]), shapes))
        dW, db = v_mu[0::2], v_mu[1::2]
        # J v, forward mode: ż_l = h_{l−1} dW_lᵀ + db_l + ḣ_{l−1} W_lᵀ,  ḣ_l = ρ'(z_l) ⊙ ż_l,  ṁ = ż_n
        z_dot = torch.addmm(db[0], h[0], dW[0].T)  # (N, width_1)
        for l in range(1, len(W)):
            h_dot = drho[l - 1] * z_dot  # (N, width_{l-1})
            z_dot = torch.addmm(torch.addmm(db[l], h[l], dW[l].T), h_dot, W[l].T)  # (N, width_l)
        g = z_dot * inv_var  # (N, act_dim)  Σ⁻¹ J v / N, the gradient at m
        # Jᵀ g, backward: ∂W_l = g_lᵀ h_{l−1}, ∂b_l = Σ_n g_l, g_{l−1} = ρ'(z_{l−1}) ⊙ (g_l W_l)
        grads = []
        for l in reversed(range(len(W))):
            grads += [g.sum(0), g.T @ h[l]]  # ∂b_l, ∂W_l
            if l > 0:
                g = drho[l - 1] * (g @ W[l])  # (N, width_{l-1})
        # F v = [Jᵀ Σ⁻¹ J v / N, 2 v_log σ] + c v
        return torch.cat([2 * v_log_std] + [x.flatten() for x in reversed(grads)]) + damping * v

    return fvp


def set_flat_params(params, theta):
    # Copy into the existing tensors (vector_to_parameters would make every parameter a view into θ's storage).
    with torch.no_grad():
        for p, x in zip(params, torch.split(theta, [p.numel() for p in params])):
            p.copy_(x.view_as(p))


def _fit_value(value_fn, obs, returns, cfg, optimizer):
    """Regress V(s) on the GAE returns: cfg.vf_epochs shuffled passes of Adam minibatches (global torch RNG).
    Returns the mean minibatch loss of the last pass (NaN without a pass): no extra pass over the batch."""
    losses = []
    for _ in range(cfg.vf_epochs):
        losses = []
        for idx in torch.randperm(len(obs), device=obs.device).split(cfg.vf_batch):
            loss = F.mse_loss(value_fn(obs.index_select(0, idx)), returns.index_select(0, idx))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
    return torch.stack(losses).mean().item() if losses else float("nan")


def trpo_step(policy, value_fn, batch, cfg=TRPOConfig()):
    """One TRPO update of `policy` on a rollout batch, then a fit of `value_fn` by its own Adam (value_fn.optimizer,
    made here on first call, then kept); returns float stats."""
    with record_function("trpo: advantages"):
        m = batch["mask"] > 0  # (n_envs, horizon)  only these steps count in any mean
        with torch.no_grad():
            V = value_fn(batch["obs"])  # (n_envs, horizon)
            # V(s_{t+1}) is the row's next V(s_t), except where an episode ended at t (a reset, or the row's end):
            # there s_{t+1} is the episode's true last state
            # NOTE (differs from SLBO): at a time limit SLBO bootstraps from V of the *next* episode's first state (its
            # runner has reset the env); here from V of the true last state, the value the time limit cut off
            end = batch["ep_end"] > 0  # (n_envs, horizon)
            V_next = torch.cat([V[:, 1:], V[:, -1:]], 1)  # (n_envs, horizon)
            V_next[end] = value_fn(batch["next_obs"][end])
        adv, ret = gae(batch["rew"], V, V_next, batch["terminal"], batch["ep_end"], cfg.gamma, cfg.gae_lambda)
        # The ratio uses the unclipped sample u ~ π_old ("act_pi"), as SLBO's runner stores it, not the clipped action
        # sent to the env: clipped actions are not draws from π_old (with σ = 1 the box [−1, 1] clips ~1/3 of them).
        s, a, adv, ret = batch["obs"][m], batch["act_pi"][m], adv[m], ret[m]  # (N, obs_dim), (N, act_dim), (N,) ×2
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)  # normalised advantages Â
    params = list(policy.parameters())

    def surrogate(pi=None):
        pi = policy.dist(s) if pi is None else pi
        # J(θ) = E[π_θ(u|s) / π_old(u|s) · Â] + c_ent · E[H_c(π_θ(·|s))]   (H_c: limited_entropy)
        H_c = limited_entropy(pi.base_dist.loc, pi.base_dist.scale)  # (N,)
        J = (torch.exp(pi.log_prob(a) - logp_old) * adv).mean() + cfg.ent_coef * H_c.mean()
        return J, pi, H_c

    with record_function("trpo: policy gradient"):
        pi = policy.dist(s)  # at θ = θ_old: π_old is its detached copy (one forward pass serves both)
        pi_old = Independent(Normal(pi.base_dist.loc.detach(), pi.base_dist.scale.detach(), validate_args=False), 1,
                             validate_args=False)
        logp_old = pi_old.log_prob(a)  # (N,)
        J_old, _, H_c = surrogate(pi)
        g = parameters_to_vector(torch.autograd.grad(J_old, params))  # (n_params,)  ∇_θ J
    theta_old = parameters_to_vector(params).detach()  # (n_params,)
    accepted, kl, improve = False, 0.0, 0.0
    if torch.any(g != 0):
        with record_function("trpo: natural gradient"):
            # F on every fvp_subsample-th state of the batch (1: all of them). Fast path; plain equivalent:
            # fisher_vector_product(mean KL(π_old ‖ π_θ) on those states, params, cg_damping)
            # (test_trpo_fisher_vector_product_is_kl_hessian)
            Fvp = policy_fisher_product(policy, s[::cfg.fvp_subsample], cfg.cg_damping)
            x = conjugate_gradient(Fvp, g, cfg.cg_iters)  # natural direction x ≈ F⁻¹ g
            # largest step κ along x with the quadratic KL model ½ κ² xᵀF x = δ:  κ = sqrt(2δ / xᵀF x)
            kappa = torch.sqrt(2 * cfg.max_kl / (x @ Fvp(x)))
        with record_function("trpo: line search"), torch.no_grad():
            for _ in range(cfg.ls_steps):
                set_flat_params(params, theta_old + kappa * x)  # θ = θ_old + κ x
                J_new, pi, H_new = surrogate()
                kl_new = kl_divergence(pi_old, pi).mean()  # KL(π_old ‖ π_θ), mean over valid steps
                if torch.isfinite(J_new) and kl_new <= cfg.ls_accept_ratio * cfg.max_kl and J_new > J_old:
                    accepted, kl, improve, H_c = True, kl_new.item(), (J_new - J_old).item(), H_new
                    break
                kappa = kappa * 0.5
            else:
                set_flat_params(params, theta_old)
    entropy = H_c.mean().item()  # mean H_c(π_θ(·|s)) over the batch, of the policy after the update
    with record_function("trpo: value fit"):
        vf_loss = _fit_value(value_fn, s, ret, cfg, value_fn.optimizer or value_fn.make_optimizer(cfg.vf_lr))
    ep_return = episode_returns(batch).mean().item()
    return {"kl": kl, "surr_improve": improve, "entropy": entropy, "vf_loss": vf_loss,
            "ls_accepted": accepted, "ep_return": ep_return}
