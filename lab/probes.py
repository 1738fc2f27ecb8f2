"""Probes: the measurements that a preset's choices and the README's claims about the baselines rest on.

Every probe uses goals of the tuning split (tasks.tuning_goals), never the evaluation goals, and writes its result to
docs/results/probes/<name>.json and .png; its working state (checkpoints) lives in bench_out/probes/, so that an
interrupted probe resumes where it stopped. The legged probes' and levers' finished runs are published beside their
summaries (docs/results/probes/runs/, `publish_runs`), so that a summary regenerates on a fresh clone and a later run
adds to them instead of replacing them.

`policy_init` compares SLBO's policy initialisation with PyTorch's for the quick preset's larger policy steps: SMTL
trained on the half-cheetah [0, 2] (10 tasks, 2 seeds) with each, then warmed up on 16 tuning goals; the zero-sample
|v − g| paired over (seed, goal). `maml_budget` picks MAML's quick budget of 1.6M samples among three splits on the
half-cheetah: meta-trained from 3 seeds each, adapted by 3 steps on 10 tuning goals, scored by the share of its gap to
the oracle (same seeds) that the 3 steps close.

`oracle_curve` trains the oracle on the ant [0, 3] (one seed) until its |v − g| over all 200 steps of an episode (a
fallen step counts as standing still) is half of standing still's, or until 20M real samples, and measures on the
way its return, |v − g| and episode length on 8 tuning goals. It does so for the quick preset's settings and for
today's TRPO practice (normalised inputs, smaller batches per update), one variant per process.

`exercise_bar` measures the GAE exercise's learning verdict on the reference, a right answer with other rounding and
two wrong ones. The legged bodies' probes are lab/legged.py's, the levers on their warm-up lab/levers.py's.

    python -m lab.probes policy_init maml_budget            # 2 workers; each writes docs/results/probes/NAME.json
    python -m lab.probes oracle_curve --variant quick       # one variant (the others: obs-norm, obs-norm-2000)
    python -m lab.probes oracle_curve --plot                # the figure and the JSON from what is on disk
    python -m lab.probes exercise_bar                       # docs/exercises/learning.json
"""
import argparse
import dataclasses
import itertools
import os
import sys
import time

import numpy as np
import torch

import config
import maml
import slbo
import smtl
import tasks
import trpo
from dynamics import DynamicsConfig
from lab import cluster, figures, store
from lab.cluster import run_all
from lab.pages import interval, num
from trpo import TRPOConfig

OUT_DIR = os.path.join("bench_out", "probes")
DOCS_DIR = os.path.join("docs", "results", "probes")
EXERCISES_DOCS = os.path.join("docs", "exercises")
RUNS_DIR = os.path.join(DOCS_DIR, "runs")  # published copies of finished runs' JSONs (publish_runs, finished)

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


def publish_runs(out_dir, prefixes):
    """Copy every finished run's JSON in out_dir whose name starts with one of `prefixes` into RUNS_DIR (where it is
    new or changed), so that `finished` finds it on a clone without bench_out."""
    for name in sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else ():
        if name.endswith(".json") and name.startswith(prefixes):
            run, copy = store.read_json(os.path.join(out_dir, name)), os.path.join(RUNS_DIR, name)
            if not os.path.exists(copy) or store.read_json(copy) != run:
                store.write_json(run, copy)


def finished(path):
    """A finished run's JSON: the one at `path` (in an OUT_DIR), else its published copy in RUNS_DIR; None if
    neither exists."""
    for p in (path, os.path.join(RUNS_DIR, os.path.basename(path))):
        if os.path.exists(p):
            return store.read_json(p)
    return None


def keep_published(new, published, key, what):
    """new[key], unless the published entry published[key] was measured on seeds that new[key] lacks (their runs are
    not on disk) or new has none: then the published one, with a warning naming `what` where new has one. An entry's
    "seeds" is a list of seeds or their count."""
    old, now = published.get(key), new.get(key)
    seeds = lambda e: set(e["seeds"]) if isinstance(e["seeds"], list) else e["seeds"]  # noqa: E731  (<=: subset)
    if old is None or (now is not None and seeds(old) <= seeds(now)):
        return now
    if now is not None:
        print(f"warning: {what} stays as published (seeds {old['seeds']}; on disk {now['seeds']}): rerun the seeds "
              "it lacks to replace it", flush=True)
    return old


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
    out = dict(zip(runs, run_all(_init_run, runs, workers, "policy_init")))
    stages = dict(zip(slbo_runs, run_all(_init_slbo_run, slbo_runs, workers, "policy_init, SLBO")))
    slbo_err = {init: np.array([[stages[(init, s)]] for s in INIT_SLBO_SEEDS]) for init in (True, False)}  # (n, 1)
    err = {init: np.array([out[(init, s)][0] for s in INIT_SEEDS]) for init in (True, False)}  # (n_seeds, n_goals)
    diff = figures.bootstrap(err[True] - err[False])  # SLBO's − PyTorch's: negative favours SLBO's init
    result = {"family": INIT_FAMILY, "seeds": list(INIT_SEEDS), "goals": tasks.tuning_goals(INIT_FAMILY, INIT_GOALS)
              .tolist(), "vel_err": {"slbo": err[True].tolist(), "pytorch": err[False].tolist()},
              "mean": {"slbo": float(err[True].mean()), "pytorch": float(err[False].mean())},
              "worst": {"slbo": float(err[True].max()), "pytorch": float(err[False].max())},
              "difference_slbo_minus_pytorch": diff,
              "slbo_stages": {"stages": INIT_STAGES, "seeds": list(INIT_SLBO_SEEDS),
                              "vel_err": {"slbo": slbo_err[True][:, 0].tolist(),
                                          "pytorch": slbo_err[False][:, 0].tolist()},
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
    out = dict(zip(runs, run_all(_maml_run, runs, workers, "maml_budget")))
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
    still = float(figures.standing_still(goals).mean())
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
    out = dict(zip(runs, run_all(_bar_run, runs, workers, "exercise_bar")))
    k, bar, n = check.LEARN_STAGES - 1, check.LEARN_BAR, len(check.LEARN_SEEDS)
    ratio = {v: [out[(v, s)]["after"][k] / out[(v, s)]["before"] for s in BAR_SEEDS] for v in BAR_VARIANTS}
    # the check's verdict from every n of the seeds: learned if the best of them is at most the bar; separated if every
    # n of the right answers' runs (either answer's) hold one at most the bar and no wrong answer's run is
    learned = {v: float(np.mean([min(c) <= bar for c in itertools.combinations(r, n)])) for v, r in ratio.items()}
    result = {"seeds": list(BAR_SEEDS), "stages": check.LEARN_STAGES, "n_seeds_per_verdict": n, "ratio": ratio,
              "runs": {f"{v}/{s}": out[(v, s)] for v, s in runs}, "bar": bar, "learned_share": learned,
              "separated": (sorted(ratio["reference"] + ratio["loop"])[-n] <= bar
                            < min(ratio["one-step"] + ratio["none"])),
              "learning_run_seconds": float(np.mean([out[("reference", s)]["wall_s"] for s in BAR_SEEDS])),
              "check_seconds": _time_checks()}
    store.write_json(result, os.path.join(EXERCISES_DOCS, "learning.json"))
    print(f"exercise_bar: the verdict from every {n} of {len(BAR_SEEDS)} seeds says 'learns' for "
          + ", ".join(f"{v} {100 * x:.0f} %" for v, x in learned.items())
          + f"; the bar {bar:g} {'separates' if result['separated'] else 'does NOT separate'} right from wrong")
    return result


def markdown(init, budget, curve):
    """docs/results.md's lines for policy_init.json, maml_budget.json and oracle_curve.json (any may be None)."""
    lines = []
    if init:
        d = init["difference_slbo_minus_pytorch"]
        lines += ["", f"**Policy initialisation** ({init['family']}, {len(init['seeds'])} seeds × {len(init['goals'])} "
                      "tuning goals, SMTL trained and warmed up with each): zero-sample |v − g|",
                  "", "| initialisation | mean \\|v − g\\| (m/s) | worst goal |", "| --- | --- | --- |",
                  *(f"| {name} | {num(init['mean'][key], '.3f')} | {num(init['worst'][key], '.3f')} |"
                    for key, name in (("slbo", "SLBO's (normc, output rows of norm 0.01)"), ("pytorch", "PyTorch's"))),
                  "", f"Paired over (seed, goal), SLBO's − PyTorch's: {interval(d, '+.3f')} m/s, "
                      f"{figures.verdict(d[1], d[2])}."]
    if budget:
        lines += ["", f"**MAML's budget** ({budget['family']}, {len(budget['seeds'])} seeds × {len(budget['goals'])} "
                      f"tuning goals; the oracle of the same seeds returns {num(budget['oracle'])}): the share of "
                      "MAML's gap to the oracle that its 3 test-time steps close", "",
                  "| 1.6M samples as | return after 0, 1, 2, 3 steps | gap closed |", "| --- | --- | --- |",
                  *(f"| {name} | {', '.join(num(x) for x in b['return'])} | {num(100 * b['gap_closed'], '.0f')} % |"
                    for name, b in budget["budgets"].items()),
                  "", f"Chosen: {budget['chosen']}."]
    if curve:
        lines += ["", "**The oracle on the ant [0, 3]** (seed 0, mean action on 8 tuning goals), trained until its "
                      "|v − g| over 200 steps is half of standing still's or for 20M samples:", "",
                  "![the oracle's learning curve](results/probes/oracle_curve.png)", "",
                  "| variant | samples | return | \\|v − g\\| (m/s) | standing still's | episode length | best "
                  "\\|v − g\\| (at samples) | ended |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for variant, run in curve.items():
            p, best = run["curve"][-1], min(run["curve"], key=lambda q: q["vel_err"])
            ended = ("at half of standing still's" if p["vel_err"] <= CURVE_STOP * run["still_vel_err"] else
                     "at the sample limit" if p["samples"] >= CURVE_MAX_SAMPLES else "stopped before either")
            lines.append(f"| {variant} | {p['samples']:,} | {num(p['return'])} | {num(p['vel_err'], '.3f')} | "
                         f"{num(run['still_vel_err'], '.3f')} | {num(p['ep_len'])} | "
                         f"{num(best['vel_err'], '.3f')} ({best['samples']:,}) | {ended} |")
    return lines


def main(argv=None):
    cluster.stop_on_sigterm()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("probes", nargs="+", choices=["policy_init", "maml_budget", "oracle_curve", "exercise_bar"])
    p.add_argument("--variant", choices=list(CURVE_VARIANTS), default="quick")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", action="store_true", help="only write the figure and JSON from what is on disk")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = p.parse_args(argv)
    os.makedirs(OUT_DIR, exist_ok=True)
    for probe in args.probes:
        start = time.perf_counter()
        if probe == "oracle_curve":
            if not args.plot:
                oracle_curve(args.variant, args.seed)
            plot_oracle_curve(args.seed)
        else:
            {"policy_init": policy_init, "maml_budget": maml_budget, "exercise_bar": exercise_bar}[probe](args.workers)
        print(f"{probe}: done in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
