"""The baselines of Section 5.2 (Figure 1): MAML-TRPO (Finn et al. 2017) and the goal-conditioned oracle.

MAML meta-learns initial policy parameters θ0 such that one policy-gradient step on a new task's real rollouts,
Eq. (3) A_MAML(θ, ψ) = θ + α ∇η_ψ(θ), gives a good policy for ψ; the meta-update maximises the post-adaptation
objective of Eq. (2) by TRPO, differentiating through the inner step (second order). The oracle is one TRPO policy
π(a | s, ψ) that receives the goal ψ as an extra input, trained across p(ψ) and used without adaptation. Settings:
paper Section 5.1 and Appendix 7.1, and MAML's own code (github.com/cbfinn/maml_rl, on rllab).

    out = meta_train("cheetah-vel", MAMLConfig(n_iters=100, meta_batch=10, n_rollouts=10))
    curve, policy = adapt(out["checkpoint"], goal=1.2, n_stages=3, n_samples=4000)  # return after 0..3 steps
    ev = evaluate_oracle("cheetah-vel", train_oracle("cheetah-vel")["policy"], goals=[[0.5], [1.5]])
"""
import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Independent, Normal, kl_divergence
from torch.func import functional_call, vmap
from torch.nn.utils import parameters_to_vector
from tqdm.auto import tqdm

import slbo
import tasks
from config import hp
from dynamics import Normalizer
from trpo import (GaussianPolicy, TRPOConfig, ValueFunction, conjugate_gradient, episode_returns,
                  fisher_vector_product, gae, rollout, set_flat_params, trpo_step)

CHECKPOINT_FORMAT = "maml-checkpoint-v5"  # v5: the oracle's optional input normaliser
FEATURE_CLIP = 10.0  # the linear baseline clips observations to ±10 before building its features (rllab)
TIME_SCALE = 100.0  # ... and uses t / 100 as its time feature (rllab)



@dataclass(frozen=True)
class MAMLConfig:
    n_iters: int = hp(500, "meta-iterations (500: ~80M samples)", ">= 0", source="paper, Appendix 7.1")
    meta_batch: int = hp(40, "tasks ψ ~ p(ψ) per meta-iteration", ">= 1",
                         source="paper, Appendix 7.1")
    n_rollouts: int = hp(20, "rollouts per task per policy-gradient step (40 on the ant fwd/back and the humanoid: "
                             "BODY)", ">= 1", source="paper, Appendix 7.1")
    alpha: float = hp(0.1, "α of Eq. (3): inner step size at meta-training and for the first test-time step", ">= 0",
                      source="paper, Appendix 7.1")
    alpha_test: float = hp(0.05, "α of the test-time steps after the first", ">= 0",
                           source="paper, Appendix 7.1")
    max_kl: float = hp(0.01, "meta-update trust region: max mean KL of the post-adaptation policies (MAML's β)", "> 0",
                       source="paper, Appendix 7.1 (β = 0.01)")
    cg_iters: int = hp(10, "conjugate-gradient iterations for the meta natural direction F⁻¹g", ">= 1",
                       source="MAML's code")
    cg_damping: float = hp(1e-5, "damping c of the Fisher-vector product (F + c·I)v", ">= 0", source="MAML's code")
    ls_backtrack: float = hp(0.8, "line search: step shrink factor per try", "(0, 1)", source="MAML's code")
    ls_steps: int = hp(15, "line search: step sizes tried (accept if KL ≤ max_kl and the surrogate improved)", ">= 1",
                       source="MAML's code")
    gamma: float = hp(0.99, "discount γ", "(0, 1]", source="MAML's code")
    gae_lambda: float = hp(1.0, "GAE's λ (1: discounted return minus the linear baseline)", "[0, 1]",
                           source="MAML's code")
    hidden: tuple = hp((100, 100), "policy MLP hidden widths, ReLU", source="paper, Section 5.1")
    baseline_ridge: float = hp(1e-5, "ridge coefficient of the linear feature baseline's least squares", ">= 0",
                               source="MAML's code")


@dataclass(frozen=True)
class OracleConfig:
    # NOTE (differs from paper): the paper gives no oracle budget; 500 iterations, as MAML's meta-iterations.
    n_iters: int = hp(500, "TRPO iterations", ">= 0",
                      source="ours: the paper gives the oracle no budget; MAML's 500 iterations")
    n_samples: int = hp(4000, "real samples per iteration: n_samples / H rollouts, each with its own goal ψ ~ p(ψ)",
                        ">= 1", source="ours: the paper gives the oracle no batch; an SMTL stage's 4,000 samples")
    hidden: tuple = hp((100, 100), "policy MLP hidden widths over [s, ψ], ReLU",
                       source="paper, Section 5.1")
    trpo: TRPOConfig = hp(TRPOConfig(), "TRPO settings (trpo.TRPOConfig; its policy_hidden is unused, `hidden` is)",
                          source="SLBO's code")
    obs_norm: bool = hp(False, "π and V see [s, ψ] normalised by its running mean and std over the training batches "
                               "(today's TRPO/PPO practice; not in the paper)", source="MAML's code")


# ---------------------------------------------------------------------------------------------
# Small helpers: policies, seeds, checkpoints
# ---------------------------------------------------------------------------------------------
def _policy(family, cfg, device, goal_input=False, obs_normalizer=None):
    """A fresh [100, 100] ReLU Gaussian policy with PyTorch's initialisation (close to the Glorot init of MAML's rllab
    policies); over [s, ψ] for the oracle (goal_input)."""
    in_dim = family.obs_dim + (family.goal_dim if goal_input else 0)
    return GaussianPolicy(in_dim, family.act_dim, cfg.hidden, obs_normalizer, activation="relu",
                          slbo_init=False).to(device)


def _env_seed(rng):
    """A fresh integer seed for a real env reset, drawn from the run's numpy stream (same seed, same numbers)."""
    return int(rng.integers(2 ** 31 - 1))


def _resume(ck, kind, family, cfg, seed):
    """A checkpoint of `meta_train` or `train_oracle` (kind 'maml' or 'oracle') checked against this run: same kind,
    family, seed and config (n_iters may differ: resuming may extend a run); else one clear ValueError."""
    if ck.get("kind") != kind:
        raise ValueError(f"the checkpoint is a {ck.get('kind')} checkpoint, not a {kind} one")
    if ck["family"] != family.name or ck["seed"] != seed:
        raise ValueError(f"the checkpoint is a {kind} run on {ck['family']!r} with seed {ck['seed']}, "
                         f"not on {family.name!r} with seed {seed}")
    want = {k: v for k, v in asdict(cfg).items() if k != "n_iters"}
    have = {k: v for k, v in ck["cfg"].items() if k != "n_iters"}
    if have != want:
        diff = {k: (have.get(k), want[k]) for k in want if have.get(k) != want[k]}
        raise ValueError(f"the checkpoint has another config; (checkpoint, requested): {diff}")
    return ck


def policy_from(trained, device="cpu"):
    """The policy of a `meta_train` or `train_oracle` checkpoint (the oracle's sees [s, ψ])."""
    fam = tasks.get_family(trained["family"])
    cfg = (MAMLConfig if trained["kind"] == "maml" else OracleConfig)(hidden=tuple(trained["cfg"]["hidden"]))
    norm = None
    if trained.get("obs_norm") is not None:  # the oracle's running input normaliser (OracleConfig.obs_norm)
        norm = Normalizer(fam.obs_dim + fam.goal_dim).to(device)
        norm.load_state_dict(trained["obs_norm"])
    policy = _policy(fam, cfg, device, goal_input=trained["kind"] == "oracle", obs_normalizer=norm)
    policy.load_state_dict(trained["policy"])
    return policy


# ---------------------------------------------------------------------------------------------
# MAML's pieces: linear baseline, per-task policies, inner step (Eq. 3), meta-update (TRPO through Eq. 3)
# ---------------------------------------------------------------------------------------------
def _episode_steps(ep_end):
    """t of every step inside its own episode (0 at a reset): ep_end (n_envs, H) -> (n_envs, H) float."""
    idx = torch.arange(ep_end.shape[1], device=ep_end.device).expand_as(ep_end)  # (n_envs, H)
    starts = torch.cat([torch.ones_like(ep_end[:, :1]), ep_end[:, :-1]], 1) > 0  # (n_envs, H)  an episode starts
    return (idx - torch.cummax(torch.where(starts, idx, 0), 1).values).to(ep_end.dtype)


def _features(obs, steps):
    """x(s_t, t) = (s, s², t, t², t³, 1), rllab's baseline features, t the step inside the episode:
    obs (..., H, obs_dim), steps (..., H) -> (..., H, n_feat)."""
    s = obs.clamp(-FEATURE_CLIP, FEATURE_CLIP)  # (..., H, obs_dim)
    t = (steps / TIME_SCALE)[..., None].to(obs.dtype)  # (..., H, 1)
    return torch.cat([s, s ** 2, t, t ** 2, t ** 3, torch.ones_like(t)], -1)  # (..., H, 2·obs_dim + 4)


# NOTE (differs from MAML's code): b is fit on each task's own batch and used on that batch (refit per batch), where
# rllab's sampler predicts with the fit of the previous batch: no stale baseline from another task.
def linear_baseline(obs, steps, returns, mask, ridge):
    """Fit b(s_t) = x(s_t, t)ᵀw per task on its own batch and evaluate it there (refit every batch):
    w = argmin_w Σ_t m_t (x_tᵀw − R_t)² + ridge·‖w‖², i.e. (XᵀMX + ridge·I) w = XᵀM R, solved in float64.
    obs (n_tasks, n_rollouts, H, obs_dim), steps, returns and mask (n_tasks, n_rollouts, H)
    -> b (n_tasks, n_rollouts, H).
    """
    feats = _features(obs, steps).double()  # (n_tasks, n_rollouts, H, n_feat)
    X = feats.flatten(1, 2)  # (n_tasks, M, n_feat)  M = n_rollouts·H
    m, R = mask.double().flatten(1), returns.double().flatten(1)  # (n_tasks, M) each
    A = X.mT @ (m[..., None] * X) + ridge * torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)
    w = torch.linalg.solve(A, (X.mT @ (m * R)[..., None]))  # (n_tasks, n_feat, 1)
    return (feats @ w[:, None]).squeeze(-1).to(obs.dtype)  # (n_tasks, n_rollouts, H)


def masked_mean(x, mask):
    """Per-task mean over valid steps: x and mask (n_tasks, M) -> (n_tasks,)."""
    return (x * mask).sum(1) / mask.sum(1).clamp(min=1)


def task_advantages(batch, n_tasks, cfg):
    """A rollout batch of n_tasks·n_rollouts task-major sub-envs -> per-task tensors (n_tasks, M = n_rollouts·H, ·)
    with advantages Â from the linear baseline and GAE(γ, λ), normalised per task over its valid steps (center_adv)."""
    n_envs, H = batch["mask"].shape
    mask, rew, term, end = batch["mask"], batch["rew"], batch["terminal"], batch["ep_end"]  # (n_envs, H) each
    zeros = torch.zeros_like(rew)  # (n_envs, H)
    # R_t = Σ_k γ^k r_{t+k} to the episode's end: GAE with V ≡ 0 and λ = 1; no bootstrap at the horizon (H is part
    # of the problem: b sees t)
    R, _ = gae(rew, zeros, zeros, term, end, cfg.gamma, 1.0)  # (n_envs, H)
    shape = (n_tasks, n_envs // n_tasks, H)
    obs = batch["obs"].view(*shape, -1)  # (n_tasks, n_rollouts, H, obs_dim)
    b = linear_baseline(obs, _episode_steps(end).view(shape), R.view(shape), mask.view(shape),
                         cfg.baseline_ridge).reshape(n_envs, H)
    # b(s_{t+1}) of the same episode; 0 past its end (rllab's path ends there)
    b_next = torch.cat([b[:, 1:], zeros[:, :1]], 1) * (1 - end)  # (n_envs, H)
    adv, _ = gae(rew, b, b_next, term, end, cfg.gamma, cfg.gae_lambda)  # (n_envs, H)
    adv, mask = adv.reshape(n_tasks, -1), mask.reshape(n_tasks, -1)  # (n_tasks, M) each
    mean = masked_mean(adv, mask)[:, None]  # (n_tasks, 1)
    std = (masked_mean((adv - mean) ** 2, mask) * mask.sum(1) / (mask.sum(1) - 1).clamp(min=1)).sqrt()[:, None]
    return {"obs": batch["obs"].reshape(n_tasks, -1, batch["obs"].shape[-1]),  # (n_tasks, M, obs_dim)
            # the unclipped sample a ~ π (act_pi) is what the likelihood needs, as in trpo.trpo_step
            "act": batch["act_pi"].reshape(n_tasks, -1, batch["act_pi"].shape[-1]),  # (n_tasks, M, act_dim)
            "adv": (adv - mean) / (std + 1e-8) * mask,  # (n_tasks, M)
            "mask": mask}  # (n_tasks, M)


def task_params(policy, n_tasks):
    """θ repeated per task, {name: (n_tasks, *shape)}, still a differentiable function of the policy's parameters."""
    return {n: p.expand(n_tasks, *p.shape) for n, p in policy.named_parameters()}


def _mean(policy, params, obs):
    """m_θi(s), the mean action under task i's parameters, for every task at once:
    obs (n_tasks, M, obs_dim) -> (n_tasks, M, act_dim)."""
    return vmap(lambda p, o: functional_call(policy, p, (o,)))(params, obs)


def task_dist(policy, params, obs):
    """π_θi(·|s) for every task i: a distribution with batch shape (n_tasks, M) over act_dim-vectors."""
    std = params["log_std"].exp()[:, None]  # (n_tasks, 1, act_dim)
    return Independent(Normal(_mean(policy, params, obs), std, validate_args=False), 1, validate_args=False)


def inner_step(policy, pre, alpha, create_graph=False):
    """Eq. (3) for all tasks of the rollouts `pre` at once, from the policy's θ: θ'_i = θ + α ∇η_ψi(θ), with the vanilla
    policy-gradient estimate ∇η_ψi(θ) = −∇ℓ_i(θ), ℓ_i(θ) = −mean_t log π_θ(a_t|s_t) Â_t on task i's rollouts
    (REINFORCE with the linear baseline). create_graph keeps θ' differentiable in θ (the second-order meta-gradient)."""
    with torch.enable_grad():
        theta = task_params(policy, len(pre["obs"]))  # {name: (n_tasks, *shape)}
        # ℓ_i(θ) = −mean_t log π_θ(a_t|s_t) Â_t
        logp = task_dist(policy, theta, pre["obs"]).log_prob(pre["act"])  # (n_tasks, M)
        loss = -masked_mean(logp * pre["adv"], pre["mask"])  # (n_tasks,)
        # Σ_i ℓ_i has ∂/∂θ_i = ∇ℓ_i: one backward pass gives every task's gradient, each (n_tasks, *shape)
        grads = torch.autograd.grad(loss.sum(), list(theta.values()), create_graph=create_graph)
    # Eq. (3): θ' = θ + α ∇η_ψ(θ) = θ − α ∇ℓ(θ)
    return {n: p - alpha * g for (n, p), g in zip(theta.items(), grads)}


class _AdaptedPolicies:
    """The post-adaptation policies θ'_i as one policy over a vector env whose sub-envs are task-major (n_rollouts per
    task), for trpo.rollout, which calls policy(obs) and reads policy.log_std."""

    def __init__(self, policy, params, n_rollouts):
        self.policy, self.params = policy, {n: p.detach() for n, p in params.items()}  # {name: (n_tasks, *shape)}
        self.log_std = self.params["log_std"].repeat_interleave(n_rollouts, 0)  # (n_envs, act_dim)

    def __call__(self, obs):  # obs (n_envs, obs_dim) -> mean action m (n_envs, act_dim)
        n_tasks = len(self.params["log_std"])
        return _mean(self.policy, self.params, obs.view(n_tasks, -1, obs.shape[-1])).reshape(len(obs), -1)


def meta_objective(policy, pre, post, alpha, pi_old, create_graph):
    """The post-adaptation TRPO surrogate (Eq. 2 with A = A_MAML) and mean KL, as functions of θ through Eq. (3):
    J(θ) = mean_i mean_t π_θ'i(a|s) / π_old'i(a|s) · Â'_t and KL(θ) = mean_i mean_t KL(π_old'i ‖ π_θ'i), on the
    post-adaptation rollouts `post`; θ'_i = θ'_i(θ) is recomputed from the fixed pre-adaptation rollouts `pre`."""
    pi = task_dist(policy, inner_step(policy, pre, alpha, create_graph), post["obs"])
    ratio = torch.exp(pi.log_prob(post["act"]) - pi_old.log_prob(post["act"]))  # (n_tasks, M)
    J = masked_mean(ratio * post["adv"], post["mask"]).mean()
    kl = masked_mean(kl_divergence(pi_old, pi), post["mask"]).mean()
    return J, kl


def _meta_update(policy, pre, post, theta_post, cfg):
    """One TRPO meta-update of θ (MAML's β): natural gradient of the post-adaptation surrogate, through the inner step,
    inside KL ≤ max_kl, backtracking line search (maml_rl's ConjugateGradientOptimizer). theta_post: the θ'_i that
    collected `post`. Returns float stats."""
    params = list(policy.parameters())
    with torch.no_grad():
        pi_old = task_dist(policy, {n: p.detach() for n, p in theta_post.items()}, post["obs"])
    J_old, kl = meta_objective(policy, pre, post, cfg.alpha, pi_old, create_graph=True)
    # ∇_θ J, second order through Eq. (3)
    g = parameters_to_vector(torch.autograd.grad(J_old, params, retain_graph=True))  # (n_params,)
    theta_old = parameters_to_vector(params).detach()  # (n_params,)
    stats = {"kl": 0.0, "surr_improve": 0.0, "ls_accepted": False}
    if not torch.any(g != 0):
        return stats
    Fvp = fisher_vector_product(kl, params, cfg.cg_damping)  # F includes ∂θ'/∂θ of Eq. (3)
    x = conjugate_gradient(Fvp, g, cfg.cg_iters)  # natural direction x ≈ F⁻¹ g
    # largest step κ along x with the quadratic KL model ½ κ² xᵀF x = δ:  κ = sqrt(2δ / xᵀF x)
    kappa = torch.sqrt(2 * cfg.max_kl / (x @ Fvp(x)))
    for k in range(cfg.ls_steps):
        set_flat_params(params, theta_old + cfg.ls_backtrack ** k * kappa * x)  # θ = θ_old + 0.8^k κ x
        with torch.no_grad():
            J_new, kl_new = meta_objective(policy, pre, post, cfg.alpha, pi_old, create_graph=False)
        if torch.isfinite(J_new) and kl_new <= cfg.max_kl and J_new > J_old:
            return {"kl": kl_new.item(), "surr_improve": (J_new - J_old).item(), "ls_accepted": True}
    set_flat_params(params, theta_old)
    return stats


def _episode_return(batch):
    return episode_returns(batch).mean().item()


def meta_train(family, cfg=MAMLConfig(), seed=0, device="cpu", resume=None, save=None, progress=True):
    """MAML-TRPO meta-training (Finn et al. 2017, Algorithm 3 with TRPO as the meta-optimiser) on real rollouts.
    Each meta-iteration: sample meta_batch goals; n_rollouts rollouts per task with θ (one vector env for all tasks);
    Eq. (3) per task; n_rollouts rollouts per task with θ'_i; TRPO meta-update. Every rollout step is counted as a
    real sample. save(checkpoint), if given, is called after every iteration; `resume` (such a checkpoint, same
    settings but perhaps fewer n_iters) continues it exactly. Returns dict(policy, samples, log (one dict per
    meta-iteration), wall_s, checkpoint)."""
    fam, dev = tasks.get_family(family), torch.device(device)
    torch.manual_seed(seed)  # the policy's initialisation
    policy = _policy(fam, cfg, dev)
    gen = torch.Generator(device=dev).manual_seed(seed)  # the policy's action noise in rollouts
    rng = np.random.default_rng(seed)  # goals and env seeds
    run = {"iteration": 0, "samples": 0, "log": [], "wall_s": 0.0}
    if resume is not None:
        ck = _resume(resume, "maml", fam, cfg, seed)
        policy.load_state_dict(ck["policy"])
        gen.set_state(ck["generator"])
        rng.bit_generator.state = ck["rng"]
        run = copy.deepcopy({k: ck[k] for k in run})

    def checkpoint():  # a copy: training changes the policy's tensors in place
        return copy.deepcopy({"format": CHECKPOINT_FORMAT, "kind": "maml", "family": fam.name, "seed": seed,
                              "cfg": asdict(cfg), **run, "policy": policy.state_dict(), "generator": gen.get_state(),
                              "rng": rng.bit_generator.state})

    env = None
    bar = tqdm(range(run["iteration"], cfg.n_iters), initial=run["iteration"], total=cfg.n_iters,
               desc=f"MAML {fam.name}", disable=not progress)
    for it in bar:
        start = time.perf_counter()
        goals = tasks.sample_goals(fam, cfg.meta_batch, rng)  # (meta_batch, goal_dim)  ψ_i ~ p(ψ)
        # NOTE (differs from MAML's code): rllab samples n_rollouts whole episodes per task, so on a body that falls a
        # batch holds fewer samples than n_rollouts·H; here each task gets n_rollouts rows of H steps in which an ended
        # episode restarts in place (as SLBO's runner), so MAML spends, and learns from, its nominal samples.
        env_goals = np.repeat(goals, cfg.n_rollouts, 0)  # (n_envs, goal_dim)  task-major sub-envs
        env = tasks.set_goals(env, fam, env_goals)
        # pre-adaptation rollouts with θ on every task: (n_envs, H, ·)
        pre = rollout(env, policy, fam.horizon, seed=_env_seed(rng), generator=gen)
        pre_t = task_advantages(pre, cfg.meta_batch, cfg)  # (meta_batch, n_rollouts·H, ·)
        theta_post = inner_step(policy, pre_t, cfg.alpha)  # Eq. (3): {name: (meta_batch, *shape)}
        # post-adaptation rollouts, task i with θ'_i
        post = rollout(env, _AdaptedPolicies(policy, theta_post, cfg.n_rollouts), fam.horizon,
                       seed=_env_seed(rng), generator=gen)
        stats = _meta_update(policy, pre_t, task_advantages(post, cfg.meta_batch, cfg), theta_post, cfg)
        # NOTE (differs from paper): footnote 5 counts 4000 samples per task per meta-step (80M in all); here both
        # the pre- and the post-adaptation rollouts are counted, because both are real samples that training uses.
        run["samples"] += int(pre["mask"].sum().item() + post["mask"].sum().item())
        run["wall_s"] += time.perf_counter() - start
        err = slbo.velocity_error(fam, post, env_goals)  # (n_envs,) or None
        row = {"iter": it + 1, "samples": run["samples"], "return_pre": _episode_return(pre),
               "return_post": _episode_return(post), "vel_err_post": None if err is None else err.mean().item(),
               **stats, "wall_s": run["wall_s"]}
        run["log"].append(row)
        run["iteration"] = it + 1
        bar.set_postfix(pre=f"{row['return_pre']:.1f}", post=f"{row['return_post']:.1f}", kl=f"{row['kl']:.4f}")
        if save is not None:
            save(checkpoint())
    if env is not None:
        env.close()
    return {"policy": policy, "samples": run["samples"], "log": run["log"], "wall_s": run["wall_s"],
            "checkpoint": checkpoint()}


def adapt(trained, goal, n_stages, n_samples, shift=None, seed=0, n_eval_episodes=5, device="cpu"):
    """MAML's test-time adaptation (Section 5.1) on task ψ = goal, from θ0 = the policy of `trained` (a checkpoint of
    `meta_train`; it is not changed): n_stages policy-gradient steps of Eq. (3) (α = alpha, then alpha_test), each
    on n_samples fresh real samples, n_samples / H rows of H steps (an episode that ends restarts in place, so a step
    spends exactly that: the same real samples as an SMTL stage). Before the first step and after each, the
    mean-action policy is scored by slbo.evaluate over n_eval_episodes real episodes, as SMTL is. Returns (one point
    per step: {"stage", "samples" (real adaptation samples so far; evaluation episodes not counted), "return",
    "ep_len", "vel_err"}; the adapted policy)."""
    fam, cfg = tasks.get_family(trained["family"]), MAMLConfig(**trained["cfg"])
    goal = tasks.check_goal(fam, goal, shift)  # (goal_dim,)
    policy = policy_from(trained, device)
    params = list(policy.parameters())
    gen = torch.Generator(device=policy.log_std.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = tasks.make_vec_env(fam, np.tile(goal, (slbo.envs_for(n_samples, fam.horizon), 1)), shift)
    curve, samples = [], 0
    for stage in range(n_stages + 1):
        if stage > 0:
            batch = rollout(env, policy, fam.horizon, seed=_env_seed(rng), generator=gen)  # (n_rows, H, ·)
            samples += int(batch["mask"].sum().item())
            # Eq. (3): θ ← θ + α ∇η_ψ(θ)
            theta = inner_step(policy, task_advantages(batch, 1, cfg), cfg.alpha if stage == 1 else cfg.alpha_test)
            set_flat_params(params, torch.cat([theta[n][0].detach().flatten() for n, _ in policy.named_parameters()]))
        point = slbo.measure(fam, policy, goal, n_eval_episodes, shift, seed)  # return, ep_len, vel_err
        curve.append({"stage": stage, "samples": samples, **point})
    env.close()
    return curve, policy


# ---------------------------------------------------------------------------------------------
# The oracle: one TRPO policy π(a | s, ψ) across the task distribution
# ---------------------------------------------------------------------------------------------
class GoalConditionedPolicy(nn.Module):
    """π(a | s, ψ): a GaussianPolicy over [s, ψ] bound to one goal per sub-env (goals (n_envs, goal_dim)), so that
    trpo.rollout and slbo.evaluate can run it on plain task envs, whose observations do not contain ψ."""

    def __init__(self, policy, goals):
        super().__init__()
        self.policy = policy
        self.register_buffer("goals", torch.as_tensor(np.asarray(goals), dtype=torch.float32,
                                                      device=policy.log_std.device))  # (n_envs, goal_dim)

    @property
    def log_std(self):
        return self.policy.log_std

    def forward(self, obs):  # obs (n_envs, obs_dim) -> mean action m(s, ψ) (n_envs, act_dim)
        return self.policy(torch.cat([obs, self.goals.to(obs.dtype)], -1))

    def dist(self, obs):
        return self.policy.dist(torch.cat([obs, self.goals.to(obs.dtype)], -1))


def _with_goals(batch, goals):
    """Append ψ to every observation of a rollout batch: obs and next_obs (n_envs, H, obs_dim + goal_dim)."""
    g = goals[:, None].expand(-1, batch["obs"].shape[1], -1).to(batch["obs"].dtype)  # (n_envs, H, goal_dim)
    return {**batch, "obs": torch.cat([batch["obs"], g], -1), "next_obs": torch.cat([batch["next_obs"], g], -1)}


def train_oracle(family, cfg=OracleConfig(), seed=0, device="cpu", resume=None, save=None, progress=True):
    """The oracle of Section 5.2: TRPO (trpo.trpo_step, with a value function over [s, ψ]) on batches of n_samples real
    samples whose rollouts each have their own goal ψ ~ p(ψ), given to the policy as an input. Saves and resumes as
    meta_train. Returns dict(policy (GaussianPolicy over [s, ψ]), samples, log, wall_s, checkpoint)."""
    fam, dev = tasks.get_family(family), torch.device(device)
    torch.manual_seed(seed)  # initialisations; then the value function's minibatch order (global RNG, saved below)
    in_dim = fam.obs_dim + fam.goal_dim
    norm = Normalizer(in_dim).to(dev) if cfg.obs_norm else None  # shared by π and V, updated from every batch
    policy = _policy(fam, cfg, dev, goal_input=True, obs_normalizer=norm)
    value_fn = ValueFunction(in_dim, cfg.trpo.value_hidden, obs_normalizer=norm).to(dev)
    value_fn.make_optimizer(cfg.trpo.vf_lr)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rng = np.random.default_rng(seed)
    run = {"iteration": 0, "samples": 0, "log": [], "wall_s": 0.0}
    if resume is not None:
        ck = _resume(resume, "oracle", fam, cfg, seed)
        policy.load_state_dict(ck["policy"])
        value_fn.load_state_dict(ck["value_fn"])
        if norm is not None:
            norm.load_state_dict(ck["obs_norm"])
        value_fn.optimizer.load_state_dict(copy.deepcopy(ck["vf_optimizer"]))
        gen.set_state(ck["generator"])
        rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        run = copy.deepcopy({k: ck[k] for k in run})

    def checkpoint():  # a copy: training changes the networks' tensors in place
        return copy.deepcopy({"format": CHECKPOINT_FORMAT, "kind": "oracle", "family": fam.name, "seed": seed,
                              "cfg": asdict(cfg), **run, "policy": policy.state_dict(),
                              "value_fn": value_fn.state_dict(),
                              "vf_optimizer": value_fn.optimizer.state_dict(), "generator": gen.get_state(),
                              "obs_norm": None if norm is None else norm.state_dict(),
                              "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()})

    n_envs = slbo.envs_for(cfg.n_samples, fam.horizon, "the oracle's n_samples")
    env = None
    bar = tqdm(range(run["iteration"], cfg.n_iters), initial=run["iteration"], total=cfg.n_iters,
               desc=f"oracle {fam.name}", disable=not progress)
    for it in bar:
        start = time.perf_counter()
        goals = tasks.sample_goals(fam, n_envs, rng)  # (n_envs, goal_dim)  one ψ ~ p(ψ) per rollout
        env = tasks.set_goals(env, fam, goals)
        pi = GoalConditionedPolicy(policy, goals)
        batch = _with_goals(rollout(env, pi, fam.horizon, seed=_env_seed(rng), generator=gen), pi.goals)
        if norm is not None:
            norm.update(batch["obs"].flatten(0, 1))  # (n_envs · H, obs_dim + goal_dim)
        stats = trpo_step(policy, value_fn, batch, cfg.trpo)
        run["samples"] += int(batch["mask"].sum().item())
        run["wall_s"] += time.perf_counter() - start
        err = slbo.velocity_error(fam, batch, goals)  # (n_envs,) or None
        run["log"].append({"iter": it + 1, "samples": run["samples"], **stats,
                           "vel_err": None if err is None else err.mean().item(), "wall_s": run["wall_s"]})
        run["iteration"] = it + 1
        bar.set_postfix(ret=f"{stats['ep_return']:.1f}", kl=f"{stats['kl']:.4f}")
        if save is not None:
            save(checkpoint())
    if env is not None:
        env.close()
    return {"policy": policy, "samples": run["samples"], "log": run["log"], "wall_s": run["wall_s"],
            "checkpoint": checkpoint()}


def evaluate_oracle(family, policy, goals, shift=None, seed=0):
    """The oracle on each goal (goals (n, goal_dim)), no adaptation: slbo.evaluate of the mean action of π(a | s, ψ)."""
    fam = tasks.get_family(family)
    goals = np.asarray(goals, dtype=np.float64).reshape(-1, fam.goal_dim)  # (n, goal_dim)
    goals = np.stack([tasks.check_goal(fam, g, shift) for g in goals])
    return slbo.evaluate(fam, GoalConditionedPolicy(policy, goals), goals, shift, seed)
