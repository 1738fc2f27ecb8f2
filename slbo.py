"""Single-task SLBO (Luo et al. 2019), the engine SMTL runs on every task: Algorithm 1, lines 6–14.

Line 7 collects real samples with Ornstein–Uhlenbeck exploration noise into the dataset D;
`virtual_training` (lines 9–14) alternates n_model Adam steps of Eq. (4) on D with n_policy TRPO steps
on rollouts inside the learned model M̂_φ; `slbo` runs n_slbo stages of both and counts every real sample.
A `Learner` holds what persists across stages (and, for SMTL, across tasks): φ, D, V and their optimisers.

    learner = Learner("cheetah-vel", SLBOConfig(), seed=0)
    log = slbo(learner, learner.new_policy(), goal=1.0, n_slbo=10, n_inner=20)   # per stage: samples, return, |v − g|
    virtual_training(learner, policy, goal=1.0, n_inner=40)            # SMTL's warm-up: no real samples
"""
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

import tasks
from config import hp
from dynamics import Dataset, DynamicsConfig, DynamicsModel, VirtualEnv, fit
from trpo import GaussianPolicy, TRPOConfig, ValueFunction, rollout, trpo_step

# virtual_training warns when more than this fraction of its predicted states was clipped. SLBO clips silently; here
# every clip is logged. Most committed quick-preset runs clip fewer than one predicted state in a thousand, the worst
# (two half-cheetah seeds of Figure 1a) just under one in a hundred (train_n_clipped in docs/results/*.json), so more
# than one in a hundred marks a model that is leaving its data
CLIP_WARN = 0.01


@dataclass(frozen=True)
class SLBOConfig:
    n_collect: int = hp(4000, "real samples per SLBO stage, Algorithm 1 line 7 (8,000 on the ant and the humanoid: "
                              "BODY)", ">= 1", source="paper, Appendix 7.1")
    n_trpo: int = hp(4000, "virtual samples per TRPO batch, line 13: n_trpo / H model rollouts of H steps in parallel",
                     ">= 1", source="paper, Appendix 7.1")
    n_model: int = hp(100, "n_model: Adam steps on Eq. (4) per inner round, line 11", ">= 0",
                      source="paper, Appendix 7.1")
    n_policy: int = hp(40, "n_policy: TRPO steps on virtual rollouts per inner round, lines 12-14", ">= 0",
                       source="paper, Appendix 7.1")
    ou_theta: float = hp(0.15, "Ornstein-Uhlenbeck exploration noise: mean reversion rate ϑ_ou", "[0, 1]",
                         source="SLBO's code")
    ou_sigma: float = hp(0.3, "Ornstein-Uhlenbeck exploration noise: scale σ_ou", ">= 0", source="SLBO's code")
    n_init_states: int = hp(1000, "pool of real initial states s0 ~ p0 that virtual rollouts start from", ">= 1",
                            source="ours: SLBO resets a real env for each virtual start; a pool drawn once serves the "
                                   "same p0 without MuJoCo in the rollout loop")
    # NOTE (differs from paper): Algorithm 1's line 7 grows D without bound (D ← D ∪ …); D keeps the newest 200,000
    # real transitions as SLBO's and the SMTL authors' code do, so on the legged bodies (8,000 samples a task) the first
    # tasks' data leave D after 25 tasks. Keeping every transition was tried on the ant (lab/levers.py, buffer-all).
    buffer_size: int = hp(200_000, "D keeps the newest this many real transitions, first in first out",
                          ">= 1", source="SLBO's code")


class _OUNoise:
    """x ← x − ϑ_ou x + σ_ou ε, ε ~ N(0, I): temporally correlated exploration noise, one process per env."""

    def __init__(self, n_envs, act_dim, theta, sigma, generator):
        self.shape, self.theta, self.sigma, self.gen = (n_envs, act_dim), theta, sigma, generator
        self.reset()

    def reset(self):
        self.x = torch.zeros(self.shape)  # (n_envs, act_dim)

    def restart(self, ended):
        """x ← 0 for the envs whose episode ended (ended (n_envs,) bool): a new episode starts without noise."""
        self.x = torch.where(torch.as_tensor(ended, device=self.x.device)[:, None], 0.0, self.x)

    def __call__(self):
        self.x = self.x - self.theta * self.x + self.sigma * torch.randn(self.shape, generator=self.gen)
        return self.x


def env_seed(generator):
    """A fresh integer seed for a real env, drawn from the learner's generator (same seed, same numbers)."""
    return int(torch.randint(2 ** 31 - 1, (1,), generator=generator))


def envs_for(n_samples, horizon, name="n_samples"):
    """How many envs, each stepped H times, take exactly n_samples steps (the rows of the rollout batch):
    n_samples / H, or a clear ValueError naming `name` if n_samples is not a positive multiple of H."""
    if n_samples < horizon or n_samples % horizon:
        raise ValueError(f"{name} must be a positive multiple of the horizon {horizon}, got {n_samples}")
    return n_samples // horizon


class Learner:
    """What SLBO keeps between stages and SMTL between tasks (the SMTL authors' code re-initialises only the policy):
    the model φ with its normalisers and Adam state, the real dataset D, the value function V, the pool of real
    initial states, and the random stream every stochastic step draws from."""

    def __init__(self, family, cfg=SLBOConfig(), dyn=DynamicsConfig(), trpo=TRPOConfig(), seed=0, device="cpu"):
        self.family, self.cfg, self.dyn, self.trpo = tasks.get_family(family), cfg, dyn, trpo
        self.device = torch.device(device)
        torch.manual_seed(seed)  # network initialisations and the value function's minibatch order
        self.generator = torch.Generator().manual_seed(seed)  # rollouts, model minibatches, env seeds (CPU stream)
        f = self.family
        self.model = DynamicsModel(f.obs_dim, f.act_dim, f.act_low, f.act_high, dyn.hidden).to(self.device)
        self.data = Dataset(f.obs_dim, f.act_dim, self.device, capacity=cfg.buffer_size)
        # NOTE (differs from paper): V and its Adam state persist from task to task and into adaptation, as in the
        # SMTL authors' code; Algorithm 1 line 4 and Eq. (6) re-initialise θ alone and say nothing of V
        self.value_fn = self.new_value_fn()
        # NOTE (differs from paper): virtual rollouts start from a pool of n_init_states real reset states s0 ~ p0,
        # drawn once, where SLBO's code resets a real env for every virtual start (the same p0) and Section 5.1 says
        # the warm-up uses "data sampled from D0": start states from p0 are what a real episode starts from
        s0 = tasks.initial_states(f, cfg.n_init_states, seed=seed)  # (n_init_states, obs_dim)
        self.init_states = torch.as_tensor(s0, dtype=torch.float32, device=self.device)
        self.samples = 0  # real environment steps taken so far (line 7, and the true rating's episodes)

    def new_value_fn(self):
        """A freshly initialised V (its Adam is made on first use) that shares φ's state normaliser."""
        return ValueFunction(self.family.obs_dim, self.trpo.value_hidden, self.model.obs_norm).to(self.device)

    def new_policy(self):
        """A freshly initialised π_θ (Algorithm 1 line 4) that shares φ's state normaliser."""
        f = self.family
        return GaussianPolicy(f.obs_dim, f.act_dim, self.trpo.policy_hidden, self.model.obs_norm,
                              activation=self.trpo.policy_activation, slbo_init=self.trpo.slbo_init).to(self.device)


def collect(learner, policy, goal, n_samples, shift=None):
    """Algorithm 1 line 7: D ← D ∪ {n_samples real samples from π_θ plus OU noise}; updates the normalisers.
    n_samples / H envs step H times each; an env whose episode ends resets and goes on (SLBO's runner), so exactly
    n_samples real samples are taken. Returns the batch and n_samples."""
    # NOTE (differs from SLBO): every collection starts n_samples / H fresh episodes and cuts each row at H steps, so
    # an episode begun after a fall is cut short; SLBO collects with one env whose episode runs on into the next
    # collection. On a body that falls, D here holds more of an episode's first steps.
    f, cfg = learner.family, learner.cfg
    n_envs = envs_for(n_samples, f.horizon, "n_collect")
    env = tasks.make_vec_env(f, np.tile(tasks.check_goal(f, goal, shift), (n_envs, 1)), shift)
    noise = _OUNoise(n_envs, f.act_dim, cfg.ou_theta, cfg.ou_sigma, learner.generator)
    batch = rollout(env, policy, f.horizon, noise=noise, seed=env_seed(learner.generator), generator=learner.generator)
    env.close()
    obs, next_obs = learner.data.add(batch)  # all n_samples transitions, (n_samples, obs_dim) each
    learner.model.update_normalizers(obs, next_obs)
    learner.samples += len(obs)
    return batch, len(obs)


def virtual_training(learner, policy, goal, n_inner, shift=None, progress=False, warn=True):
    """VirtualTraining(θ, φ, D, n_inner), Algorithm 1 lines 9-14: n_inner rounds of n_model Adam steps on the model,
    then n_policy TRPO steps on the policy; no real samples. `shift` only says which goal space ψ comes from
    (pos2neg). Returns the last round's model loss, mean virtual return and mean TRPO KL, and how many predicted
    states were clipped over all rounds (with `warn`, a warning past CLIP_WARN of them: warn_clipped).

    Eq. (5), SLBO's objective: max_{θ,φ} η^{M̂_φ}(π_θ) − λ E[L⁽ᵏ⁾(φ)], reward-to-go in the model minus λ times the
    model's k-step loss (Eq. 4) on real data. SLBO optimises it by alternation: line 11 minimises the second term
    over φ, lines 12-14 maximise the first over θ. λ only weights the two terms, so alternation never computes it.
    (GAE's λ, trpo.TRPOConfig.gae_lambda, is another quantity.)"""
    cfg, f = learner.cfg, learner.family
    env = VirtualEnv(learner.model, f, tasks.check_goal(f, goal, shift),
                     learner.init_states, n_envs=envs_for(cfg.n_trpo, f.horizon, "n_trpo"), generator=learner.generator,
                     cfg=learner.dyn)
    model_loss, virtual_return, kl, n_clipped = float("nan"), float("nan"), float("nan"), 0
    bar = tqdm(range(n_inner), desc="virtual training", leave=False, disable=not progress)
    for _ in bar:
        # line 11: φ ← argmin of Eq. (5)'s second term, L⁽ᵏ⁾ (Eq. 4) on windows from D: n_model Adam steps
        model_loss = fit(learner.model, learner.data, cfg.n_model, learner.dyn, generator=learner.generator)
        steps = []
        for _ in range(cfg.n_policy):
            # line 13: D' ← {n_trpo samples with M̂_φ as the dynamics}, from real initial states; an episode that
            # ends (the body falls) restarts in place from a fresh real initial state
            batch = rollout(env, policy, f.horizon, generator=learner.generator)
            n_clipped += env.n_clipped
            # line 14: θ ← argmax of Eq. (5)'s first term, η^{M̂_φ}(π_θ) on D': one TRPO step
            steps.append(trpo_step(policy, learner.value_fn, batch, learner.trpo))
        virtual_return = float(np.mean([st["ep_return"] for st in steps]))
        kl = float(np.mean([st["kl"] for st in steps]))
        bar.set_postfix(model_loss=f"{model_loss:.3f}", virtual_return=f"{virtual_return:.1f}")
    if warn:
        warn_clipped(learner, n_clipped, n_inner)
    return {"model_loss": model_loss, "virtual_return": virtual_return, "kl": kl, "n_clipped": n_clipped}


def warn_clipped(learner, n_clipped, n_inner):
    """A RuntimeWarning if more than CLIP_WARN of the states M̂_φ predicted in n_inner rounds were clipped: the policy
    then trains on a model that has left the data (a few clipped states are normal and only logged)."""
    predicted = n_inner * learner.cfg.n_policy * learner.cfg.n_trpo  # virtual states predicted by M̂_φ
    if predicted and n_clipped > CLIP_WARN * predicted:
        warnings.warn(f"the dynamics model left its box on {n_clipped} of {predicted} predicted states "
                      f"(|normalised s| > {learner.dyn.clip}, clipped): it may be diverging", RuntimeWarning,
                      stacklevel=3)


def velocity_error(family, batch, goals):
    """|v − g| (‖v − g‖ for 2-D goals) of each row of a rollout batch, averaged over all of its H steps: (n_envs,);
    goals (n_envs, goal_dim), one per row. A step after the row's episode ended (the body fell) counts as standing
    still's error ‖g‖, so a policy that falls early cannot look as if it tracks. None for families without a goal
    velocity (forward/backward)."""
    if family.kind != "velocity":
        return None
    v = batch["next_obs"][..., list(family.vel_index[:family.goal_dim])]  # (n_envs, H, goal_dim)
    g = torch.as_tensor(np.asarray(goals), dtype=v.dtype, device=v.device)[:, None]  # (n_envs, 1, goal_dim)
    m = batch["mask"]  # (n_envs, H)
    # NOTE (differs from paper): the paper reports no |v − g|; here a step after a fall counts as v = 0 because
    # averaging over the steps before the fall alone lets a policy that falls at once look as if it tracks
    return ((v - g).norm(dim=-1) * m + g.norm(dim=-1) * (1 - m)).mean(1)


@torch.no_grad()
def evaluate(family, policy, goals, shift=None, seed=0):
    """Real return of π_θ's mean action on each goal (one episode per row of goals (n, goal_dim)), its length in steps
    (H unless the body fell) and the speed error |v − g| over the H steps (velocity_error; None for forward/backward
    tasks). Evaluation episodes are a measurement: they are not added to D nor counted as samples."""
    # NOTE (differs from paper): the paper does not say how a return is measured; here it is always the mean action's
    # (SMTL, MAML and the oracle alike), over episodes that end where the body falls
    f = tasks.get_family(family)
    goals = np.asarray(goals, dtype=np.float64).reshape(-1, f.goal_dim)
    env = tasks.make_vec_env(f, goals, shift)
    batch = rollout(env, policy, f.horizon, deterministic=True, seed=seed, one_episode=True)
    env.close()
    returns = (batch["rew"] * batch["mask"]).sum(1)  # (n,)
    err = velocity_error(f, batch, goals)
    return {"return": returns.cpu().numpy(), "ep_len": batch["mask"].sum(1).cpu().numpy(),
            "vel_err": None if err is None else err.cpu().numpy()}


def episode_means(ev):
    """The means of an `evaluate` result over its episodes: {"return", "ep_len", "vel_err" (None if not a velocity
    task)}, plain floats (a point of a learning curve)."""
    return {k: None if v is None else float(v.mean()) for k, v in ev.items()}


def measure(family, policy, goal, n_episodes, shift=None, seed=0):
    """θ's mean action on goal ψ over n_episodes real episodes (`evaluate`), averaged (`episode_means`): a point of a
    learning curve, {"return", "ep_len", "vel_err"}; a measurement, not data (no samples counted, nothing added to
    D)."""
    return episode_means(evaluate(family, policy, np.tile(goal, (n_episodes, 1)), shift, seed=seed))


def slbo(learner, policy, goal, n_slbo, n_inner, shift=None, eval_seed=0, progress=True):
    """Algorithm 1 lines 6-8: n_slbo stages of (collect n_collect real samples, VirtualTraining(n_inner)).
    After each stage, the policy is evaluated on the real task; returns one dict per stage."""
    log = []
    bar = tqdm(range(n_slbo), desc=f"SLBO {learner.family.name}", disable=not progress)
    for stage in bar:
        collect(learner, policy, goal, learner.cfg.n_collect, shift)  # line 7
        vt = virtual_training(learner, policy, goal, n_inner, shift=shift, progress=progress)  # line 8
        ev = evaluate(learner.family, policy, np.atleast_1d(goal)[None], shift, seed=eval_seed)
        row = {"stage": stage + 1, "samples": learner.samples, **episode_means(ev), **vt}
        log.append(row)
        bar.set_postfix(samples=row["samples"], ret=f"{row['return']:.1f}",
                        **({} if row["vel_err"] is None else {"vel_err": f"{row['vel_err']:.3f}"}))
    return log
