"""Probes of the legged bodies: does this code's SLBO learn the ant and the humanoid alone, how does SMTL's zero-sample
warm-up improve with its training tasks, where do the learned model and the real body part, and which setting moves it.

Every run uses tuning goals (tasks.tuning_goals), never the evaluation goals; a finished run is a JSON in
bench_out/probes/ (an SMTL run also a checkpoint, so that it resumes at its last task), and `summary` gathers whatever
has finished into docs/results/probes/legged.json and .png, which docs/results.md's probes block reads.

`bodies`: single-task SLBO on two goals per body (one either side of the speed where standing still stops paying),
400,000 real samples, 3 seeds; then SMTL at the quick preset trained to 10, 30 and 100 tasks (100: the paper's
0.8M samples), its zero-sample warm-up (Eq. 6 at 0 samples) measured and diagnosed after each. `levers` retrains
SMTL to 30 (or 100) tasks with one setting changed; `warmup_levers` changes only the warm-up, from the quick preset's
own checkpoints at 30 (or 100) tasks, or a training lever's (--base). Each lever is a paired difference over (seed,
goal) with the quick preset, or with the base's own warm-up.

    python -m lab.legged bodies                                       # both bodies, 3 seeds (days of CPU; resumable)
    python -m lab.legged bodies --family ant-vel --seed 0 --seed 1    # only these runs
    python -m lab.legged bodies --family humanoid-vel --tasks 30      # SMTL to 30 tasks only (grows on to 100 later)
    python -m lab.legged levers --lever buffer-all --tasks 100        # SMTL to 100 tasks, D keeping every transition
    python -m lab.legged warmup_levers --tasks 100 --base buffer-all  # warm-up levers from that lever's checkpoints
"""
import argparse
import dataclasses
import math
import os
import time

import numpy as np
import torch

import config
import slbo
import smtl
import tasks
import trpo
from dynamics import DynamicsConfig, VirtualEnv
from lab import cluster, figures, store
from lab.probes import DOCS_DIR, OUT_DIR, run_all
from trpo import TRPOConfig

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
    """Where _smtl_tasks_run keeps a variant's run in OUT_DIR: its growing checkpoint (n None) or its files at n
    tasks."""
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
        # φ, D and V at n tasks, for the warm-up levers
        store.save_checkpoint(resume, _tasks_path(variant_name, family, seed, n, "pt"))
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


def _legged_job(kind, family, *args):
    """One run of the legged probes: "slbo" (_slbo_curve_run) or "smtl" (_smtl_tasks_run)."""
    return (_slbo_curve_run if kind == "slbo" else _smtl_tasks_run)(family, *args)


def bodies(workers=2, families=LEGGED, seeds=LEGGED_SEEDS, n_tasks=max(TASK_COUNTS)):
    """Body by body: single-task SLBO on each goal, then SMTL at 10, 30 and 100 tasks (those up to n_tasks), from each
    seed; then `summary` (finished runs are skipped, an SMTL run resumes at its last task)."""
    counts, runs = tuple(n for n in TASK_COUNTS if n <= n_tasks), []
    for f in families:
        runs += [("slbo", f, g, s) for g in (0, 1) for s in seeds] + [("smtl", f, s, "quick", None, counts)
                                                                      for s in seeds]
    run_all(_legged_job, runs, workers, "legged probes")
    summary()


def _still(goals):
    """Standing still's |v − g| per goal (its speed error is ‖g‖)."""
    return np.linalg.norm(np.asarray(goals, dtype=float).reshape(len(goals), -1), axis=1)


def _learned_at(curve, still):
    """The real samples at the first stage where |v − g| ≤ LEGGED_STOP × standing still's with episodes of at least
    LEGGED_MIN_LEN steps, or None."""
    return next((p["samples"] for p in curve if p["vel_err"] <= LEGGED_STOP * still and p["ep_len"] >= LEGGED_MIN_LEN),
                None)


def summary():
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
    out["levers"] = [{"family": LEVER_FAMILY, "tasks": n, "rows": rows, "still": still}
                     for n in TASK_COUNTS if n >= LEVER_TASKS for rows in [_lever_rows(n)] if rows]
    out["warmup_levers"] = [{"family": LEVER_FAMILY, "tasks": n, "base": base, "rows": rows, "still": still,
                             "control_reproduces": _control_reproduces(n, base)}
                            for base in ("quick", *LEVERS) for n in TASK_COUNTS
                            for rows in [_warmup_lever_rows(n, base)] if rows]
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
            "goals": found[0]["goals"], "vel_err_per_goal": err.mean(0).tolist(),
            "ep_len_per_goal": length.mean(0).tolist(),
            "falls_predicted": (float(np.mean([m < tasks.HORIZON for _, m in fell])) if fell else None),
            "n_falls": len(fell), "kstep_error": {k: np.nanmean(np.array(v, dtype=float), 0).tolist()
                                                  for k, v in kstep.items() if v},
            "data": {k: float(np.mean([f["data"][k] for f in found])) for k in found[0]["data"]},
            "train_minutes": float(np.mean([f["train_wall_s"] for f in found])) / 60}


def _plot_legged(out):
    """docs/results/probes/legged.png: a row per body; single-task SLBO's |v − g| and episode length against real
    samples, SMTL's zero-sample |v − g| against real training samples on a log axis with the oracle's curve."""
    plt = figures.pyplot()
    fig, axes = plt.subplots(len(LEGGED), 3, figsize=(20, 4.2 * len(LEGGED)), squeeze=False)
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
            if sl:  # a body not probed yet keeps its empty axes, without a legend
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
        if fam == LEVER_FAMILY:
            _plot_levers(ax, out)
        for key, style, label in (("smtl_paper", "C0", "SMTL's budget in the paper (100 tasks)"),
                                  ("maml_quick", "C1", "MAML's and the oracle's quick budget"),
                                  ("maml_paper", "C3", "MAML's budget in the paper")):
            ax.axvline(out["budgets"][key], color=style, ls="-.", lw=0.8, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("real training samples (log scale)")
        ax.set_ylabel("|v − g| over 200 steps on 8 tuning goals (m/s)", fontsize=8)
        ax.set_title(f"{fam}: zero-sample adaptation against training samples", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: the markers stay visible
    fig.tight_layout()
    fig.savefig(os.path.join(DOCS_DIR, "legged.png"), dpi=110, bbox_inches="tight")  # the legends beside the axes
    plt.close(fig)


def _plot_levers(ax, out):
    """Each lever's mean |v − g| (over its seeds × goals) at the training samples it was measured at, a marker per task
    count joined by a line: hollow circles for levers of training, squares for levers of the warm-up alone."""
    series = {}  # (kind, base, name) -> [(samples, mean |v − g|)], and its label
    for kind, tables in (("training", out.get("levers") or []), ("warm-up", out.get("warmup_levers") or [])):
        for lv in tables:
            base = lv.get("base", "quick")
            for name, r in lv["rows"].items():
                label = f"{kind} lever: {r['what']}" + ("" if base == "quick" else f", from {base}'s checkpoints")
                series.setdefault((kind, base, name), ([], label))[0].append((r["samples"], r["vel_err_mean"]))
    colours = ("C2", "C4", "C5", "C6", "C9", "C7", "k", "C8")  # not C0, C1, C3: SMTL's and the budgets'
    for k, ((kind, _, _), (points, label)) in enumerate(sorted(series.items())):
        x, y = zip(*sorted(points))
        ax.plot(x, y, "o--" if kind == "training" else "s:", mfc="none", mew=1.5, ms=7, lw=1.2,
                color=colours[k % len(colours)], label=label)


# Levers on SMTL's zero-sample warm-up (a variant's overrides of the quick preset), each measured at LEVER_TASKS
# training tasks (or more) on the ant from LEVER_SEEDS, paired over (seed, goal) with the quick preset's own runs
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
    "buffer-all": ("D keeps every real transition (SLBO's code keeps the newest 200,000: 25 tasks)",
                   {"slbo": {"buffer_size": 800_000}}),
}


def levers(workers=2, names=None, n_tasks=LEVER_TASKS):
    """SMTL with each lever (or those named) on LEVER_FAMILY to n_tasks tasks (measured at every count of TASK_COUNTS
    on the way) from LEVER_SEEDS, and the quick preset's runs it is paired with (`bodies` makes the same ones); the
    paired differences are in summary's output."""
    counts = tuple(n for n in TASK_COUNTS if n <= n_tasks)
    runs = [(LEVER_FAMILY, s, "quick", None, counts) for s in LEVER_SEEDS]
    runs += [(LEVER_FAMILY, s, name, LEVERS[name][1], counts) for name in (names or LEVERS) for s in LEVER_SEEDS]
    run_all(_smtl_tasks_run, runs, workers, "levers")
    summary()


# Levers of the warm-up alone: each re-runs Eq. (6)'s zero-sample warm-up from the quick preset's own checkpoints at
# a task count of TASK_COUNTS (the same φ, D, V, goals and learner seeds), so its paired difference with the quick
# preset's warm-up, recomputed beside it, says what the warm-up's budget or policy changes without any training cost
WARMUP_LEVERS = {  # name: (what it changes, n_warmup, TRPOConfig overrides of the fresh policy)
    "quick": ("the quick preset's 20 rounds, recomputed (the pairs' control)", None, {}),
    "warmup-40": ("the paper's 40 warm-up rounds", 40, {}),
    "warmup-80": ("80 warm-up rounds", 80, {}),
    "warmup-160": ("160 warm-up rounds", 160, {}),
    "policy-relu": ("Section 5.1's 100 × 100 ReLU policy", None, {"policy_hidden": (100, 100),
                                                                   "policy_activation": "relu"}),
}


def _warmup_path(name, family, seed, n_tasks, base="quick"):
    """Where _warmup_lever_run keeps a warm-up lever's run from `base`'s checkpoints (a LEVERS name or quick)."""
    return os.path.join(OUT_DIR, f"warmup_{name}{'' if base == 'quick' else f'_from-{base}'}_{family}_s{seed}"
                                 f"_n{n_tasks}.json")


def _warmup_lever_run(family, seed, name, n_tasks, base="quick"):
    """One warm-up lever on `base`'s checkpoint of `seed` at n_tasks tasks (the quick preset's, or a training lever's:
    its warm-up with the lever's settings); a JSON in OUT_DIR."""
    torch.set_num_threads(1)
    path = _warmup_path(name, family, seed, n_tasks, base)
    if os.path.exists(path):
        return store.read_json(path)
    ckpt = store.load_checkpoint(_tasks_path(base, family, seed, n_tasks, "pt"), smtl.CHECKPOINT_FORMAT)
    _, n_warmup, overrides = WARMUP_LEVERS[name]
    n_warmup = n_warmup or legged_settings(family, LEVERS[base][1] if base in LEVERS else None)[0].n_warmup
    goals, start = tasks.tuning_goals(family, LEGGED_GOALS), time.perf_counter()  # (n_goals, 1)
    out = {"family": family, "seed": seed, "n_tasks": n_tasks, "base": base, "lever": name, "n_warmup": n_warmup,
           "goals": goals.tolist(), "points": _warm_up_points(ckpt, goals, seed, n_warmup, overrides)}
    store.write_json({**out, "wall_s": time.perf_counter() - start}, path)
    return out


def warmup_levers(workers=2, n_tasks=LEVER_TASKS, names=None, base="quick"):
    """Every WARMUP_LEVERS variant (or those named, and the control) on `base`'s checkpoints of LEVER_SEEDS at n_tasks
    tasks (made by `bodies`, or by `levers` for a training lever: a FileNotFoundError names the command)."""
    for s in LEVER_SEEDS:
        if not os.path.exists(_tasks_path(base, LEVER_FAMILY, s, n_tasks, "pt")):
            makes = (f"levers --lever {base} --tasks {n_tasks}" if base in LEVERS else
                     f"bodies --family {LEVER_FAMILY} --seed {s}")
            raise FileNotFoundError(f"no checkpoint of {base} at {n_tasks} tasks for seed {s}: python -m lab.legged "
                                    f"{makes}")
    names = [*(n for n in (names or WARMUP_LEVERS) if n != "quick"), "quick"]  # the longest first, the control last
    run_all(_warmup_lever_run, [(LEVER_FAMILY, s, name, n_tasks, base) for name in names for s in LEVER_SEEDS],
            workers, "warm-up levers")
    summary()


def _paired_rows(what, path, control="quick"):
    """{name: its paired differences with the control (name − control) over (seed, goal)} for every name of `what`
    ({name: what it changes}) whose runs are on disk beside the control's for some of LEVER_SEEDS (path(name, seed)):
    |v − g| and episode length with 95 % bootstrap intervals, and the means with it, the virtual minus the real
    return of its policies included (how far the warm-up exploits the model)."""
    rows = {}
    for name in what:
        pairs = [[store.read_json(path(v, seed))["points"] for v in (name, control)] for seed in LEVER_SEEDS
                 if name != control and all(os.path.exists(path(v, seed)) for v in (name, control))]
        if not pairs:
            continue
        lever = {key: np.array([[p[key] for p in run] for run, _ in pairs]) for key in ("vel_err", "ep_len")}
        base = {key: np.array([[p[key] for p in run] for _, run in pairs]) for key in ("vel_err", "ep_len")}
        gap = [p["virtual_return"] - p["return"] for run, _ in pairs for p in run]  # model exploitation, per goal
        rows[name] = {"what": what[name], "seeds": len(pairs),
                      **{key: figures.paired(lever[key], base[key]) for key in lever},
                      **{f"{key}_mean": float(lever[key].mean()) for key in lever},
                      "virtual_minus_real_mean": float(np.mean(gap))}
    return rows


def _control_reproduces(n_tasks, base="quick"):
    """Whether the warm-up levers' recomputed control gives the training probe's own warm-up points to the digit (the
    same checkpoint, goals and seeds), per seed with both on disk; None where neither seed has both."""
    same = [store.read_json(control)["points"] == store.read_json(own)["points"] for control, own in (
        (_warmup_path("quick", LEVER_FAMILY, s, n_tasks, base), _tasks_path(base, LEVER_FAMILY, s, n_tasks))
        for s in LEVER_SEEDS) if os.path.exists(control) and os.path.exists(own)]
    return all(same) if same else None


def _training_samples(variant, n_tasks):
    """The real training samples of `variant`'s runs at n_tasks tasks, the mean over the seeds on disk."""
    runs = [_tasks_path(variant, LEVER_FAMILY, s, n_tasks) for s in LEVER_SEEDS]
    return float(np.mean([store.read_json(r)["samples"] for r in runs if os.path.exists(r)]))


def _lever_rows(n_tasks):
    """The levers of training (LEVERS) against the quick preset at n_tasks tasks, each with its training samples."""
    rows = _paired_rows({name: v[0] for name, v in LEVERS.items()},
                        lambda v, s: _tasks_path(v, LEVER_FAMILY, s, n_tasks))
    return {name: {**r, "samples": _training_samples(name, n_tasks)} for name, r in rows.items()}


def _warmup_lever_rows(n_tasks, base="quick"):
    """The levers of the warm-up (WARMUP_LEVERS) from `base`'s checkpoints at n_tasks tasks against its recomputed
    control (the warm-up `base` trained with), each with the training samples of those checkpoints."""
    rows = _paired_rows({name: v[0] for name, v in WARMUP_LEVERS.items()},
                        lambda v, s: _warmup_path(v, LEVER_FAMILY, s, n_tasks, base))
    samples = _training_samples(base, n_tasks) if rows else None  # every row warms up from the same checkpoints
    return {name: {**r, "samples": samples} for name, r in rows.items()}


def main(argv=None):
    cluster.stop_on_sigterm()  # `kill` stops the workers too, and every finished run stays on disk
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("probes", nargs="+", choices=["bodies", "levers", "warmup_levers", "summary"])
    p.add_argument("--family", action="append", choices=LEGGED, help="bodies: only this family (repeatable)")
    p.add_argument("--seed", action="append", type=int, help="bodies: only this seed (repeatable)")
    p.add_argument("--lever", action="append", choices=sorted({*LEVERS, *WARMUP_LEVERS} - {"quick"}),
                   help="levers, warmup_levers: only these (repeatable)")
    p.add_argument("--tasks", type=int, choices=TASK_COUNTS, default=None,
                   help=f"bodies: SMTL trained to this many tasks (default {max(TASK_COUNTS)}); levers: trained to "
                        f"this many; warmup_levers: from the checkpoints at this many (default {LEVER_TASKS})")
    p.add_argument("--base", choices=["quick", *LEVERS], default="quick",
                   help="warmup_levers: warm up from this training lever's checkpoints (default: the quick preset's)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = p.parse_args(argv)
    os.makedirs(OUT_DIR, exist_ok=True)
    for probe in args.probes:
        start = time.perf_counter()
        if probe == "bodies":
            bodies(args.workers, tuple(args.family or LEGGED), tuple(args.seed or LEGGED_SEEDS),
                   args.tasks or max(TASK_COUNTS))
        elif probe in ("levers", "warmup_levers"):
            known = LEVERS if probe == "levers" else WARMUP_LEVERS
            if set(args.lever or ()) - set(known):
                p.error(f"{probe} has no lever {', '.join(sorted(set(args.lever) - set(known)))} "
                        f"(its levers: {', '.join(n for n in known if n != 'quick')})")
            if probe == "levers":
                levers(args.workers, args.lever, args.tasks or LEVER_TASKS)
            else:
                warmup_levers(args.workers, args.tasks or LEVER_TASKS, args.lever, args.base)
        else:
            summary()
        print(f"{probe}: done in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
