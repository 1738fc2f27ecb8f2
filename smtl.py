"""Sequential Multi-task Learning (SMTL): Algorithm 1, the adaptation of Eq. (6) and active task selection (Sec. 4.4).

`train` runs Algorithm 1: one dynamics model φ and one dataset D are shared by a sequence of tasks ψ ~ p(ψ); each task
gets a freshly initialised policy, a warm-up VirtualTraining(n_warmup) inside the learned model (skipped for the first
task, when D is empty) and n_slbo_train stages of real collection + VirtualTraining(n_inner_train). With Section 4.4's
active selection, a task whose rating μ(ψ) falls below a quantile of the recent ratings is skipped after its warm-up.
`adapt` is Eq. (6): A(φ, ψ) = SLBO(VT(θ̃₀, φ, D, n_warmup), φ, D, n_slbo), a zero-sample warm-up then SLBO stages.

    out = train("cheetah-vel", SMTLConfig(n_tasks=20))                     # φ, D after 20 tasks (Algorithm 1)
    curve, policy = adapt(out["checkpoint"], goal=1.3, n_stages=3, n_samples=4000)   # Eq. (6)
    print([(p["samples"], round(p["return"], 1)) for p in curve])          # 0 samples (warm-up only), then per stage
"""
import contextlib
import copy
import itertools
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

import config
import tasks
from config import hp
from dynamics import DynamicsConfig, DynamicsModel, ModelDivergedError, VirtualEnv, fit
from slbo import Learner, SLBOConfig, collect, envs_for, measure, virtual_training, warn_clipped
from trpo import TRPOConfig, episode_returns, rollout

CHECKPOINT_FORMAT = "smtl-checkpoint-v5"  # v5: the task ratings' own random stream
# The ratings' numpy stream is seeded [seed, RATING_STREAM], apart from the training's streams, so that rating a task
# changes nothing else (any constant would do; 44 recalls Section 4.4)
RATING_STREAM = 44
ACTIVE = {
    "true": "μ(ψ) = η^M̂(θ) − η^M*(θ) of the warm-up policy θ: virtual minus real return (costs real samples)",
    "estimated": "μ̂(ψ) = mean |η^M̂_a(θ) − η^M̂_b(θ)| over pairs of model snapshots from warm-up (no real samples)",
}


@dataclass(frozen=True)
class SMTLConfig:
    # NOTE (differs from paper): Algorithm 1 runs VirtualTraining(n_inner) after each collection (line 8); while
    # training n_inner_train = 0, as in the authors' code (github.com/nlandolfi/slbo), because there the next task's
    # warm-up fits φ anyway. Section 5.1 adapts with 3 SLBO stages, the Appendix says 4: 3, as the figures show.
    n_tasks: int = hp(100, "n_tasks: tasks trained in sequence, Algorithm 1 line 2", ">= 1",
                      source="paper, Section 5.1 and Appendix 7.1")
    n_warmup: int = hp(40, "n_warmup: VirtualTraining rounds that warm a new task's policy up, line 5 and Eq. (6)",
                       ">= 0", source="paper, Appendix 7.1")
    n_warmup_adapt: int | None = hp(None, "n_warmup at adaptation: Eq. (6)'s warm-up rounds (none: n_warmup, as in "
                                          "the paper, which gives one value for both)", ">= 0",
                                    source="paper, Appendix 7.1 (one n_warmup for training and adaptation)")
    n_slbo_train: int = hp(1, "n_slbo while training: real collections per task, line 6", ">= 1",
                           source="paper, Appendix 7.1")
    n_inner_train: int = hp(0, "n_inner while training: VirtualTraining rounds after each collection, line 8", ">= 0",
                            source="the SMTL authors' code")
    n_slbo_adapt: int = hp(3, "n_slbo at adaptation: SLBO stages after the warm-up, Eq. (6); also MAML's test-time "
                              "steps", ">= 0", source="paper, Section 5.1 (the Appendix says 4)")
    n_inner_adapt: int = hp(40, "n_inner at adaptation: VirtualTraining rounds after each collection", ">= 0",
                            source="the SMTL authors' code (their evaluation config; the paper gives none)")
    carry_value: bool = hp(True, "V and its Adam state carry over from task to task and into adaptation (false: a "
                                 "fresh V with each fresh θ)", source="the SMTL authors' code")
    n_eval_episodes: int = hp(5, "real episodes (mean action) that measure a policy's return; not counted as samples",
                              ">= 1", source="ours: the paper does not say how a return is measured; 5 episodes "
                                             "differ only by the reset noise")
    # Section 4.4 leaves q, L, the true rating's samples and the estimated rating's models open; q and L are the
    # authors' code's (skip if μ is below the median of the previous 10 ratings), the rest ours.
    active: str = hp("off", "active task selection, Section 4.4: off, true or estimated",
                     source="paper, Algorithm 1 (Section 4.4 extends it)")
    active_q: float = hp(0.5, "q: skip a task whose rating is below the q-quantile of the last L ratings", "[0, 1]",
                         source="the SMTL authors' code (the median)")
    active_L: int = hp(10, "L: ratings of the last L tasks seen form the skip threshold", ">= 1",
                       source="the SMTL authors' code")
    n_rate_episodes: int = hp(2, "'true' rating: real episodes of the warm-up policy (counted as samples)", ">= 1",
                              source="ours: Section 4.4 says the true rating needs samples, not how many")
    n_snapshots: int = hp(3, "'estimated' rating: models from the last warm-up rounds whose returns are compared",
                          ">= 0", source="ours: Section 4.4 says 'several pairs of virtual models'; 3 snapshots "
                                         "give 3 pairs (the authors' code trains separate models)")
    max_candidates: int = hp(3, "active selection: at most this many candidates per trained task before giving up",
                             ">= 1", source="ours: Section 4.4 does not bound the skips; 3 per task bounds a run")


def check_active(cfg):
    """A ValueError unless cfg's task selection can run: a known rating, and for the estimated one 2 to n_warmup
    model snapshots to compare."""
    if cfg.active not in ("off", *ACTIVE):
        raise ValueError(f"unknown active task selection {cfg.active!r}; choose off, {', '.join(ACTIVE)}")
    if cfg.active == "estimated" and not 2 <= cfg.n_snapshots <= cfg.n_warmup:
        raise ValueError(f"the estimated rating compares 2 to n_warmup={cfg.n_warmup} model snapshots, "
                         f"not n_snapshots={cfg.n_snapshots}")


# ---------------------------------------------------------------------------------------------
# Warm-up and task ratings (Section 4.4)
# ---------------------------------------------------------------------------------------------
def fresh_policy(learner, cfg):
    """Algorithm 1 line 4 (and Eq. 6's θ̃₀): a freshly initialised policy θ for a new task; V is made fresh with it
    where it is not carried from task to task (cfg.carry_value)."""
    policy = learner.new_policy()
    if not cfg.carry_value:
        learner.value_fn = learner.new_value_fn()
    return policy


def warm_up(learner, policy, goal, n_warmup, n_snapshots=0, shift=None, progress=False):
    """VirtualTraining(θ, φ, D, n_warmup) (Algorithm 1 line 5; Eq. (6)'s inner VT), one round at a time, keeping the
    model after each of the last n_snapshots rounds (the 'estimated' rating compares them). Returns (the last round's
    stats with the clipped states of all rounds, snapshots)."""
    stats, snapshots, n_clipped = {"model_loss": None, "virtual_return": None, "kl": None}, [], 0
    for i in tqdm(range(n_warmup), desc="warm-up", leave=False, disable=not progress):
        stats = virtual_training(learner, policy, goal, 1, shift=shift, warn=False)
        n_clipped += stats["n_clipped"]
        if i >= n_warmup - n_snapshots:
            snapshots.append({k: v.clone() for k, v in learner.model.state_dict().items()})
    warn_clipped(learner, n_clipped, n_warmup)  # the clipped share of the whole VirtualTraining(n_warmup)
    return {**stats, "n_clipped": n_clipped}, snapshots


@torch.no_grad()
def model_return(learner, model, policy, goal, seed):
    """η^M̂(θ): mean return of θ's mean action in `model` from n_trpo/H real start states drawn with `seed`."""
    f = learner.family
    env = VirtualEnv(model, f, goal, learner.init_states, n_envs=envs_for(learner.cfg.n_trpo, f.horizon, "n_trpo"),
                     cfg=learner.dyn)
    batch = rollout(env, policy, f.horizon, deterministic=True, seed=seed, one_episode=True)
    return episode_returns(batch).mean().item()


def real_return(learner, policy, goal, n_episodes, seed):
    """η^M*(θ): mean real return of θ's mean action over n_episodes from resets seeded `seed`; the samples are counted
    (as the paper counts them), not added to D (as the authors' code keeps them apart)."""
    f = learner.family
    env = tasks.make_vec_env(f, np.tile(goal, (n_episodes, 1)))
    batch = rollout(env, policy, f.horizon, deterministic=True, seed=seed, one_episode=True)
    env.close()
    learner.samples += int(batch["mask"].sum().item())  # the episodes' steps only (mask 1)
    return episode_returns(batch).mean().item()


def rating(learner, policy, goal, snapshots, cfg, rng):
    """μ(ψ) of Section 4.4 for the warm-up policy θ, and the real samples it spent. Its start states come from `rng`,
    the ratings' own stream: rating a task draws nothing from the training's streams and changes neither φ nor D, so
    a run whose ratings skip nothing is plain SMTL to the digit (but for the true rating's samples, counted)."""
    # NOTE (differs from paper): η in μ is the undiscounted return of θ's mean action over one H-step episode, as
    # every return here (slbo.evaluate), where Eq. (1) defines η as the discounted return of the stochastic policy.
    seed = int(rng.integers(2 ** 31 - 1))  # the same start states for every model
    if cfg.active == "true":
        before = learner.samples
        mu = true_rating(model_return(learner, learner.model, policy, goal, seed),
                         real_return(learner, policy, goal, cfg.n_rate_episodes, seed))
        return mu, learner.samples - before
    f = learner.family
    with torch.random.fork_rng(devices=[]):  # its random init is overwritten by each snapshot: draw nothing
        model = DynamicsModel(f.obs_dim, f.act_dim, f.act_low, f.act_high, learner.dyn.hidden).to(learner.device)
    etas = []
    for snap in snapshots:
        model.load_state_dict(snap)
        etas.append(model_return(learner, model, policy, goal, seed))
    return model_disagreement(etas), 0


def true_rating(virtual, real):
    """The true rating μ(ψ) from θ's virtual return η^{M̂_φ}_ψ(θ) and its real return η^{M*}_ψ(θ)."""
    # μ(ψ) = η^{M̂_φ}_ψ(θ) − η^{M*}_ψ(θ)
    return virtual - real


def model_disagreement(etas):
    """The estimated rating μ̂(ψ) from θ's virtual returns η^{M̂_a}_ψ(θ) in each model snapshot a (a list)."""
    # NOTE (differs from paper): Section 4.4 estimates μ "using several pairs of virtual models" and says no more.
    # Ours is the models' disagreement on θ's return, not the signed gap η^M̂ − η^M*: it is ≥ 0, large where the
    # model is unsure. Its models are snapshots of φ from the last warm-up rounds (no extra training), where the SMTL
    # authors' code trains separate shadow models and takes the spread of their returns.
    # μ̂(ψ) = mean over pairs (a, b) of |η^{M̂_a}_ψ(θ) − η^{M̂_b}_ψ(θ)|, M̂_a, M̂_b snapshots of φ during warm-up
    return float(np.mean([abs(a - b) for a, b in itertools.combinations(etas, 2)]))


def skip_threshold(ratings, q, L):
    """Section 4.4's bar for the next task: quantile_q({μ(ψ_i)}, the last L tasks), or None before L are rated."""
    # NOTE (differs from paper): Section 4.4 writes quantile_q({μ(ψ_i)}_{i=1}^L); the window slides over the ratings
    # of the last L tasks, as the SMTL authors' code (the median of the previous 10). The first task is never rated
    # (D = ∅: no warm-up), so the first skip can come at task L + 2, where the paper's "j > L" allows L + 1.
    window = ratings[-L:]
    return float(np.quantile(window, q)) if len(window) >= L else None


def skip_task(mu, ratings, q, L):
    """Section 4.4: once L tasks have been seen, skip ψ_j if μ(ψ_j) < quantile_q({μ(ψ_i)}, the last L tasks)."""
    threshold = skip_threshold(ratings, q, L)
    return threshold is not None and mu < threshold


def training_done(log, cfg):
    """Algorithm 1 is over: cfg.n_tasks tasks trained, or cfg.max_candidates candidates per task seen."""
    return sum(not row["skipped"] for row in log) >= cfg.n_tasks or len(log) >= cfg.n_tasks * cfg.max_candidates


# ---------------------------------------------------------------------------------------------
# Algorithm 1 and Eq. (6)
# ---------------------------------------------------------------------------------------------
def train(family, cfg=SMTLConfig(), slbo_cfg=None, dyn=DynamicsConfig(), trpo=TRPOConfig(), seed=0, device="cpu",
          resume=None, save=None, progress=True):
    """Algorithm 1. Returns {"learner": φ, D, V; "log": one dict per task seen; "samples"; "wall_s"; "checkpoint":
    what `adapt` needs}. save(checkpoint), if given, is called after every task; `resume` (such a checkpoint, made with
    the same settings; n_tasks may grow) continues from its last task and ends exactly as an uninterrupted run."""
    fam = tasks.get_family(family)
    check_active(cfg)
    run = _Run(fam, cfg, slbo_cfg, dyn, trpo, seed, device, resume, save, progress)  # streams, log, resume, saves
    learner = run.learner  # line 1: initialise model parameters φ and dataset D ← ∅ (resumed: the checkpoint's)
    while not training_done(run.log, cfg):  # line 2: for n_tasks iterations
        psi = tasks.sample_goals(fam, 1, run.task_rng)[0]  # line 3: sample task ψ ~ p(ψ)  (goal_dim,)
        policy = fresh_policy(learner, cfg)  # line 4: initialise policy parameters θ (and V, if not carried)
        run.begin(psi)  # the task's log row
        if len(learner.data) > 0:  # line 5: if D ≠ ∅, VirtualTraining(θ, φ, D, n_warmup)
            with run.stage("warm-up"):
                vt, snapshots = warm_up(learner, policy, psi, cfg.n_warmup, run.n_snapshots, progress=progress)
            run.log_warm_up(vt, policy)
            if cfg.active != "off":  # Section 4.4: rate ψ; skip it if μ(ψ) < the q-quantile of the last L ratings
                with run.stage("rating"):
                    mu, spent = rating(learner, policy, psi, snapshots, cfg, run.rating_rng)
                # NOTE (differs from paper): a skipped task's warm-up has fitted φ (n_warmup × n_model Adam steps)
                # and the fits stay, so an active run trains its model more than plain SMTL at equal real samples;
                # Section 4.4 does not say. docs/results.md gives the size for each panel of Figure 3.
                if run.log_rating(mu, spent, skip_task(mu, run.ratings, cfg.active_q, cfg.active_L)):
                    run.end(policy)  # a skipped task adds nothing to D (the true rating's samples are counted)
                    continue
        for stage in range(1, cfg.n_slbo_train + 1):  # line 6: (SLBO) for n_slbo iterations
            collect(learner, policy, psi, learner.cfg.n_collect)  # line 7: D ← D ∪ {n_collect samples of π_θ + noise}
            if cfg.n_inner_train > 0:  # line 8: VirtualTraining(θ, φ, D, n_inner) (the authors' code: n_inner = 0)
                with run.stage(f"SLBO stage {stage}"):
                    run.log_virtual_training(virtual_training(learner, policy, psi, cfg.n_inner_train))
        run.end(policy)  # θ's real return; the row logged, a checkpoint saved
    return run.result()


def warmup_rounds(cfg):
    """Eq. (6)'s n_warmup: cfg.n_warmup_adapt where it is set, else the training's n_warmup (the paper's one value)."""
    return cfg.n_warmup if cfg.n_warmup_adapt is None else cfg.n_warmup_adapt


def adapt(trained, goal, n_stages, n_samples, shift=None, seed=0, n_eval_episodes=5, device="cpu", progress=False):
    """Eq. (6) on task ψ = goal, from `trained` (a checkpoint of `train`; it is not changed): a fresh policy θ̃₀, the
    warm-up VT(θ̃₀, φ, D, n_warmup) in the learned model (0 real samples; n_warmup_adapt rounds where it is set),
    then n_stages SLBO stages of n_samples real samples each on the (possibly shifted) real task, each followed by
    VT(θ, φ, D, n_inner_adapt). Returns (one point per stage, the first at 0 samples: {"stage", "samples", "return",
    "ep_len", "vel_err", ...}; the adapted policy)."""
    cfg = SMTLConfig(**trained["config"]["smtl"])
    learner = restore(trained, seed=seed, device=device)  # φ₀, D₀; random streams from `seed`
    psi = tasks.check_goal(learner.family, goal, shift)
    samples0, policy = learner.samples, fresh_policy(learner, cfg)  # θ̃₀
    where = f"SMTL adaptation to goal {np.round(psi, 3).tolist()}"
    with _named(f"{where}, warm-up"):
        vt, _ = warm_up(learner, policy, psi, warmup_rounds(cfg), shift=shift, progress=progress)
    curve = [{"stage": 0, "samples": 0, **measure(learner.family, policy, psi, n_eval_episodes, shift, seed), **vt}]
    for stage in range(1, n_stages + 1):
        collect(learner, policy, psi, n_samples, shift)  # line 7, on the real (shifted) env
        with _named(f"{where}, SLBO stage {stage}"):  # line 8
            vt = virtual_training(learner, policy, psi, cfg.n_inner_adapt, shift=shift, progress=progress)
        curve.append({"stage": stage, "samples": learner.samples - samples0,
                      **measure(learner.family, policy, psi, n_eval_episodes, shift, seed), **vt})
    return curve, policy


# ---------------------------------------------------------------------------------------------
# Plumbing: checkpoints (everything adaptation needs, and the random streams that make a resumed run exact), names
# ---------------------------------------------------------------------------------------------
class _Run:
    """Algorithm 1's bookkeeping, out of the loop's way: the streams of tasks ψ and of the ratings' start states, the
    log (one row per task seen), the ratings so far, a resumed checkpoint, a checkpoint saved after every task, the
    progress bar, and the task and stage that name a diverging model."""

    def __init__(self, fam, cfg, slbo_cfg, dyn, trpo, seed, device, resume, save, progress):
        slbo_cfg = SLBOConfig(**config.values(fam)["slbo"]) if slbo_cfg is None else slbo_cfg
        self.cfg, self.save = cfg, save
        self.learner = Learner(fam, slbo_cfg, dyn, trpo, seed=seed, device=device)  # φ, D ← ∅, V, the init states
        self.task_rng = np.random.default_rng(seed)  # the stream of tasks ψ ~ p(ψ)
        self.rating_rng = np.random.default_rng([seed, RATING_STREAM])  # the ratings' start states (Section 4.4)
        self.log, self.ratings = [], []  # one row per task seen; μ of every rated task
        if resume is not None:
            self.learner, self.log, self.ratings = _resume(resume, fam, cfg, self.learner, self.task_rng,
                                                           self.rating_rng)
        self.n_snapshots = cfg.n_snapshots if cfg.active == "estimated" else 0  # models the warm-up keeps
        self.bar = tqdm(total=cfg.n_tasks, initial=sum(not r["skipped"] for r in self.log),
                        desc=f"SMTL train {fam.name}", disable=not progress)

    def begin(self, psi):
        self.start, self.psi = time.perf_counter(), psi
        self.row = {"task": len(self.log), "goal": psi.tolist(), "skipped": False, "rating": None,
                    "warmup_return": None, "warmup_vel_err": None, "model_loss": None, "virtual_return": None,
                    "kl": None, "n_clipped": 0}

    def stage(self, what):
        return _named(f"SMTL training, task {len(self.log) + 1} (goal {np.round(self.psi, 3).tolist()}), {what}")

    def log_warm_up(self, vt, policy):
        """The warm-up's last round and θ's real return after it (a measurement: no samples, nothing added to D)."""
        m = measure(self.learner.family, policy, self.psi, self.cfg.n_eval_episodes)
        self.row.update({**vt, "warmup_return": m["return"], "warmup_vel_err": m["vel_err"]})

    def log_rating(self, mu, spent, skipped):
        """Logs μ(ψ), the real samples the rating spent and whether ψ is skipped; returns the latter."""
        self.row.update({"rating": mu, "rating_samples": spent, "skipped": skipped})
        self.ratings.append(mu)
        return skipped

    def log_virtual_training(self, vt):
        self.row.update({**vt, "n_clipped": self.row["n_clipped"] + vt["n_clipped"]})

    def end(self, policy):
        """θ's real return after a trained task; the row logged; a checkpoint saved; the progress bar advanced."""
        row = self.row
        if not row["skipped"]:
            m = measure(self.learner.family, policy, self.psi, self.cfg.n_eval_episodes)
            row["return"], row["vel_err"] = m["return"], m["vel_err"]
            self.bar.update(1)
        row["samples"], row["wall_s"] = self.learner.samples, time.perf_counter() - self.start
        self.log.append(row)
        if self.save is not None:
            self.save(self.checkpoint())
        self.bar.set_postfix(warmup_ret=_fmt(row["warmup_return"], ".1f"), model_loss=_fmt(row["model_loss"], ".3f"),
                             samples=self.learner.samples)

    def checkpoint(self):
        return _checkpoint(self.learner, self.cfg, self.task_rng, self.rating_rng, self.log, self.ratings)

    def result(self):
        self.bar.close()
        return {"learner": self.learner, "log": self.log, "samples": self.learner.samples,
                "wall_s": sum(r["wall_s"] for r in self.log), "checkpoint": self.checkpoint()}


def _checkpoint(learner, cfg, task_rng, rating_rng, log, ratings):
    """The state after a task, copied where training changes tensors in place (networks and Adam moments; D and
    the start states are replaced, never changed), so a checkpoint kept in memory stays as it was."""
    optimizer = lambda x: None if x.optimizer is None else x.optimizer.state_dict()  # noqa: E731
    return copy.deepcopy({
        "format": CHECKPOINT_FORMAT, "family": learner.family.name, "config": _configs(learner, cfg),
        "model": learner.model.state_dict(), "model_opt": optimizer(learner.model),
        "value_fn": learner.value_fn.state_dict(), "value_opt": optimizer(learner.value_fn),
        "samples": learner.samples, "generator": learner.generator.get_state(), "torch_rng": torch.get_rng_state(),
        "task_rng": task_rng.bit_generator.state, "rating_rng": rating_rng.bit_generator.state, "log": log,
        "ratings": ratings,
    }) | {"data": learner.data.state_dict(), "init_states": learner.init_states}


def _configs(learner, cfg):
    return {"smtl": asdict(cfg), "slbo": asdict(learner.cfg), "dynamics": asdict(learner.dyn),
            "trpo": asdict(learner.trpo)}


def restore(ckpt, seed=None, device="cpu"):
    """A Learner holding the checkpoint's φ, D, V, optimisers and random streams (fresh objects: adapting from it
    never changes the checkpoint). With a seed, the random streams restart from that seed instead."""
    c = ckpt["config"]  # (a setting the checkpoint predates takes its default)
    learner = Learner(ckpt["family"], SLBOConfig(**c["slbo"]), DynamicsConfig(**c["dynamics"]),
                      TRPOConfig(**c["trpo"]), seed=0 if seed is None else seed, device=device)
    learner.init_states = ckpt["init_states"].to(learner.device)
    learner.model.load_state_dict(ckpt["model"])
    learner.value_fn.load_state_dict(ckpt["value_fn"])
    learner.data.load_state_dict(ckpt["data"])
    learner.samples = ckpt["samples"]
    # the optimisers' moments are copied: load_state_dict would share the checkpoint's tensors, which Adam changes
    # in place
    if ckpt["model_opt"] is not None:
        fit(learner.model, learner.data, 0, learner.dyn)  # 0 Adam steps: makes model.optimizer as fit always does
        learner.model.optimizer.load_state_dict(copy.deepcopy(ckpt["model_opt"]))
    if ckpt["value_opt"] is not None:
        learner.value_fn.make_optimizer(learner.trpo.vf_lr).load_state_dict(copy.deepcopy(ckpt["value_opt"]))
    if seed is None:
        learner.generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
    return learner


def _resume(ckpt, family, cfg, learner, task_rng, rating_rng):
    """(learner, log, ratings) of a checkpoint made by `train` with the same settings, task_rng and rating_rng set to
    its streams; a ValueError naming the first setting that differs (n_tasks may: a run can grow; a setting the
    checkpoint predates counts as its default, which does what the code did before it)."""
    if ckpt["family"] != family.name:
        raise ValueError(f"the checkpoint is for {ckpt['family']!r}, not {family.name!r}")
    defaults = {"smtl": SMTLConfig(), "slbo": SLBOConfig(), "dynamics": DynamicsConfig(), "trpo": TRPOConfig()}
    for part, fields in _configs(learner, cfg).items():
        for key, value in fields.items():
            saved = ckpt["config"][part].get(key, getattr(defaults[part], key))
            if key != "n_tasks" and saved != value:
                raise ValueError(f"the checkpoint was made with {part}.{key}={saved!r}, not {value!r}; "
                                 f"use another output path or the same settings")
    task_rng.bit_generator.state = ckpt["task_rng"]
    rating_rng.bit_generator.state = ckpt["rating_rng"]
    return restore(ckpt, device=learner.device), copy.deepcopy(ckpt["log"]), list(ckpt["ratings"])


@contextlib.contextmanager
def _named(where):
    """Name the stage of the run in a ModelDivergedError raised inside, e.g. 'SMTL training, task 3, warm-up'."""
    try:
        yield
    except ModelDivergedError as e:
        raise ModelDivergedError(f"{where}: {e}") from None


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


if __name__ == "__main__":
    # Self-check on a tiny budget: 3 tasks, then warm-up and one SLBO stage on a goal from p(ψ).
    tiny = SMTLConfig(n_tasks=3, n_warmup=3, n_inner_adapt=3, n_eval_episodes=2)
    small = SLBOConfig(**{**config.values("cheetah-vel")["slbo"], "n_policy": 5, "n_model": 50})
    out = train("cheetah-vel", tiny, small)
    for row in out["log"]:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
    goal = tasks.sample_goals("cheetah-vel", 1, np.random.default_rng(0))[0]
    for p in adapt(out["checkpoint"], goal, n_stages=1, n_samples=small.n_collect, n_eval_episodes=2)[0]:
        print(f"goal {goal[0]:.2f}: {p['samples']:5d} samples  return {p['return']:8.1f}  |v - g| {p['vel_err']:.3f}")
