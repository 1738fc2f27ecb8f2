"""Find the bug: runs of the method with one planted bug each, their curves beside the reference's, and a question.

Each problem swaps one function of the method files for a version with one wrong line (its listing is the problem's
text), runs the same small experiment with the reference and with the bug from the same seeds, and draws both:

- `bug-gae`: single-task SLBO on the ant, whose episodes end where the body falls;
- `bug-model-loss`: single-task SLBO on the half-cheetah, and the learned model's error k steps ahead;
- `bug-maml`: MAML meta-trained on the half-cheetah, then adapted by 3 policy-gradient steps.

The question is the same for each: which line is wrong, and do the curves show it? If not, what would? The answers
are in docs/exercise-answers.md, apart from the questions (docs/exercises.md).

    python run.py exercise bug-gae        # runs (or resumes) both versions, writes runs/exercises/bug-gae.json and .png
"""
import inspect
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch.distributions import kl_divergence

import config
import dynamics
import maml
import slbo
import tasks
import trpo
from lab import figures, legged, store
from maml import inner_step, masked_mean, task_dist

SEEDS = (0, 1)  # training seeds, each run once with the reference and once with the bug


# ---------------------------------------------------------------------------------------------
# The planted bugs: each the reference with one line changed
# ---------------------------------------------------------------------------------------------
def gae(rew, values, next_values, terminal, ep_end, gamma, gae_lambda):
    """GAE(γ, λ) on (n_envs, H) tensors -> (advantages Â, returns Â + V)."""
    delta = rew + gamma * (1.0 - terminal) * next_values - values  # δ_t = r_t + γ (1 − d_t) V(s_{t+1}) − V(s_t)
    adv, last = torch.zeros_like(rew), torch.zeros_like(rew[:, 0])
    for t in reversed(range(rew.shape[1])):
        last = delta[:, t] + gamma * gae_lambda * last  # Â_t = δ_t + γλ Â_{t+1}
        adv[:, t] = last
    return adv, adv + values


def multi_step_loss(model, obs_seq, act_seq):
    """Eq. (4) on windows s_{t:t+k} (B, k+1, obs_dim), a_{t:t+k−1} (B, k, act_dim): a scalar, mean over the batch."""
    k, d = act_seq.shape[1], obs_seq.shape[-1]
    target = model.diff_norm(obs_seq[:, 1:] - obs_seq[:, :-1])  # (Δ − Δ̄) / σ_Δ (B, k, obs_dim)
    loss = torch.zeros(obs_seq.shape[0])
    for i in range(k):
        f = model.delta(obs_seq[:, i], act_seq[:, i])  # f_φ(ŝ_{t+i}, a_{t+i}) (B, obs_dim)
        loss = loss + torch.linalg.vector_norm(f - target[:, i], dim=-1)  # ‖e_{i+1}‖₂
    return loss.mean() / (k * math.sqrt(d))  # L⁽ᵏ⁾ = (1/k) Σ_i ‖e_i‖₂ / √obs_dim


def meta_objective(policy, pre, post, alpha, pi_old, create_graph):
    """The post-adaptation TRPO surrogate J(θ) and mean KL(θ), as functions of θ through Eq. (3)."""
    pi = task_dist(policy, inner_step(policy, pre, alpha, False), post["obs"])  # π_θ'i, θ'_i = θ + α∇η_ψi(θ)
    ratio = torch.exp(pi.log_prob(post["act"]) - pi_old.log_prob(post["act"]))  # (n_tasks, M)
    J = masked_mean(ratio * post["adv"], post["mask"]).mean()
    kl = masked_mean(kl_divergence(pi_old, pi), post["mask"]).mean()
    return J, kl


# ---------------------------------------------------------------------------------------------
# The experiments that show them
# ---------------------------------------------------------------------------------------------
def _slbo_curve(family, goal, n_stages, seed, k_error=False):
    """Single-task SLBO at the quick preset (5 rounds per stage) on one goal: per stage |v − g| over 200 steps,
    episode length and real return of the mean action; with k_error, the model's open-loop error 1 … 20 steps ahead
    along the last policy's real episodes (legged.diagnose_policy)."""
    torch.set_num_threads(1)
    c = config.values(family, "quick")
    learner = slbo.Learner(family, slbo.SLBOConfig(**c["slbo"]), dynamics.DynamicsConfig(**c["dyn"]),
                           trpo.TRPOConfig(**c["trpo"]), seed=seed)
    policy = learner.new_policy()
    log = slbo.slbo(learner, policy, goal, n_stages, c["smtl"]["n_inner_adapt"], eval_seed=seed, progress=False)
    out = {"samples": [r["samples"] for r in log], **{k: [r[k] for r in log] for k in ("vel_err", "ep_len", "return")}}
    if k_error:
        out["kstep_error"] = legged.diagnose_policy(learner, policy, goal, seed)["kstep_error"]
    return out


def _maml_curve(seed, n_iters=40, n_goals=4):
    """MAML meta-trained on the half-cheetah for n_iters meta-updates at the quick preset's batch (0.8M samples at
    40), then adapted to n_goals tuning goals: the return after 0, 1, 2, 3 steps (mean over goals), and the training
    curve (mean return after the inner step, per meta-update)."""
    torch.set_num_threads(1)
    c = config.values("cheetah-vel", "quick")
    cfg = maml.MAMLConfig(**{**c["maml"], "n_iters": n_iters})
    out = maml.meta_train("cheetah-vel", cfg, seed=seed, progress=False)
    curves = [[p["return"] for p in maml.adapt(out["checkpoint"], g, 3, c["slbo"]["n_collect"], seed=seed * 1000 + i,
                                                n_eval_episodes=2)[0]]
              for i, g in enumerate(tasks.tuning_goals("cheetah-vel", n_goals))]
    return {"steps": list(range(4)), "return": np.mean(curves, 0).tolist(),
            "train_return_post": [r["return_post"] for r in out["log"]]}


def _ant_goal():
    return legged.slbo_curve_goals("ant-vel")[1]  # the ant's fast tuning goal (2.22 m/s): early policies fall often


def _cheetah_goal():
    goals = tasks.tuning_goals("cheetah-vel", tasks.GOAL_BLOCK)
    return goals[np.argsort(goals[:, 0])[len(goals) // 2]]  # the median of the first 8, as the exercises' run


@dataclass(frozen=True)
class Bug:
    title: str
    swap: tuple  # (module, attribute): where the buggy function goes
    buggy: object  # the function with the planted bug (its listing is the problem)
    run: object  # run(seed) -> the curves of one run
    panels: tuple  # (key of the run's curves, x key or None, y label) drawn side by side


BUGS = {
    "bug-gae": Bug("GAE in SLBO on the ant (its episodes end where it falls)", (trpo, "gae"), gae,
                   lambda seed: _slbo_curve("ant-vel", _ant_goal(), 8, seed),
                   (("vel_err", "samples", "|v − g| over 200 steps (m/s)"),
                    ("ep_len", "samples", "episode length (steps; 200: no fall)"),
                    ("return", "samples", figures.RETURN_LABEL))),
    "bug-model-loss": Bug("the model loss in SLBO on the half-cheetah", (dynamics, "multi_step_loss"),
                          multi_step_loss, lambda seed: _slbo_curve("cheetah-vel", _cheetah_goal(), 4, seed, True),
                          (("vel_err", "samples", "|v − g| over 200 steps (m/s)"),
                           ("kstep_error", None, "model error k steps ahead (normalised units)"))),
    "bug-maml": Bug("MAML's meta-objective on the half-cheetah", (maml, "meta_objective"), meta_objective,
                    _maml_curve, (("train_return_post", None, "return after the inner step, per meta-update"),
                                  ("return", "steps", f"{figures.RETURN_LABEL} after k test-time steps"))),
}


def listing(name):
    """The buggy function's source, numbered from 1: the problem's text."""
    lines = inspect.getsource(BUGS[name].buggy).rstrip().split("\n")
    return "\n".join(f"{i + 1:2d}  {line}" for i, line in enumerate(lines))


def _one(name, variant, seed, folder):
    """One run (variant "reference" or "bug") from `seed`, resumed from its JSON in folder if it is there."""
    path = os.path.join(folder, f"{name}-{variant}-s{seed}.json")
    if os.path.exists(path):
        return store.read_json(path)
    bug = BUGS[name]
    module, attr = bug.swap
    saved = getattr(module, attr)
    try:
        if variant == "bug":
            setattr(module, attr, bug.buggy)
        out = bug.run(seed)
    finally:
        setattr(module, attr, saved)
    store.write_json(out, path)
    return out


def answer(name, root="runs"):
    """Run both versions of bug `name` from SEEDS (resuming), then write <root>/exercises/NAME.json (the curves per
    version and seed, the listing) and NAME.png; returns their paths."""
    folder = os.path.join(root, "exercises", "bugs")
    os.makedirs(folder, exist_ok=True)
    runs = {v: {s: _one(name, v, s, folder) for s in SEEDS} for v in ("reference", "bug")}
    base = os.path.join(root, "exercises", name)
    bug = BUGS[name]
    store.write_json({"name": name, "title": bug.title, "seeds": list(SEEDS), "listing": listing(name),
                      "runs": {v: {str(s): r for s, r in by_seed.items()} for v, by_seed in runs.items()}},
                     base + ".json")
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, len(bug.panels), figsize=(5.2 * len(bug.panels), 3.9), squeeze=False)
    for ax, (key, x_key, label) in zip(axes[0], bug.panels):
        for color, variant in (("C0", "reference"), ("C3", "bug")):
            for j, (seed, r) in enumerate(runs[variant].items()):
                x = r[x_key] if x_key else list(range(1, len(r[key]) + 1))
                ax.plot(x, r[key], figures.SEED_MARKERS[j] + "-", color=color, ms=4,
                        label=f"{'the reference' if variant == 'reference' else 'with the bug'}, seed {seed}")
        ax.set_xlabel({"samples": "real samples", "steps": "test-time steps", None: "k" if key == "kstep_error"
                       else "meta-update"}[x_key])
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Find the bug: {bug.title}; blue the reference, red the planted bug, one line per seed", fontsize=9)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=130)
    plt.close(fig)
    return base + ".json", base + ".png"
