"""Probes of the legged bodies: does this code's SLBO learn the ant and the humanoid alone, how does SMTL's zero-sample
warm-up improve with its training tasks, and where do the learned model and the real body part.

Every run uses tuning goals (tasks.tuning_goals), never the evaluation goals; a finished run is a JSON in
bench_out/probes/ (an SMTL run also a checkpoint, so that it resumes at its last task), and `summary` publishes it
(docs/results/probes/runs/) and gathers every published run into docs/results/probes/legged.json and .png, which
docs/results.md's probes block reads.

`bodies`: SMTL at the quick preset trained to 10, 30 and 100 tasks (100: the paper's 0.8M samples), its zero-sample
warm-up (Eq. 6 at 0 samples) measured and diagnosed after each, 3 seeds; then single-task SLBO on two goals per body
(one either side of the speed where standing still stops paying), 400,000 real samples, 3 seeds. The levers tried on
that warm-up, one setting at a time, are lab/levers.py's.

    python -m lab.legged bodies                                       # both bodies, 3 seeds (days of CPU; resumable)
    python -m lab.legged bodies --family ant-vel --seed 0 --seed 1    # only these runs
    python -m lab.legged bodies --family humanoid-vel --tasks 30      # SMTL to 30 tasks only (grows on to 100 later)
    python -m lab.legged bodies --family humanoid-vel --kind slbo     # single-task SLBO's curves only
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
from lab.cluster import run_all
from lab.pages import interval, num
from lab.probes import DOCS_DIR, OUT_DIR, finished, keep_published, publish_runs
from trpo import TRPOConfig

LEGGED = ("ant-vel", "humanoid-vel")  # Figure 1b's and 1c's tasks
LEGGED_SEEDS = (0, 1, 2)
LEGGED_KINDS = ("smtl", "slbo")  # the runs of `bodies`: SMTL against training tasks, single-task SLBO's curves
SLBO_CURVE_SAMPLES = 400_000  # single-task SLBO's budget per run: 50 stages of 8,000 real samples
TASK_COUNTS = (10, 30, 100)  # SMTL's training tasks at which the warm-up is measured (100: the paper's)
LEGGED_GOALS = 8  # tuning goals for the zero-sample measurements


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
    """(SMTLConfig, SLBOConfig, DynamicsConfig, TRPOConfig) of the quick preset on `family` without the legged bodies'
    own SMTL settings (which these probes chose: config.LEGGED_SMTL), with a variant's overrides {group: {field:
    value}} over them."""
    c = config.values(family, "quick", per_body=False)
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
           "machine": store.machine(), "curve": curve}
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


def tasks_path(variant_name, family, seed, n=None, ext="json"):
    """Where smtl_tasks_run keeps a variant's run in OUT_DIR: its growing checkpoint (n None) or its files at n
    tasks."""
    return os.path.join(OUT_DIR, f"smtl_tasks_{variant_name}_{family}_s{seed}" + (f"_n{n}" if n else "") + f".{ext}")


def smtl_tasks_run(family, seed, variant_name="quick", variant=None, counts=TASK_COUNTS):
    """SMTL at the quick preset (with a variant's overrides) trained to each of TASK_COUNTS tasks in turn (one run,
    grown: a checkpoint in OUT_DIR), and after each the zero-sample warm-up on LEGGED_GOALS tuning goals; each
    count's measurement is a JSON in OUT_DIR, written before training goes on (rerun: resumes)."""
    torch.set_num_threads(1)
    cfg, slbo_cfg, dyn, trpo = legged_settings(family, variant)
    resume, save = store.checkpointing(tasks_path(variant_name, family, seed, ext="pt"), smtl.CHECKPOINT_FORMAT)
    goals, out = tasks.tuning_goals(family, LEGGED_GOALS), {}  # (n_goals, 1)
    for n in counts:
        path = tasks_path(variant_name, family, seed, n)
        if os.path.exists(path):
            out[n] = store.read_json(path)
            continue
        trained = smtl.train(family, dataclasses.replace(cfg, n_tasks=n), slbo_cfg, dyn, trpo, seed=seed,
                             resume=resume, save=save, progress=False)
        resume, start = trained["checkpoint"], time.perf_counter()
        # φ, D and V at n tasks, for the warm-up levers
        store.save_checkpoint(resume, tasks_path(variant_name, family, seed, n, "pt"))
        points = warm_up_points(resume, goals, seed, smtl.warmup_rounds(cfg))
        out[n] = {"family": family, "variant": variant_name, "seed": seed, "n_tasks": n,
                  "samples": trained["samples"], "train_wall_s": trained["wall_s"],
                  "adapt_wall_s": time.perf_counter() - start, "goals": goals.tolist(), "points": points,
                  "data": _data_composition(smtl.restore(resume)), "log": trained["log"], "machine": store.machine()}
        store.write_json(out[n], path)
    return out


def warm_up_points(ckpt, goals, seed, n_warmup, trpo_overrides=None, starts=None):
    """Eq. (6) at 0 samples, as smtl.adapt's first point, from a training checkpoint on each goal (learner seed
    seed·1000 + goal index): n_warmup rounds of VirtualTraining on a fresh policy (built with trpo_overrides over
    the checkpoint's TRPOConfig; a fresh V too where the checkpoint did not carry V), its virtual rollouts starting
    from `starts` (None: the checkpoint's pool of real initial states; "data": the states of D; an int: a fresh pool
    of that many real initial states), then _measure_policy and diagnose_policy of its mean action (from real
    initial states, whatever `starts`)."""
    points = []
    cfg = smtl.SMTLConfig(**ckpt["config"]["smtl"])
    for i, goal in enumerate(goals):
        learner = smtl.restore(ckpt, seed=seed * 1000 + i)
        learner.trpo = dataclasses.replace(learner.trpo, **(trpo_overrides or {}))
        policy, pool = smtl.fresh_policy(learner, cfg), learner.init_states  # as smtl.adapt's θ̃₀ (and V)
        if starts == "data":
            learner.init_states = learner.data.obs  # (N, obs_dim): states of D, each before a step that did not fall
        elif starts is not None:
            learner.init_states = torch.as_tensor(tasks.initial_states(learner.family, starts, seed=seed * 1000 + i),
                                                  dtype=torch.float32)  # (starts, obs_dim)
        smtl.warm_up(learner, policy, goal, n_warmup)
        learner.init_states = pool
        points.append({**_measure_policy(learner, policy, goal, seed * 1000 + i),
                       "diagnosis": diagnose_policy(learner, policy, goal, seed * 1000 + i)})
    return points


def _legged_job(kind, family, *args):
    """One run of the legged probes: "slbo" (_slbo_curve_run) or "smtl" (smtl_tasks_run)."""
    return (_slbo_curve_run if kind == "slbo" else smtl_tasks_run)(family, *args)


def bodies(workers=2, families=LEGGED, seeds=LEGGED_SEEDS, n_tasks=max(TASK_COUNTS), kinds=LEGGED_KINDS):
    """Body by body: SMTL at 10, 30 and 100 tasks (those up to n_tasks) from each seed, then single-task SLBO on each
    goal (SMTL first: its runs decide the legged settings), or only the `kinds` named; then `summary` (finished runs
    are skipped, an SMTL run resumes at its last task)."""
    counts, runs = tuple(n for n in TASK_COUNTS if n <= n_tasks), []
    for f in families:
        runs += ([("smtl", f, s, "quick", None, counts) for s in seeds if "smtl" in kinds]
                 + [("slbo", f, g, s) for g in (0, 1) for s in seeds if "slbo" in kinds])
    run_all(_legged_job, runs, workers, "legged probes")
    summary()


def _learned_at(curve, still):
    """The real samples at the first stage where the policy learns its task (figures.tracks_goal), or None."""
    return next((p["samples"] for p in curve if figures.tracks_goal(p["vel_err"], p["ep_len"], still)), None)


def summary():
    """docs/results/probes/legged.json and .png from the legged probes' runs in OUT_DIR (whatever has finished),
    published first, and those published before (publish_runs, finished): single-task SLBO's curves per body, goal
    and seed; SMTL's zero-sample |v − g| and episode length after 10, 30 and 100 training tasks beside the oracle's
    learning curve and MAML's budget; where the model and the real body part. A published curve or point whose runs
    are gone stays as it was (probes.keep_published)."""
    path = os.path.join(DOCS_DIR, "legged.json")
    published = store.read_json(path) if os.path.exists(path) else {"slbo": {}, "smtl": {}}
    publish_runs(OUT_DIR, ("smtl_tasks_quick_", "slbo_curve_"))
    out = {"stop": figures.LEARNS_STOP, "min_len": figures.LEARNS_MIN_LEN, "slbo": {}, "smtl": {}}
    for fam in LEGGED:
        goals = slbo_curve_goals(fam)
        runs = published["slbo"].get(fam, {}).get("runs", {})  # {goal: {seed: curve}}, then every run on disk
        for g in range(len(goals)):
            for seed in LEGGED_SEEDS:
                run = finished(os.path.join(OUT_DIR, f"slbo_curve_{fam}_g{g}_s{seed}.json"))
                if run:
                    runs.setdefault(str(g), {})[str(seed)] = run["curve"]
        if runs:
            still = figures.standing_still(goals)
            out["slbo"][fam] = {"goals": goals.tolist(), "still": still.tolist(), "runs": runs,
                                "learned_at": {g: {s: _learned_at(c, still[int(g)]) for s, c in r.items()}
                                               for g, r in runs.items()}}
        counts, was = {}, published["smtl"].get(fam, {})
        for n in TASK_COUNTS:
            found = [r for seed in LEGGED_SEEDS for r in [finished(tasks_path("quick", fam, seed, n))] if r]
            point = {str(n): _smtl_point(found)} if found else {}
            if kept := keep_published(point, was, str(n), f"SMTL at {n} tasks on {fam}"):
                counts[str(n)] = kept
        if counts:
            out["smtl"][fam] = counts
    curve = os.path.join(DOCS_DIR, "oracle_curve.json")
    if os.path.exists(curve):
        out["oracle_curve"] = {"ant-vel": [{k: p[k] for k in ("samples", "vel_err", "ep_len")}
                                           for p in store.read_json(curve)["obs-norm"]["curve"]]}
    out["budgets"] = {"maml_quick": 6_000_000, "maml_paper": 80_000_000, "smtl_paper": 800_000}
    store.write_json(out, path)
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
            "still": float(figures.standing_still(found[0]["goals"]).mean()), "vel_err": figures.bootstrap(err),
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
                row[0].axhline(figures.LEARNS_STOP * sl["still"][int(g)], color=f"C{int(g)}", ls="--", lw=0.8)
            row[1].axhline(figures.LEARNS_MIN_LEN, color="k", ls="--", lw=0.8, label=f"{figures.LEARNS_MIN_LEN} steps")
            row[0].set_title(f"{fam}: single-task SLBO, a line per seed (dotted: standing still; dashed: half of it)",
                             fontsize=9)
            row[1].set_title(f"{fam}: single-task SLBO, episode length (learned: at least the dashed line)", fontsize=9)
        else:
            for ax in row[:2]:
                ax.text(0.5, 0.5, f"{fam}: single-task SLBO not run yet\n(python -m lab.legged bodies --family {fam})",
                        ha="center", va="center", transform=ax.transAxes, fontsize=9)
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
            ax.axhline(figures.LEARNS_STOP * still, color="k", ls="--", lw=0.8,
                       label=f"{figures.LEARNS_STOP:g} × standing still")
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
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: the markers stay visible
    fig.tight_layout()
    fig.savefig(os.path.join(DOCS_DIR, "legged.png"), dpi=110, bbox_inches="tight")  # the legends beside the axes
    plt.close(fig)


def markdown(doc):
    """docs/results.md's lines for legged.json (summary): single-task SLBO, SMTL against training tasks, the
    diagnosis."""
    stop, min_len = doc["stop"], doc["min_len"]
    lines = ["**SMTL on the legged bodies** (`python -m lab.legged bodies`; tuning goals; \"learned\": |v − g| over "
             f"200 steps at most {num(stop, '.2g')} × standing still's with episodes of at least {min_len} steps):", "",
             "![the legged probes](results/probes/legged.png)"]
    if doc["slbo"]:
        lines += ["", "Single-task SLBO at the quick preset (5 VirtualTraining rounds per stage of 8,000 real "
                      "samples), real samples until learned, per seed:", "",
                  "| body | goal (m/s) | standing still's \\|v − g\\| | learned at, per seed | best \\|v − g\\| "
                  "(episode length) |", "| --- | --- | --- | --- | --- |"]
        for fam, sl in doc["slbo"].items():
            for g, runs in sl["runs"].items():
                at = ", ".join(f"{v:,}" if v else "not within "
                               f"{max(p['samples'] for p in runs[k]):,}" for k, v in sl["learned_at"][g].items())
                best = min((p for c in runs.values() for p in c), key=lambda p: p["vel_err"])
                lines.append(f"| {fam} | {num(sl['goals'][int(g)][0], '.2f')} | {num(sl['still'][int(g)], '.3f')} | "
                             f"{at} | {num(best['vel_err'], '.3f')} ({num(best['ep_len'], '.0f')}) |")
    if doc["smtl"]:
        lines += ["", "SMTL's warm-up alone (0 samples) on 8 tuning goals after n training tasks at the quick preset "
                      "without the legged settings these probes chose, config.LEGGED_SMTL (mean over seeds × goals, "
                      "95 % interval); the virtual minus the real return of the warm-up policy's mean action; of the "
                      "real episodes that fell, the share the model predicts to fall from the same start state; and "
                      "what D holds:", "",
                  "| body | tasks | real training samples | seeds | \\|v − g\\| (standing still) | episode length | "
                  "virtual − real return | falls the model predicts | D upright, moving, falling | training min |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for fam, counts in doc["smtl"].items():
            for n, p in counts.items():
                d = p["data"]
                predicted = "–" if p["falls_predicted"] is None else \
                    f"{num(100 * p['falls_predicted'], '.0f')} % of {p['n_falls']}"
                lines.append(f"| {fam} | {n} | {p['samples']:,.0f} | {len(p['seeds'])} | "
                             f"{interval(p['vel_err'], '.3f')} ({num(p['still'], '.3f')}) | "
                             f"{interval(p['ep_len'], '.0f')} | {interval(p['virtual_minus_real'])} | {predicted} | "
                             f"{num(100 * d['upright'], '.0f')} %, {num(100 * d['moving'], '.0f')} %, "
                             f"{num(100 * d['falls'], '.1f')} % | {num(p['train_minutes'], '.0f')} |")
    for fam, counts in doc["smtl"].items():  # which goals it tracks: a table per body, a column per tuning goal
        per_goal = [(n, p) for n, p in counts.items() if "goals" in p]
        if not per_goal:
            continue
        goals = per_goal[0][1]["goals"]
        order = np.argsort([g[0] for g in goals])  # slowest first
        lines += ["", f"Per tuning goal of {fam}, slowest first: SMTL's |v − g| at 0 samples, mean over seeds "
                      "(episode length):", "",
                  "| tasks | " + " | ".join(f"goal {num(goals[i][0], '.2f')}" for i in order) + " |",
                  "| --- |" + " --- |" * len(order)]
        lines += [f"| {n} | " + " | ".join(f"{num(p['vel_err_per_goal'][i], '.2f')} "
                                          f"({num(p['ep_len_per_goal'][i], '.0f')})" for i in order) + " |"
                  for n, p in per_goal]
    if doc["smtl"]:
        lines += ["", "The learned model's open-loop error k steps ahead, ‖(ŝ_{t+k} − s_{t+k}) / σ_s‖₂ / √obs_dim, "
                      "fed the real actions along the warm-up policies' real episodes, for goals whose episodes "
                      "fell and goals whose did not:", "",
                  "| body | tasks | episodes | k = 1 | k = 5 | k = 10 | k = 20 |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for fam, counts in doc["smtl"].items():
            for n, p in counts.items():
                for kind in ("walked", "fell"):
                    e = p["kstep_error"].get(kind)
                    if e:
                        lines.append(f"| {fam} | {n} | {'did not fall' if kind == 'walked' else 'fell'} | " +
                                     " | ".join(num(e[k - 1], ".3f") for k in (1, 5, 10, 20)) + " |")
    return lines


def main(argv=None):
    cluster.stop_on_sigterm()  # `kill` stops the workers too, and every finished run stays on disk
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("probes", nargs="+", choices=["bodies", "summary"])
    p.add_argument("--family", action="append", choices=LEGGED, help="bodies: only this family (repeatable)")
    p.add_argument("--seed", action="append", type=int, help="bodies: only this seed (repeatable)")
    p.add_argument("--tasks", type=int, choices=TASK_COUNTS, default=max(TASK_COUNTS),
                   help=f"bodies: SMTL trained to this many tasks (default {max(TASK_COUNTS)})")
    p.add_argument("--kind", action="append", choices=LEGGED_KINDS,
                   help="bodies: only SMTL against training tasks, or only single-task SLBO's curves (repeatable)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = p.parse_args(argv)
    os.makedirs(OUT_DIR, exist_ok=True)
    for probe in args.probes:
        start = time.perf_counter()
        if probe == "bodies":
            bodies(args.workers, tuple(args.family or LEGGED), tuple(args.seed or LEGGED_SEEDS), args.tasks,
                   tuple(args.kind or LEGGED_KINDS))
        else:
            summary()
        print(f"{probe}: done in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
