"""Probes: the measurements that a preset's choices and the README's claims about the baselines rest on.

Every probe uses goals of the tuning split (tasks.tuning_goals), never the evaluation goals, and writes its result to
docs/results/probes/<name>.json and .png; its working state (checkpoints) lives in bench_out/probes/, so that an
interrupted probe resumes where it stopped.

`oracle_curve` trains the oracle on the ant [0, 3] (one seed) until its |v − g| over all 200 steps of an episode (a
fallen step counts as standing still) is half of standing still's, or until 20M real samples, and measures on the
way its return, |v − g| and episode length on 8 tuning goals. It does so for the quick preset's settings and for
today's TRPO practice (normalised inputs, smaller batches per update), one variant per process.

    python -m lab.probes oracle_curve --variant quick       # one variant (the others: obs-norm, obs-norm-2000)
    python -m lab.probes oracle_curve --plot                # the figure and the JSON from what is on disk
"""
import argparse
import dataclasses
import os
import sys
import time

import numpy as np
import torch

import config
import maml
import tasks
from lab import store
from trpo import TRPOConfig

OUT_DIR = os.path.join("bench_out", "probes")
DOCS_DIR = os.path.join("docs", "results", "probes")

CURVE_FAMILY = "ant-vel"  # the ant [0, 3]: Figure 1b's task
CURVE_MAX_SAMPLES = 20_000_000
CURVE_EVAL_EVERY = 200_000  # real training samples between two measurements
CURVE_GOALS = 8  # tuning goals measured, one mean-action episode each
CURVE_STOP = 0.5  # stop once |v − g| ≤ CURVE_STOP × standing still's
# what each variant changes in the quick preset's oracle (config.PRESETS["quick"]["oracle"])
CURVE_VARIANTS = {"quick": {}, "obs-norm": {"obs_norm": True},
                  "obs-norm-2000": {"obs_norm": True, "n_samples": 2000}}


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
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("probe", choices=["oracle_curve"])
    p.add_argument("--variant", choices=list(CURVE_VARIANTS), default="quick")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", action="store_true", help="only write the figure and JSON from what is on disk")
    args = p.parse_args(argv)
    if not args.plot:
        start = time.perf_counter()
        oracle_curve(args.variant, args.seed)
        print(f"done in {(time.perf_counter() - start) / 60:.1f} min")
    plot_oracle_curve(args.seed)


if __name__ == "__main__":
    main()
