"""Probes: the measurements that a preset's choices and the README's claims about the baselines rest on.

Every probe uses goals of the tuning split (tasks.tuning_goals), never the evaluation goals, and writes its result to
docs/results/probes/<name>.json and .png; its working state (checkpoints) lives in bench_out/probes/, so that an
interrupted probe resumes where it stopped.

`policy_init` compares SLBO's policy initialisation with PyTorch's for the quick preset's larger policy steps: SMTL
trained on the half-cheetah [0, 2] (10 tasks, 2 seeds) with each, then warmed up on 16 tuning goals; the zero-sample
|v − g| paired over (seed, goal). `maml_budget` picks MAML's quick budget of 1.6M samples among three splits on the
half-cheetah: meta-trained from 3 seeds each, adapted by 3 steps on 10 tuning goals, scored by the share of its gap to
the oracle (same seeds) that the 3 steps close.

`oracle_curve` trains the oracle on the ant [0, 3] (one seed) until its |v − g| over all 200 steps of an episode (a
fallen step counts as standing still) is half of standing still's, or until 20M real samples, and measures on the
way its return, |v − g| and episode length on 8 tuning goals. It does so for the quick preset's settings and for
today's TRPO practice (normalised inputs, smaller batches per update), one variant per process.

`legged` asks whether this code's SLBO learns the ant and the humanoid alone (single-task, 400,000 samples) and how
SMTL's zero-sample warm-up improves with 10, 30 and 100 training tasks, with a diagnosis of where the learned model
and the real body part; `levers` retrains SMTL with one setting changed at a time, `warmup_levers` changes only the
warm-up, from the quick preset's own checkpoints.

    python -m lab.probes policy_init maml_budget            # 2 workers; each writes docs/results/probes/NAME.json
    python -m lab.probes oracle_curve --variant quick       # one variant (the others: obs-norm, obs-norm-2000)
    python -m lab.probes oracle_curve --plot                # the figure and the JSON from what is on disk
    python -m lab.probes legged levers warmup_levers        # the legged bodies: docs/results/probes/legged.json
"""
import argparse
import dataclasses
import itertools
import math
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

import config
import maml
import slbo
import smtl
import tasks
import trpo
from dynamics import DynamicsConfig, VirtualEnv
from lab import figures, store
from trpo import TRPOConfig

OUT_DIR = os.path.join("bench_out", "probes")
DOCS_DIR = os.path.join("docs", "results", "probes")
EXERCISES_DOCS = os.path.join("docs", "exercises")

CURVE_FAMILY = "ant-vel"  # the ant [0, 3]: Figure 1b's task
CURVE_MAX_SAMPLES = 20_000_000
CURVE_EVAL_EVERY = 200_000  # real training samples between two measurements
CURVE_GOALS = 8  # tuning goals measured, one mean-action episode each
CURVE_STOP = 0.5  # stop once |v − g| ≤ CURVE_STOP × standing still's
# what each variant changes in the quick preset's oracle (config.PRESETS["quick"]["oracle"])
CURVE_VARIANTS = {"quick": {}, "obs-norm": {"obs_norm": True},
                  "obs-norm-2000": {"obs_norm": True, "n_samples": 2000}}


INIT_FAMILY, INIT_SEEDS, INIT_GOALS = "cheetah-vel", (0, 1), 16
INIT_SLBO_SEEDS, INIT_STAGES = (0, 1, 2, 3), 3  # single-task SLBO with each init, on the median tuning goal
MAML_FAMILY, MAML_SEEDS, MAML_GOALS = "cheetah-vel", (0, 1, 2), 10
# MAML's quick budgets, each 1.6M real samples (meta-iterations × tasks × rollouts × 2 × 200 steps)
MAML_BUDGETS = {"80 × 10 tasks, max KL 0.1": dict(n_iters=80, meta_batch=10, n_rollouts=5, max_kl=0.1),
                "160 × 5 tasks, max KL 0.1": dict(n_iters=160, meta_batch=5, n_rollouts=5, max_kl=0.1),
                "160 × 5 tasks, max KL 0.05": dict(n_iters=160, meta_batch=5, n_rollouts=5, max_kl=0.05)}


def _quick(family):
    c = config.values(family, "quick")
    return c, slbo.SLBOConfig(**c["slbo"]), DynamicsConfig(**c["dyn"])


def _init_run(slbo_init, seed):
    """SMTL at the quick preset with the given policy init, then the zero-sample warm-up on each tuning goal:
    (|v − g| per goal, return per goal)."""
    torch.set_num_threads(1)
    c, slbo_cfg, dyn = _quick(INIT_FAMILY)
    trpo = TRPOConfig(**{**c["trpo"], "slbo_init": slbo_init})
    path = os.path.join(OUT_DIR, f"policy_init_{slbo_init}_s{seed}.pt")
    resume, save = store.checkpointing(path, smtl.CHECKPOINT_FORMAT)
    out = smtl.train(INIT_FAMILY, smtl.SMTLConfig(**c["smtl"]), slbo_cfg, dyn, trpo, seed=seed, resume=resume,
                     save=save, progress=False)
    curves = [smtl.adapt(out["checkpoint"], g, 0, slbo_cfg.n_collect, seed=seed * 1000 + i)[0][0]
              for i, g in enumerate(tasks.tuning_goals(INIT_FAMILY, INIT_GOALS))]
    return [p["vel_err"] for p in curves], [p["return"] for p in curves]


def _init_slbo_run(slbo_init, seed):
    """Single-task SLBO at the quick preset with the given policy init on the median of the first 8 tuning goals:
    |v − g| after INIT_STAGES stages of n_collect real samples, 5 VirtualTraining rounds each."""
    torch.set_num_threads(1)
    c, slbo_cfg, dyn = _quick(INIT_FAMILY)
    goals = tasks.tuning_goals(INIT_FAMILY, tasks.GOAL_BLOCK)  # (8, 1)
    goal = goals[np.argsort(goals[:, 0])[len(goals) // 2]]
    learner = slbo.Learner(INIT_FAMILY, slbo_cfg, dyn, TRPOConfig(**{**c["trpo"], "slbo_init": slbo_init}), seed=seed)
    return slbo.slbo(learner, learner.new_policy(), goal, INIT_STAGES, 5, eval_seed=seed, progress=False)[-1]["vel_err"]


def policy_init(workers=2):
    """Zero-sample |v − g| of SMTL with SLBO's policy init against PyTorch's, paired over (seed, goal); and single-task
    SLBO's |v − g| after INIT_STAGES stages with each, paired over seeds."""
    runs = [(init, seed) for init in (True, False) for seed in INIT_SEEDS]
    slbo_runs = [(init, seed) for init in (True, False) for seed in INIT_SLBO_SEEDS]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        out = dict(zip(runs, tqdm(pool.map(_init_run, *zip(*runs)), total=len(runs), desc="policy_init")))
        stages = dict(zip(slbo_runs, tqdm(pool.map(_init_slbo_run, *zip(*slbo_runs)), total=len(slbo_runs),
                                          desc="policy_init, SLBO")))
    slbo_err = {init: np.array([[stages[(init, s)]] for s in INIT_SLBO_SEEDS]) for init in (True, False)}  # (n, 1)
    err = {init: np.array([out[(init, s)][0] for s in INIT_SEEDS]) for init in (True, False)}  # (n_seeds, n_goals)
    diff = figures.bootstrap(err[True] - err[False])  # SLBO's − PyTorch's: negative favours SLBO's init
    result = {"family": INIT_FAMILY, "seeds": list(INIT_SEEDS), "goals": tasks.tuning_goals(INIT_FAMILY, INIT_GOALS)
              .tolist(), "vel_err": {"slbo": err[True].tolist(), "pytorch": err[False].tolist()},
              "mean": {"slbo": float(err[True].mean()), "pytorch": float(err[False].mean())},
              "worst": {"slbo": float(err[True].max()), "pytorch": float(err[False].max())},
              "difference_slbo_minus_pytorch": diff,
              "slbo_stages": {"stages": INIT_STAGES, "seeds": list(INIT_SLBO_SEEDS),
                              "vel_err": {"slbo": slbo_err[True][:, 0].tolist(), "pytorch": slbo_err[False][:, 0].tolist()},
                              "difference_slbo_minus_pytorch": figures.bootstrap(slbo_err[True] - slbo_err[False])}}
    store.write_json(result, os.path.join(DOCS_DIR, "policy_init.json"))
    print(f"policy_init ({INIT_FAMILY}, {len(INIT_SEEDS)} seeds × {INIT_GOALS} tuning goals): zero-sample |v - g| "
          f"SLBO's init {result['mean']['slbo']:.3f} (worst {result['worst']['slbo']:.3f}), PyTorch's "
          f"{result['mean']['pytorch']:.3f} (worst {result['worst']['pytorch']:.3f}); paired SLBO − PyTorch "
          f"{diff[0]:+.3f} [{diff[1]:+.3f}, {diff[2]:+.3f}]; single-task SLBO after {INIT_STAGES} stages "
          f"{slbo_err[True].mean():.3f} against {slbo_err[False].mean():.3f}")
    return result


def _maml_run(budget, seed):
    """MAML with one budget (or the oracle, budget None) from one seed, on the tuning goals: returns per goal
    (n_goals, 4) after 0..3 steps, or (n_goals, 1) for the oracle."""
    torch.set_num_threads(1)
    c, slbo_cfg, _ = _quick(MAML_FAMILY)
    goals = tasks.tuning_goals(MAML_FAMILY, MAML_GOALS)  # (n_goals, 1)
    name = "oracle" if budget is None else "_".join(f"{v}" for v in MAML_BUDGETS[budget].values())
    resume, save = store.checkpointing(os.path.join(OUT_DIR, f"maml_budget_{name}_s{seed}.pt"), maml.CHECKPOINT_FORMAT)
    if budget is None:
        out = maml.train_oracle(MAML_FAMILY, oracle_config(MAML_FAMILY, "quick"), seed=seed, resume=resume,
                                save=save, progress=False)
        return maml.evaluate_oracle(MAML_FAMILY, out["policy"], goals, seed=seed)["return"][:, None].tolist()
    cfg = maml.MAMLConfig(**{**c["maml"], **MAML_BUDGETS[budget]})
    out = maml.meta_train(MAML_FAMILY, cfg, seed=seed, resume=resume, save=save, progress=False)
    return [[p["return"] for p in maml.adapt(out["checkpoint"], g, 3, slbo_cfg.n_collect, seed=seed * 1000 + i,
                                             n_eval_episodes=1)[0]] for i, g in enumerate(goals)]


def maml_budget(workers=2):
    """The share of MAML's gap to the oracle that its 3 test-time steps close, per budget, pooled over seeds × goals:
    (return after 3 steps − after 0) / (oracle − after 0)."""
    runs = [(b, s) for b in (*MAML_BUDGETS, None) for s in MAML_SEEDS]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        out = dict(zip(runs, tqdm(pool.map(_maml_run, *zip(*runs)), total=len(runs), desc="maml_budget")))
    oracle = np.array([out[(None, s)] for s in MAML_SEEDS])[..., 0]  # (n_seeds, n_goals)
    result = {"family": MAML_FAMILY, "seeds": list(MAML_SEEDS), "goals": tasks.tuning_goals(MAML_FAMILY, MAML_GOALS)
              .tolist(), "oracle": float(oracle.mean()), "budgets": {}}
    for b in MAML_BUDGETS:
        ret = np.array([out[(b, s)] for s in MAML_SEEDS])  # (n_seeds, n_goals, 4)
        closed = float((ret[..., -1] - ret[..., 0]).mean() / (oracle - ret[..., 0]).mean())
        result["budgets"][b] = {"return": ret.mean((0, 1)).tolist(), "gap_closed": closed, "returns": ret.tolist()}
        print(f"maml_budget {b}: return after 0..3 steps {np.round(ret.mean((0, 1)), 1).tolist()}, oracle "
              f"{oracle.mean():.1f}: the 3 steps close {closed:.0%} of the gap")
    result["chosen"] = max(result["budgets"], key=lambda b: result["budgets"][b]["gap_closed"])
    store.write_json(result, os.path.join(DOCS_DIR, "maml_budget.json"))
    print(f"maml_budget: chosen {result['chosen']}")
    return result


def oracle_config(family, variant):
    """The quick preset's oracle on `family` with the variant's changes (CURVE_VARIANTS)."""
    c = dict(config.values(family, "quick")["oracle"])
    c["trpo"] = TRPOConfig(**c.get("trpo", {}))
    return maml.OracleConfig(**{**c, **CURVE_VARIANTS[variant]})


def oracle_curve(variant, seed=0):
    """Train the variant's oracle in chunks of CURVE_EVAL_EVERY samples, measuring after each, until it tracks the
    tuning goals at half of standing still's error or has spent CURVE_MAX_SAMPLES; resumes from bench_out/probes."""
    torch.set_num_threads(1)
    fam, goals = tasks.get_family(CURVE_FAMILY), tasks.tuning_goals(CURVE_FAMILY, CURVE_GOALS)  # (n_goals, 1)
    cfg = oracle_config(fam, variant)
    path = os.path.join(OUT_DIR, f"oracle_curve_{variant}_s{seed}")
    resume, save = store.checkpointing(path + ".pt", maml.CHECKPOINT_FORMAT, "oracle")
    curve = store.read_json(path + ".json")["curve"] if os.path.exists(path + ".json") and resume else []
    still = float(np.linalg.norm(goals, axis=1).mean())  # standing still: v = 0, so |v − g| = ‖g‖
    chunk = CURVE_EVAL_EVERY // cfg.n_samples  # iterations between measurements
    while True:
        done = curve[-1]["samples"] if curve else 0
        if curve and (curve[-1]["vel_err"] <= CURVE_STOP * still or done >= CURVE_MAX_SAMPLES):
            break
        n_iters = len(curve) * chunk  # the first point is the untrained policy
        out = maml.train_oracle(fam, dataclasses.replace(cfg, n_iters=n_iters), seed=seed, resume=resume,
                                progress=False)
        ev = maml.evaluate_oracle(fam, out["policy"], goals, seed=seed)
        curve.append({"samples": out["samples"], "wall_s": out["wall_s"], "return": float(ev["return"].mean()),
                      "vel_err": float(ev["vel_err"].mean()), "ep_len": float(ev["ep_len"].mean()),
                      "train_return": out["log"][-1]["ep_return"] if out["log"] else None})
        save(out["checkpoint"])
        resume = out["checkpoint"]
        store.write_json({"variant": variant, "seed": seed, "family": fam.name, "goals": goals.tolist(),
                          "still_vel_err": still, "config": dataclasses.asdict(cfg), "curve": curve}, path + ".json")
        p = curve[-1]
        print(f"{variant}: {p['samples']:>10,} samples  return {p['return']:7.1f}  |v - g| {p['vel_err']:.3f} "
              f"(standing still {still:.3f})  episode {p['ep_len']:5.1f} steps  {p['wall_s'] / 60:.1f} min",
              flush=True)
    return curve


def plot_oracle_curve(seed=0):
    """docs/results/probes/oracle_curve.json (every variant's curve) and .png: return, |v − g| over 200 steps with
    standing still's level, and episode length, against real training samples."""
    runs = {v: store.read_json(os.path.join(OUT_DIR, f"oracle_curve_{v}_s{seed}.json")) for v in CURVE_VARIANTS
            if os.path.exists(os.path.join(OUT_DIR, f"oracle_curve_{v}_s{seed}.json"))}
    if not runs:
        sys.exit(f"lab.probes: error: no oracle curve in {OUT_DIR}; run `python -m lab.probes oracle_curve` first")
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for k, (variant, run) in enumerate(runs.items()):
        x = np.array([p["samples"] for p in run["curve"]]) / 1e6
        for ax, key in zip(axes, ("return", "vel_err", "ep_len")):
            ax.plot(x, [p[key] for p in run["curve"]], "-", color=f"C{k}", label=variant)
    still = next(iter(runs.values()))["still_vel_err"]
    axes[1].axhline(still, color="k", ls=":", label="standing still")
    axes[1].axhline(CURVE_STOP * still, color="k", ls="--", lw=0.8, label=f"{CURVE_STOP:g} × standing still")
    for ax, ylabel in zip(axes, ("return per 200-step episode", "|v − g| over 200 steps (m/s; fallen = still)",
                                 "episode length (steps; 200 = no fall)")):
        ax.set_xlabel("real training samples (millions)")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"The oracle on the ant [0, 3], seed {seed}: mean action on {CURVE_GOALS} tuning goals", fontsize=10)
    fig.tight_layout()
    os.makedirs(DOCS_DIR, exist_ok=True)
    fig.savefig(os.path.join(DOCS_DIR, "oracle_curve.png"), dpi=120)
    plt.close(fig)
    store.write_json(runs, os.path.join(DOCS_DIR, "oracle_curve.json"))
    for variant, run in runs.items():
        p = run["curve"][-1]
        print(f"{variant}: {p['samples']:,} samples, |v - g| {p['vel_err']:.3f} (standing still {still:.3f}), "
              f"episode {p['ep_len']:.1f} steps")


# ---------------------------------------------------------------------------------------------
# The legged bodies: does SLBO learn them alone, and does SMTL with more training tasks
# ---------------------------------------------------------------------------------------------
LEGGED = ("ant-vel", "humanoid-vel")  # Figure 1b's and 1c's tasks
LEGGED_SEEDS = (0, 1, 2)
SLBO_CURVE_SAMPLES = 400_000  # single-task SLBO's budget per run: 50 stages of 8,000 real samples
TASK_COUNTS = (10, 30, 100)  # SMTL's training tasks at which the warm-up is measured (100: the paper's)
LEGGED_GOALS = 8  # tuning goals for the zero-sample measurements
LEGGED_STOP = 0.5  # "it learns": |v − g| over 200 steps ≤ half of standing still's ...
LEGGED_MIN_LEN = 180  # ... with episodes of at least this many steps (the oracle's at 6M samples on the ant)


def break_even(family):
    """The goal speed above which standing still costs reward: the per-step reward of v = 0 is alive + offset − g."""
    fam = tasks.get_family(family)
    return fam.alive_bonus + fam.track_offset


def slbo_curve_goals(family):
    """Two tuning goals (2, 1): the first 8's nearest to half the break-even speed, and to the midpoint between the
    break-even speed and the top of Ψ (the ant: 0.443 and 2.217 m/s, either side of 1.05)."""
    fam, goals = tasks.get_family(family), tasks.tuning_goals(family, tasks.GOAL_BLOCK)  # (8, 1)
    b = break_even(fam)
    return np.stack([goals[np.argmin(abs(goals[:, 0] - x))] for x in (b / 2, (b + fam.goal_high[0]) / 2)])


def legged_settings(family, variant=None):
    """(SMTLConfig, SLBOConfig, DynamicsConfig, TRPOConfig) of the quick preset on `family`, with a variant's
    overrides {group: {field: value}} over them."""
    c = config.values(family, "quick")
    c = {g: {**c.get(g, {}), **(variant or {}).get(g, {})} for g in ("smtl", "slbo", "dyn", "trpo")}
    return (smtl.SMTLConfig(**c["smtl"]), slbo.SLBOConfig(**c["slbo"]), DynamicsConfig(**c["dyn"]),
            TRPOConfig(**c["trpo"]))


def _measure_policy(learner, policy, goal, seed):
    """The real return, |v − g|, episode length of θ's mean action (5 episodes) and its virtual return η^M̂(θ) in the
    learner's model from the same kind of start states: exploitation is the second far above the first."""
    real = slbo.episode_means(slbo.evaluate(learner.family, policy, np.tile(goal, (5, 1)), seed=seed))
    return {**real, "virtual_return": smtl.model_return(learner, learner.model, policy, goal, seed)}


def _slbo_curve_run(family, goal_index, seed):
    """Single-task SLBO at the quick preset (5 VirtualTraining rounds per stage, as at adaptation) on one tuning goal,
    measured after every stage up to SLBO_CURVE_SAMPLES; a finished run is a JSON in OUT_DIR (rerun: skipped)."""
    torch.set_num_threads(1)
    path = os.path.join(OUT_DIR, f"slbo_curve_{family}_g{goal_index}_s{seed}.json")
    if os.path.exists(path):
        return store.read_json(path)
    cfg, slbo_cfg, dyn, trpo = legged_settings(family)
    goal = slbo_curve_goals(family)[goal_index]  # (1,)
    learner = slbo.Learner(family, slbo_cfg, dyn, trpo, seed=seed)
    policy, curve, start = learner.new_policy(), [], time.perf_counter()
    while learner.samples < SLBO_CURVE_SAMPLES:
        row = slbo.slbo(learner, policy, goal, 1, cfg.n_inner_adapt, eval_seed=seed, progress=False)[0]
        curve.append({"samples": learner.samples, "train_virtual_return": row["virtual_return"],
                      "model_loss": row["model_loss"], "n_clipped": row["n_clipped"],
                      **_measure_policy(learner, policy, goal, seed)})
    out = {"family": family, "goal": goal.tolist(), "seed": seed, "wall_s": time.perf_counter() - start,
           "curve": curve}
    store.write_json(out, path)
    return out


DIAG_K = 20  # the model's open-loop error is measured k = 1 … DIAG_K steps ahead of real states
DIAG_UPRIGHT, DIAG_MOVING = 0.5, 0.5  # "upright": the torso's up axis within 60° of vertical; "moving": |v| > 0.5 m/s


@torch.no_grad()
def diagnose_policy(learner, policy, goal, seed, n_episodes=5):
    """Where the learned model and the real body part for θ's mean action on goal ψ, from n_episodes real start
    states: each real episode's length and return; the length and return the model predicts from the same start
    state in closed loop (does it predict the fall where the real body falls?); and the model's open-loop error k =
    1 … DIAG_K steps ahead along the real episodes, ‖(ŝ_{t+k} − s_{t+k}) / σ_s‖₂ / √obs_dim, fed the real actions."""
    f, model = learner.family, learner.model
    env = tasks.make_vec_env(f, np.tile(goal, (n_episodes, 1)))
    real = trpo.rollout(env, policy, f.horizon, deterministic=True, seed=seed, one_episode=True)
    env.close()
    lengths = real["mask"].sum(1)  # (n_episodes,)
    virtual = []
    for i in range(n_episodes):  # the same start state, in the model
        venv = VirtualEnv(model, f, goal, real["obs"][i, :1], n_envs=1, cfg=learner.dyn)
        b = trpo.rollout(venv, policy, f.horizon, deterministic=True, seed=0, one_episode=True)
        virtual.append((float(b["mask"].sum()), float(trpo.episode_returns(b)[0])))
    errors = [[] for _ in range(DIAG_K)]  # per k, the errors from every start state t with t + k inside the episode
    for i in range(n_episodes):
        T = int(lengths[i])
        s_hat = real["obs"][i, :T]  # ŝ_t = s_t for every start t (T, obs_dim)
        for k in range(min(DIAG_K, T)):
            s_hat = model(s_hat[:T - k], real["act"][i, k:T])  # ŝ_{t+k+1} from s_t (T − k, obs_dim)
            e = (s_hat - real["next_obs"][i, k:T]) / model.obs_norm.std
            errors[k] += (e.norm(dim=-1) / math.sqrt(f.obs_dim)).tolist()
    return {"real_len": lengths.tolist(), "real_return": trpo.episode_returns(real).tolist(),
            "model_len": [v[0] for v in virtual], "model_return": [v[1] for v in virtual],
            "kstep_error": [float(np.mean(x)) if x else None for x in errors]}


def _data_composition(learner):
    """What D holds: the share of its states that are upright (the torso's up axis within 60° of vertical), moving
    (|v| > DIAG_MOVING m/s along the goal axes) and both, and the share of transitions that end in a fall."""
    f, d = learner.family, learner.data
    q = d.obs[:, 1:5]  # the torso's orientation (w, x, y, z), after its height at obs[0]
    up = 1 - 2 * (q[:, 1] ** 2 + q[:, 2] ** 2) > DIAG_UPRIGHT  # (N,)
    v = d.next_obs[:, [i for i in f.vel_index if i is not None]].norm(dim=-1) > DIAG_MOVING  # (N,)
    fell = f.done(d.next_obs)
    return {"n": len(d), "upright": float(up.float().mean()), "moving": float(v.float().mean()),
            "upright_and_moving": float((up & v).float().mean()), "falls": float(fell.float().mean())}


def _tasks_path(variant_name, family, seed, n=None, ext="json"):
    """Where _smtl_tasks_run keeps a variant's run in OUT_DIR: its growing checkpoint (n None) or its files at n tasks."""
    return os.path.join(OUT_DIR, f"smtl_tasks_{variant_name}_{family}_s{seed}" + (f"_n{n}" if n else "") + f".{ext}")


def _smtl_tasks_run(family, seed, variant_name="quick", variant=None, counts=TASK_COUNTS):
    """SMTL at the quick preset (with a variant's overrides) trained to each of TASK_COUNTS tasks in turn (one run,
    grown: a checkpoint in OUT_DIR), and after each the zero-sample warm-up on LEGGED_GOALS tuning goals; each
    count's measurement is a JSON in OUT_DIR, written before training goes on (rerun: resumes)."""
    torch.set_num_threads(1)
    cfg, slbo_cfg, dyn, trpo = legged_settings(family, variant)
    resume, save = store.checkpointing(_tasks_path(variant_name, family, seed, ext="pt"), smtl.CHECKPOINT_FORMAT)
    goals, out = tasks.tuning_goals(family, LEGGED_GOALS), {}  # (n_goals, 1)
    for n in counts:
        path = _tasks_path(variant_name, family, seed, n)
        if os.path.exists(path):
            out[n] = store.read_json(path)
            continue
        trained = smtl.train(family, dataclasses.replace(cfg, n_tasks=n), slbo_cfg, dyn, trpo, seed=seed,
                             resume=resume, save=save, progress=False)
        resume, start = trained["checkpoint"], time.perf_counter()
        store.save_checkpoint(resume, _tasks_path(variant_name, family, seed, n, "pt"))  # φ, D and V at n tasks, for the warm-up levers
        points = _warm_up_points(resume, goals, seed, cfg.n_warmup)
        out[n] = {"family": family, "variant": variant_name, "seed": seed, "n_tasks": n,
                  "samples": trained["samples"], "train_wall_s": trained["wall_s"],
                  "adapt_wall_s": time.perf_counter() - start, "goals": goals.tolist(), "points": points,
                  "data": _data_composition(smtl.restore(resume)), "log": trained["log"]}
        store.write_json(out[n], path)
    return out


def _warm_up_points(ckpt, goals, seed, n_warmup, trpo_overrides=None):
    """Eq. (6) at 0 samples, as smtl.adapt's first point, from a training checkpoint on each goal (learner seed
    seed·1000 + goal index): n_warmup rounds of VirtualTraining on a fresh policy (built with trpo_overrides over the
    checkpoint's TRPOConfig), then _measure_policy and diagnose_policy of its mean action."""
    points = []
    for i, goal in enumerate(goals):
        learner = smtl.restore(ckpt, seed=seed * 1000 + i)
        learner.trpo = dataclasses.replace(learner.trpo, **(trpo_overrides or {}))
        policy = learner.new_policy()
        smtl.warm_up(learner, policy, goal, n_warmup)
        points.append({**_measure_policy(learner, policy, goal, seed * 1000 + i),
                       "diagnosis": diagnose_policy(learner, policy, goal, seed * 1000 + i)})
    return points


def _still(goals):
    """Standing still's |v − g| per goal (its speed error is ‖g‖)."""
    return np.linalg.norm(np.asarray(goals, dtype=float).reshape(len(goals), -1), axis=1)


def _learned_at(curve, still):
    """The real samples at the first stage where |v − g| ≤ LEGGED_STOP × standing still's with episodes of at least
    LEGGED_MIN_LEN steps, or None."""
    return next((p["samples"] for p in curve if p["vel_err"] <= LEGGED_STOP * still and p["ep_len"] >= LEGGED_MIN_LEN),
                None)


def legged_summary():
    """docs/results/probes/legged.json and .png from what the legged probes left in OUT_DIR (whatever has finished):
    single-task SLBO's curves per body, goal and seed; SMTL's zero-sample |v − g| and episode length after 10, 30 and
    100 training tasks beside the oracle's learning curve and MAML's budget; where the model and the real body part."""
    out = {"stop": LEGGED_STOP, "min_len": LEGGED_MIN_LEN, "slbo": {}, "smtl": {}}
    for fam in LEGGED:
        goals = slbo_curve_goals(fam)
        runs = {}
        for g in range(len(goals)):
            for seed in LEGGED_SEEDS:
                path = os.path.join(OUT_DIR, f"slbo_curve_{fam}_g{g}_s{seed}.json")
                if os.path.exists(path):
                    runs.setdefault(str(g), {})[str(seed)] = store.read_json(path)["curve"]
        if runs:
            still = _still(goals)
            out["slbo"][fam] = {"goals": goals.tolist(), "still": still.tolist(), "runs": runs,
                                "learned_at": {g: {s: _learned_at(c, still[int(g)]) for s, c in r.items()}
                                               for g, r in runs.items()}}
        counts = {}
        for n in TASK_COUNTS:
            found = [store.read_json(_tasks_path("quick", fam, seed, n)) for seed in LEGGED_SEEDS
                     if os.path.exists(_tasks_path("quick", fam, seed, n))]
            if found:
                counts[str(n)] = _smtl_point(found)
        if counts:
            out["smtl"][fam] = counts
    curve = os.path.join(DOCS_DIR, "oracle_curve.json")
    if os.path.exists(curve):
        out["oracle_curve"] = {"ant-vel": [{k: p[k] for k in ("samples", "vel_err", "ep_len")}
                                           for p in store.read_json(curve)["obs-norm"]["curve"]]}
    out["budgets"] = {"maml_quick": 6_000_000, "maml_paper": 80_000_000, "smtl_paper": 800_000}
    still = float(_still(tasks.tuning_goals(LEVER_FAMILY, LEGGED_GOALS)).mean())  # the levers' goals' standing still
    out["levers"] = {"family": LEVER_FAMILY, "tasks": LEVER_TASKS, "rows": _lever_rows(), "still": still}
    out["warmup_levers"] = {"family": LEVER_FAMILY, "tasks": LEVER_TASKS, "rows": _warmup_lever_rows(),
                            "control_reproduces": _control_reproduces(), "still": still}
    store.write_json(out, os.path.join(DOCS_DIR, "legged.json"))
    _plot_legged(out)
    return out


def _smtl_point(found):
    """SMTL's zero-sample measurements at one task count over the seeds found: means with bootstrap intervals over
    (seed, goal), and the diagnosis pooled over every goal and seed."""
    err = np.array([[p["vel_err"] for p in f["points"]] for f in found])  # (n_seeds, n_goals)
    length = np.array([[p["ep_len"] for p in f["points"]] for f in found])
    gap = np.array([[p["virtual_return"] - p["return"] for p in f["points"]] for f in found])
    diag = [p["diagnosis"] for f in found for p in f["points"] if "diagnosis" in p]
    fell = [(r, m) for d in diag for r, m in zip(d["real_len"], d["model_len"]) if r < tasks.HORIZON]
    kstep = {"fell" if min(d["real_len"]) < tasks.HORIZON else "walked": [] for d in diag}
    for d in diag:
        kstep["fell" if min(d["real_len"]) < tasks.HORIZON else "walked"].append(d["kstep_error"])
    return {"seeds": [f["seed"] for f in found], "samples": float(np.mean([f["samples"] for f in found])),
            "still": float(_still(found[0]["goals"]).mean()), "vel_err": figures.bootstrap(err),
            "ep_len": figures.bootstrap(length), "virtual_minus_real": figures.bootstrap(gap),
            "vel_err_per_goal": err.mean(0).tolist(), "ep_len_per_goal": length.mean(0).tolist(),
            "falls_predicted": (float(np.mean([m < tasks.HORIZON for _, m in fell])) if fell else None),
            "n_falls": len(fell), "kstep_error": {k: np.nanmean(np.array(v, dtype=float), 0).tolist()
                                                  for k, v in kstep.items() if v},
            "data": {k: float(np.mean([f["data"][k] for f in found])) for k in found[0]["data"]},
            "train_minutes": float(np.mean([f["train_wall_s"] for f in found])) / 60}


def _plot_legged(out):
    """docs/results/probes/legged.png: a row per body; single-task SLBO's |v − g| and episode length against real
    samples, SMTL's zero-sample |v − g| against real training samples on a log axis with the oracle's curve."""
    plt = figures.pyplot()
    fig, axes = plt.subplots(len(LEGGED), 3, figsize=(16, 4.2 * len(LEGGED)), squeeze=False)
    for row, fam in zip(axes, LEGGED):
        sl = out["slbo"].get(fam)
        if sl:
            for g, runs in sl["runs"].items():
                for j, (seed, c) in enumerate(runs.items()):
                    x = [p["samples"] / 1e3 for p in c]
                    label = f"goal {sl['goals'][int(g)][0]:.2f} m/s" if j == 0 else None
                    row[0].plot(x, [p["vel_err"] for p in c], "-", color=f"C{int(g)}", lw=1, label=label)
                    row[1].plot(x, [p["ep_len"] for p in c], "-", color=f"C{int(g)}", lw=1, label=label)
                row[0].axhline(sl["still"][int(g)], color=f"C{int(g)}", ls=":", lw=1)
                row[0].axhline(LEGGED_STOP * sl["still"][int(g)], color=f"C{int(g)}", ls="--", lw=0.8)
            row[1].axhline(LEGGED_MIN_LEN, color="k", ls="--", lw=0.8, label=f"{LEGGED_MIN_LEN} steps")
            row[0].set_title(f"{fam}: single-task SLBO, a line per seed (dotted: standing still; dashed: half of it)",
                             fontsize=9)
            row[1].set_title(f"{fam}: single-task SLBO, episode length (learned: at least the dashed line)", fontsize=9)
        for ax, ylabel in ((row[0], "|v − g| over 200 steps (m/s)"), (row[1], "episode length (steps)")):
            ax.set_xlabel("real samples (thousands)")
            ax.set_ylabel(ylabel, fontsize=8)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        ax = row[2]
        sm = out["smtl"].get(fam, {})
        if sm:
            x = [p["samples"] for p in sm.values()]
            m = [p["vel_err"] for p in sm.values()]
            ax.errorbar(x, [v[0] for v in m], yerr=[[v[0] - v[1] for v in m], [v[2] - v[0] for v in m]], fmt="*-",
                        color="C0", ms=10, capsize=3, label="SMTL at 0 samples after 10, 30, 100 tasks (95 % CI)")
            still = next(iter(sm.values()))["still"]
            ax.axhline(still, color="k", ls=":", label="standing still")
            ax.axhline(LEGGED_STOP * still, color="k", ls="--", lw=0.8, label=f"{LEGGED_STOP:g} × standing still")
        oc = out.get("oracle_curve", {}).get(fam)
        if oc:
            ax.plot([p["samples"] for p in oc[1:]], [p["vel_err"] for p in oc[1:]], "-", color="0.4",
                    label="the oracle's learning curve (seed 0)")
        for key, style, label in (("smtl_paper", "C0", "SMTL's budget in the paper (100 tasks)"),
                                  ("maml_quick", "C1", "MAML's and the oracle's quick budget"),
                                  ("maml_paper", "C3", "MAML's budget in the paper")):
            ax.axvline(out["budgets"][key], color=style, ls="-.", lw=0.8, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("real training samples (log scale)")
        ax.set_ylabel("|v − g| over 200 steps on 8 tuning goals (m/s)", fontsize=8)
        ax.set_title(f"{fam}: zero-sample adaptation against training samples", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(DOCS_DIR, "legged.png"), dpi=110)
    plt.close(fig)


def _run_all(fn, runs, workers, desc):
    """[fn(*run) for every run], in `workers` processes, in the order given."""
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        return list(tqdm(pool.map(fn, *zip(*runs)), total=len(runs), desc=desc))


# Levers on SMTL's zero-sample warm-up (a variant's overrides of the quick preset), each measured at LEVER_TASKS
# training tasks on the ant from LEVER_SEEDS, paired over (seed, goal) with the quick preset's own runs
LEVER_FAMILY, LEVER_TASKS, LEVER_SEEDS = "ant-vel", 30, (0, 1)
LEVERS = {  # name: (what it changes, its overrides)
    "model-500": ("the paper's 500 × 500 model at lr 1e-3", {"dyn": {"hidden": (500, 500), "lr": 1e-3}}),
    "paper-vt": ("the paper's VirtualTraining: 100 model and 40 TRPO steps a round at max KL 0.01",
                 {"slbo": {"n_model": 100, "n_policy": 40}, "trpo": {"max_kl": 0.01}}),
    "warmup-40": ("the paper's 40 warm-up rounds", {"smtl": {"n_warmup": 40}}),
    "warmup-80": ("80 warm-up rounds", {"smtl": {"n_warmup": 80}}),
    "policy-relu": ("Section 5.1's 100 × 100 ReLU policy", {"trpo": {"policy_hidden": (100, 100),
                                                                     "policy_activation": "relu"}}),
    "ou-0.1": ("OU exploration noise σ 0.1 (0.3)", {"slbo": {"ou_sigma": 0.1}}),
    "v-per-task": ("a fresh value function with each fresh policy", {"smtl": {"carry_value": False}}),
    "stages-2": ("2 SLBO stages per training task (16,000 real samples)",
                 {"smtl": {"n_slbo_train": 2, "n_inner_train": 5}}),
}


def levers(workers=2, names=None):
    """SMTL with each lever (or those named) on LEVER_FAMILY to LEVER_TASKS tasks from LEVER_SEEDS, and the quick
    preset's runs it is paired with; the paired differences are in legged_summary's output."""
    runs = [(LEVER_FAMILY, s, "quick", None, (10, LEVER_TASKS)) for s in LEVER_SEEDS]
    runs += [(LEVER_FAMILY, s, name, LEVERS[name][1], (10, LEVER_TASKS)) for name in (names or LEVERS)
             for s in LEVER_SEEDS]
    _run_all(_smtl_tasks_run, runs, workers, "levers")
    legged_summary()


# Levers of the warm-up alone: each re-runs Eq. (6)'s zero-sample warm-up from the quick preset's own checkpoints at
# LEVER_TASKS tasks (the same φ, D, V, goals and learner seeds), so its paired difference with the quick preset's
# warm-up, recomputed beside it, says what the warm-up's budget or policy changes without any training cost
WARMUP_LEVERS = {  # name: (what it changes, n_warmup, TRPOConfig overrides of the fresh policy)
    "quick": ("the quick preset's 20 rounds, recomputed (the pairs' control)", None, {}),
    "warmup-40": ("the paper's 40 warm-up rounds", 40, {}),
    "warmup-80": ("80 warm-up rounds", 80, {}),
    "policy-relu": ("Section 5.1's 100 × 100 ReLU policy", None, {"policy_hidden": (100, 100),
                                                                   "policy_activation": "relu"}),
}


def _warmup_path(name, family, seed):
    """Where _warmup_lever_run keeps a warm-up lever's run in OUT_DIR."""
    return os.path.join(OUT_DIR, f"warmup_{name}_{family}_s{seed}_n{LEVER_TASKS}.json")


def _warmup_lever_run(family, seed, name):
    """One warm-up lever on the quick preset's checkpoint of `seed` at LEVER_TASKS tasks; a JSON in OUT_DIR."""
    torch.set_num_threads(1)
    path = _warmup_path(name, family, seed)
    if os.path.exists(path):
        return store.read_json(path)
    ckpt = store.load_checkpoint(_tasks_path("quick", family, seed, LEVER_TASKS, "pt"), smtl.CHECKPOINT_FORMAT)
    _, n_warmup, overrides = WARMUP_LEVERS[name]
    n_warmup = n_warmup or legged_settings(family)[0].n_warmup
    goals, start = tasks.tuning_goals(family, LEGGED_GOALS), time.perf_counter()  # (n_goals, 1)
    out = {"family": family, "seed": seed, "n_tasks": LEVER_TASKS, "lever": name, "n_warmup": n_warmup,
           "goals": goals.tolist(), "points": _warm_up_points(ckpt, goals, seed, n_warmup, overrides)}
    store.write_json({**out, "wall_s": time.perf_counter() - start}, path)
    return out


def warmup_levers(workers=2):
    """Every WARMUP_LEVERS variant on the checkpoints of LEVER_SEEDS (made by `legged` or `levers`)."""
    _run_all(_warmup_lever_run, [(LEVER_FAMILY, s, name) for s in LEVER_SEEDS for name in WARMUP_LEVERS], workers,
             "warm-up levers")
    legged_summary()


def _paired_rows(what, path, control="quick"):
    """{name: its paired differences with the control (name − control) over (seed, goal)} for every name of `what`
    ({name: what it changes}) whose runs are on disk beside the control's for some of LEVER_SEEDS (path(name, seed)):
    |v − g| and episode length with 95 % bootstrap intervals, and the means with it."""
    rows = {}
    for name in what:
        pairs = [[store.read_json(path(v, seed))["points"] for v in (name, control)] for seed in LEVER_SEEDS
                 if name != control and all(os.path.exists(path(v, seed)) for v in (name, control))]
        if not pairs:
            continue
        lever = {key: np.array([[p[key] for p in run] for run, _ in pairs]) for key in ("vel_err", "ep_len")}
        base = {key: np.array([[p[key] for p in run] for _, run in pairs]) for key in ("vel_err", "ep_len")}
        rows[name] = {"what": what[name], "seeds": len(pairs),
                      **{key: figures.paired(lever[key], base[key]) for key in lever},
                      **{f"{key}_mean": float(lever[key].mean()) for key in lever}}
    return rows


def _control_reproduces():
    """Whether the warm-up levers' recomputed control gives the training probe's own warm-up points to the digit (the
    same checkpoint, goals and seeds), per seed with both on disk; None where neither seed has both."""
    same = [store.read_json(control)["points"] == store.read_json(own)["points"] for control, own in (
        (_warmup_path("quick", LEVER_FAMILY, s), _tasks_path("quick", LEVER_FAMILY, s, LEVER_TASKS)) for s in LEVER_SEEDS)
        if os.path.exists(control) and os.path.exists(own)]
    return all(same) if same else None


def _lever_rows():
    """The levers of training (LEVERS) against the quick preset at LEVER_TASKS tasks."""
    return _paired_rows({name: v[0] for name, v in LEVERS.items()},
                        lambda v, s: _tasks_path(v, LEVER_FAMILY, s, LEVER_TASKS))


def _warmup_lever_rows():
    """The levers of the warm-up (WARMUP_LEVERS) against its recomputed quick control."""
    return _paired_rows({name: v[0] for name, v in WARMUP_LEVERS.items()},
                        lambda v, s: _warmup_path(v, LEVER_FAMILY, s))


def _legged_job(kind, family, *args):
    """One run of the legged probes: "slbo" (_slbo_curve_run) or "smtl" (_smtl_tasks_run)."""
    return (_slbo_curve_run if kind == "slbo" else _smtl_tasks_run)(family, *args)


def legged(workers=2):
    """Body by body: single-task SLBO on each goal (3 seeds), then SMTL at 10, 30 and 100 tasks (3 seeds); the results
    are summarised by `legged_summary` (finished runs are skipped, an SMTL run resumes at its last task)."""
    runs = []
    for f in LEGGED:
        runs += [("slbo", f, g, s) for g in (0, 1) for s in LEGGED_SEEDS] + [("smtl", f, s) for s in LEGGED_SEEDS]
    _run_all(_legged_job, runs, workers, "legged probes")
    legged_summary()



# ---------------------------------------------------------------------------------------------
# The exercises' learning verdict: the reference's own spread, a right answer with other rounding, wrong answers
# ---------------------------------------------------------------------------------------------
BAR_SEEDS = tuple(range(12))  # training seeds of the learning run (the check uses exercises.check.LEARN_SEEDS)
BAR_STAGES = 4  # stages measured (the check reads the first LEARN_STAGES)


def _gae_loop(rew, values, next_values, terminal, ep_end, gamma, lam):
    """GAE as a student writes it from the stub's docstring, a Python loop over rows and steps: right, with other
    float rounding than trpo.gae."""
    n, H = rew.shape
    adv = torch.zeros(n, H)
    for i in range(n):
        a = 0.0
        for t in reversed(range(H)):
            delta = float(rew[i, t]) + gamma * (1 - float(terminal[i, t])) * float(next_values[i, t]) - \
                float(values[i, t])
            a = delta + gamma * lam * (1 - float(ep_end[i, t])) * a
            adv[i, t] = a
    return adv, adv + values


def _gae_one_step(rew, values, next_values, terminal, ep_end, gamma, lam):
    """The one-step advantage r + γV(s') − V(s): an advantage, but not GAE's."""
    adv = rew + gamma * (1 - terminal) * next_values - values
    return adv, adv + values


def _gae_none(rew, values, next_values, terminal, ep_end, gamma, lam):
    """No advantage at all: TRPO has nothing to climb."""
    return torch.zeros_like(rew), values


BAR_VARIANTS = {"reference": None, "loop": _gae_loop, "one-step": _gae_one_step, "none": _gae_none}  # None: trpo.gae


def _bar_run(variant, seed):
    """The exercise's learning run with GAE `variant` swapped in, BAR_STAGES stages: |v − g| before and after each."""
    from exercises import check
    torch.set_num_threads(1)
    path = os.path.join(OUT_DIR, f"exercise_bar_{variant}_s{seed}.json")
    if os.path.exists(path):
        return store.read_json(path)
    start = time.perf_counter()
    before, after = check.learning_run("gae", {"gae": BAR_VARIANTS[variant] or trpo.gae}, seed, BAR_STAGES)
    out = {"variant": variant, "seed": seed, "before": before, "after": after, "wall_s": time.perf_counter() - start}
    store.write_json(out, path)
    return out


def _time_checks():
    """{exercise: seconds its check takes on the reference, the learning run left out}, one process, one thread."""
    from exercises import check, checks
    torch.set_num_threads(1)
    seconds = {}
    for name in checks.EXERCISES:
        start = time.perf_counter()
        ok, message = check.run(name, solution=True, learn=False)
        assert ok, message
        seconds[name] = time.perf_counter() - start
    return seconds


def exercise_bar(workers=2):
    """Every BAR_VARIANTS' learning run on BAR_SEEDS; writes docs/exercises/learning.json: the ratio after / before
    per run, and, over every 3 of the seeds, the largest mean ratio of a right answer (the reference, the loop) and
    the smallest of a wrong one, the bar in between and the one the check uses."""
    from exercises import check
    runs = [(v, s) for s in BAR_SEEDS for v in BAR_VARIANTS]
    out = dict(zip(runs, _run_all(_bar_run, runs, workers, "exercise_bar")))
    k, bar, n = check.LEARN_STAGES - 1, check.LEARN_BAR, len(check.LEARN_SEEDS)
    ratio = {v: [out[(v, s)]["after"][k] / out[(v, s)]["before"] for s in BAR_SEEDS] for v in BAR_VARIANTS}
    # the check's verdict from every n of the seeds: learned if the best of them is at most the bar; separated if every
    # n of the right answers' runs (either answer's) hold one at most the bar and no wrong answer's run is
    learned = {v: float(np.mean([min(c) <= bar for c in itertools.combinations(r, n)])) for v, r in ratio.items()}
    result = {"seeds": list(BAR_SEEDS), "stages": check.LEARN_STAGES, "n_seeds_per_verdict": n, "ratio": ratio,
              "runs": {f"{v}/{s}": out[(v, s)] for v, s in runs}, "bar": bar, "learned_share": learned,
              "separated": sorted(ratio["reference"] + ratio["loop"])[-n] <= bar < min(ratio["one-step"] + ratio["none"]),
              "learning_run_seconds": float(np.mean([out[("reference", s)]["wall_s"] for s in BAR_SEEDS])),
              "check_seconds": _time_checks()}
    store.write_json(result, os.path.join(EXERCISES_DOCS, "learning.json"))
    print(f"exercise_bar: the verdict from every {n} of {len(BAR_SEEDS)} seeds says 'learns' for "
          + ", ".join(f"{v} {100 * x:.0f} %" for v, x in learned.items())
          + f"; the bar {bar:g} {'separates' if result['separated'] else 'does NOT separate'} right from wrong")
    return result

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("probes", nargs="+", choices=["policy_init", "maml_budget", "oracle_curve", "legged", "exercise_bar",
                                                 "levers", "warmup_levers"])
    p.add_argument("--variant", choices=list(CURVE_VARIANTS), default="quick")
    p.add_argument("--lever", action="append", choices=list(LEVERS), help="levers: only these (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", action="store_true", help="only write the figure and JSON from what is on disk")
    p.add_argument("--workers", type=int, default=2, help="processes for policy_init and maml_budget (default 2)")
    args = p.parse_args(argv)
    os.makedirs(OUT_DIR, exist_ok=True)
    for probe in args.probes:
        start = time.perf_counter()
        if probe == "levers":
            levers(args.workers, args.lever)
        elif probe == "oracle_curve":
            if not args.plot:
                oracle_curve(args.variant, args.seed)
            plot_oracle_curve(args.seed)
        else:
            {"policy_init": policy_init, "maml_budget": maml_budget, "legged": legged,
             "exercise_bar": exercise_bar,
             "warmup_levers": warmup_levers}[probe](args.workers)
        print(f"{probe}: done in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
