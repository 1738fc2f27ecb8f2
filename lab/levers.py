"""Levers on SMTL's zero-sample warm-up on the legged bodies: one setting changed at a time, each a paired difference
over (seed, goal) with the run it changes, on tuning goals (tasks.tuning_goals), never the evaluation goals.

A lever of training (LEVERS) retrains SMTL to 30 (or 100) tasks with a variant's overrides of the quick preset (as the
probes measure it: without config.LEGGED_SMTL, which they chose), and is paired with the quick preset's runs
(lab/legged.py's `bodies` makes the same ones). A lever of the warm-up alone (WARMUP_LEVERS) re-runs Eq. (6)'s
zero-sample warm-up from existing checkpoints (the quick preset's, or a training lever's: --base), paired with that
base's own warm-up recomputed beside it, so it costs no training. Finished runs are JSONs in bench_out/probes/
(resumable); `summary` publishes them (docs/results/probes/runs/) and gathers every published run into
docs/results/probes/levers.json and .png, which docs/results.md's probes block and the README's "does it learn" table
read.

    python -m lab.levers levers --lever stages-2                         # SMTL to 30 tasks, 2 SLBO stages a task
    python -m lab.levers levers --lever buffer-all --tasks 100           # to 100 tasks, D keeping every transition
    python -m lab.levers warmup_levers --tasks 100 --base buffer-all     # warm-up levers from that lever's checkpoints
    python -m lab.levers warmup_levers --family humanoid-vel --lever warmup-80   # on the humanoid (default: the ant)
"""
import argparse
import os
import time

import numpy as np
import torch

import smtl
import tasks
from lab import cluster, figures, legged, store
from lab.cluster import run_all
from lab.pages import interval, num
from lab.probes import DOCS_DIR, OUT_DIR, finished, keep_published, publish_runs

LEVER_FAMILY, LEVER_TASKS, LEVER_SEEDS = "ant-vel", 30, (0, 1)  # the default body, task count and seeds of levers
LEVERS = {  # name: (what it changes, its overrides {group: {field: value}} of the quick preset)
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
WARMUP_LEVERS = {  # name: (what it changes, n_warmup (None: the base's own), TRPOConfig overrides of the fresh policy,
    # where its virtual rollouts start: legged.warm_up_points's `starts`)
    "quick": ("the quick preset's 20 rounds, recomputed (the pairs' control)", None, {}, None),
    "warmup-40": ("the paper's 40 warm-up rounds", 40, {}, None),
    "warmup-80": ("80 warm-up rounds", 80, {}, None),
    "warmup-160": ("160 warm-up rounds", 160, {}, None),
    "policy-relu": ("Section 5.1's 100 × 100 ReLU policy", None, {"policy_hidden": (100, 100),
                                                                   "policy_activation": "relu"}, None),
    "starts-data": ("virtual rollouts start from states of D (Section 5.1: the warm-up uses data sampled from D0; "
                    "SLBO's code: real initial states)", None, {}, "data"),
    "starts-10000": ("a pool of 10,000 real initial states (1,000)", None, {}, 10_000),
}


def levers(workers=2, names=None, n_tasks=LEVER_TASKS, family=LEVER_FAMILY):
    """SMTL with each lever of training (or those named) on `family` to n_tasks tasks (measured at every count of
    legged.TASK_COUNTS on the way) from LEVER_SEEDS, beside the quick preset's runs it is paired with; then summary."""
    counts = tuple(n for n in legged.TASK_COUNTS if n <= n_tasks)
    runs = [(family, s, "quick", None, counts) for s in LEVER_SEEDS]
    runs += [(family, s, name, LEVERS[name][1], counts) for name in (names or LEVERS) for s in LEVER_SEEDS]
    run_all(legged.smtl_tasks_run, runs, workers, "levers")
    summary()


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
    ckpt = store.load_checkpoint(legged.tasks_path(base, family, seed, n_tasks, "pt"), smtl.CHECKPOINT_FORMAT)
    _, n_warmup, overrides, starts = WARMUP_LEVERS[name]
    base_cfg = legged.legged_settings(family, LEVERS[base][1] if base in LEVERS else None)[0]
    n_warmup = n_warmup or smtl.warmup_rounds(base_cfg)  # the base's own warm-up at adaptation
    goals, start = tasks.tuning_goals(family, legged.LEGGED_GOALS), time.perf_counter()  # (n_goals, 1)
    points = legged.warm_up_points(ckpt, goals, seed, n_warmup, overrides, starts)
    out = {"family": family, "seed": seed, "n_tasks": n_tasks, "base": base, "lever": name, "n_warmup": n_warmup,
           "goals": goals.tolist(), "points": points}
    store.write_json({**out, "wall_s": time.perf_counter() - start, "machine": store.machine()}, path)
    return out


def warmup_levers(workers=2, n_tasks=LEVER_TASKS, names=None, base="quick", family=LEVER_FAMILY):
    """Every WARMUP_LEVERS variant (or those named, and the control) on `base`'s checkpoints of `family` and
    LEVER_SEEDS at n_tasks tasks (made by lab.legged's `bodies`, or by `levers` for a training lever: a
    FileNotFoundError names the command); then summary."""
    for s in LEVER_SEEDS:
        if not os.path.exists(legged.tasks_path(base, family, s, n_tasks, "pt")):
            makes = (f"levers levers --lever {base} --tasks {n_tasks} --family {family}" if base in LEVERS else
                     f"legged bodies --family {family} --seed {s} --tasks {n_tasks}")
            raise FileNotFoundError(f"no checkpoint of {base} at {n_tasks} tasks for seed {s}: python -m lab.{makes}")
    names = [*(n for n in (names or WARMUP_LEVERS) if n != "quick"), "quick"]  # the longest first, the control last
    run_all(_warmup_lever_run, [(family, s, name, n_tasks, base) for name in names for s in LEVER_SEEDS],
            workers, "warm-up levers")
    summary()


def _paired_rows(what, path, control="quick"):
    """{name: its paired differences with the control (name − control) over (seed, goal)} for every name of `what`
    ({name: what it changes}) whose runs are on disk beside the control's for some of LEVER_SEEDS (path(name, seed)):
    |v − g| and episode length with 95 % bootstrap intervals, and the means with it, the virtual minus the real
    return of its policies included (how far the warm-up exploits the model)."""
    rows = {}
    for name in what:
        pairs = [[run["points"] for run in runs] for seed in LEVER_SEEDS if name != control
                 for runs in [[finished(path(v, seed)) for v in (name, control)]] if None not in runs]
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


def _control_reproduces(family, n_tasks, base="quick"):
    """Whether the warm-up levers' recomputed control gives the training run's own warm-up points to the digit (the
    same checkpoint, goals and seeds), per seed with both on disk; None where neither seed has both."""
    same = [control["points"] == own["points"] for s in LEVER_SEEDS
            for control, own in [(finished(_warmup_path("quick", family, s, n_tasks, base)),
                                   finished(legged.tasks_path(base, family, s, n_tasks)))] if control and own]
    return all(same) if same else None


def _training_samples(family, variant, n_tasks):
    """The real training samples of `variant`'s runs at n_tasks tasks, the mean over the seeds on disk."""
    runs = [finished(legged.tasks_path(variant, family, s, n_tasks)) for s in LEVER_SEEDS]
    return float(np.mean([r["samples"] for r in runs if r]))


def _lever_rows(family, n_tasks):
    """The levers of training (LEVERS) against the quick preset at n_tasks tasks, each with its training samples."""
    rows = _paired_rows({name: v[0] for name, v in LEVERS.items()},
                        lambda v, s: legged.tasks_path(v, family, s, n_tasks))
    return {name: {**r, "samples": _training_samples(family, name, n_tasks)} for name, r in rows.items()}


def _warmup_lever_rows(family, n_tasks, base="quick"):
    """The levers of the warm-up (WARMUP_LEVERS) from `base`'s checkpoints at n_tasks tasks against its recomputed
    control (the warm-up `base` trained with), each with the training samples of those checkpoints."""
    rows = _paired_rows({name: v[0] for name, v in WARMUP_LEVERS.items()},
                        lambda v, s: _warmup_path(v, family, s, n_tasks, base))
    samples = _training_samples(family, base, n_tasks) if rows else None  # every row warms up from the same checkpoints
    return {name: {**r, "samples": samples} for name, r in rows.items()}


def summary():
    """docs/results/probes/levers.json and .png from the lever runs in OUT_DIR (whatever has finished), published
    first, and those published before (publish_runs, finished), per legged family with any: per task count (and base)
    a table of paired differences, and the quick preset's own mean |v − g| at each count it reached. A published row
    whose runs are gone stays as it was (_keep_published_rows)."""
    publish_runs(OUT_DIR, ("smtl_tasks_", "warmup_"))
    counts = legged.TASK_COUNTS  # training levers are measured at each count on their way to theirs
    out = {"seeds": list(LEVER_SEEDS), "n_goals": legged.LEGGED_GOALS, "families": {}, "levers": [],
           "warmup_levers": []}
    for fam in legged.LEGGED:
        still = float(figures.standing_still(tasks.tuning_goals(fam, legged.LEGGED_GOALS)).mean())
        levers_ = [{"family": fam, "tasks": n, "rows": rows, "still": still}
                   for n in counts for rows in [_lever_rows(fam, n)] if rows]
        warmups = [{"family": fam, "tasks": n, "base": base, "rows": rows, "still": still,
                    "control_reproduces": _control_reproduces(fam, n, base)}
                   for base in ("quick", *LEVERS) for n in counts
                   for rows in [_warmup_lever_rows(fam, n, base)] if rows]
        if not (levers_ or warmups):
            continue
        quick = {}  # the quick preset's mean |v − g| over (seed, goal) of LEVER_SEEDS, at its training samples
        for n in counts:
            runs = [r for s in LEVER_SEEDS for r in [finished(legged.tasks_path("quick", fam, s, n))] if r]
            if runs:
                quick[str(n)] = {"samples": float(np.mean([r["samples"] for r in runs])), "seeds": len(runs),
                                 "vel_err_mean": float(np.mean([p["vel_err"] for r in runs for p in r["points"]]))}
        out["families"][fam] = {"still": still, "quick": quick}
        out["levers"] += levers_
        out["warmup_levers"] += warmups
    path = os.path.join(DOCS_DIR, "levers.json")
    if os.path.exists(path):
        _keep_published_rows(out, store.read_json(path))
    store.write_json(out, path)
    _plot(out)
    return out


def _keep_published_rows(out, published):
    """Into `out` (summary's, in place): every row and quick-preset point of `published` (levers.json as it was) that
    out lacks or measures on fewer seeds (probes.keep_published), tables in summary's order."""
    for fam, f in published["families"].items():
        mine = out["families"].setdefault(fam, {"still": f["still"], "quick": {}})
        mine["quick"] = {n: keep_published(mine["quick"], f["quick"], n, f"the quick preset at {n} tasks on {fam}")
                         for n in sorted({*mine["quick"], *f["quick"]}, key=int)}
    bases = ("quick", *LEVERS)
    for key, names in (("levers", list(LEVERS)), ("warmup_levers", list(WARMUP_LEVERS))):
        tables = {(t["family"], t["tasks"], t.get("base")): t for t in out[key]}
        for old in published[key]:
            t = tables.setdefault((old["family"], old["tasks"], old.get("base")), {**old, "rows": {}})
            t["rows"] = {n: keep_published(t["rows"], old["rows"], n, f"lever {n} at {old['tasks']} tasks on "
                                                                     f"{old['family']}")
                         for n in sorted({*t["rows"], *old["rows"]}, key=names.index)}
        out[key] = sorted(tables.values(), key=lambda t: (legged.LEGGED.index(t["family"]),
                                                          bases.index(t.get("base", "quick")), t["tasks"]))


def _plot(out):
    """docs/results/probes/levers.png, a panel per family: every lever's mean |v − g| (over its seeds × goals) at the
    real training samples it was measured at, a marker per task count joined by a line (hollow circles: levers of
    training; squares: levers of the warm-up alone), beside the quick preset's own (stars), standing still's and half
    of it."""
    fams = list(out["families"])
    if not fams:
        return
    plt = figures.pyplot()
    fig, axes = plt.subplots(len(fams), 1, figsize=(11, 5 * len(fams)), squeeze=False)
    colours = ("C2", "C4", "C5", "C6", "C9", "C7", "C3", "C8", "C1", "0.5")  # not C0 (the quick preset's) nor black
    for ax, fam in zip(axes[:, 0], fams):
        q = sorted(out["families"][fam]["quick"].values(), key=lambda p: p["samples"])
        ax.plot([p["samples"] for p in q], [p["vel_err_mean"] for p in q], "*-", color="C0", ms=11,
                label="SMTL at the quick preset (10, 30, 100 tasks)")
        series = {}  # (kind, base, name) -> [(samples, mean |v − g|)], and its label
        for kind, tables in (("training", out["levers"]), ("warm-up", out["warmup_levers"])):
            for lv in (lv for lv in tables if lv["family"] == fam):
                base = lv.get("base", "quick")
                for name, r in lv["rows"].items():
                    label = f"{kind} lever: {r['what']}" + ("" if base == "quick" else f", from {base}'s checkpoints")
                    series.setdefault((kind, base, name), ([], label))[0].append((r["samples"], r["vel_err_mean"]))
        for k, ((kind, _, _), (points, label)) in enumerate(sorted(series.items())):
            x, y = zip(*sorted(points))
            ax.plot(x, y, "o--" if kind == "training" else "s:", mfc="none", mew=1.5, ms=7, lw=1.2,
                    color=colours[k % len(colours)], label=label)
        still = out["families"][fam]["still"]
        ax.axhline(still, color="k", ls=":", label="standing still")
        ax.axhline(figures.LEARNS_STOP * still, color="k", ls="--", lw=0.8,
                   label=f"{figures.LEARNS_STOP:g} × standing still (the target)")
        ax.set_xscale("log")
        ax.set_xlabel("real training samples (log scale)")
        ax.set_ylabel(f"mean |v − g| over 200 steps, {len(out['seeds'])} seeds × {out['n_goals']} tuning goals",
                      fontsize=8)
        ax.set_title(f"{fam}: SMTL's zero-sample warm-up with one setting changed", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: the markers stay visible
    fig.savefig(os.path.join(DOCS_DIR, "levers.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)


def markdown(doc):
    """docs/results.md's lines for levers.json (`doc`, from summary): a paired table per task count and base."""
    lines = [f"**Levers on SMTL's zero-sample warm-up** ({', '.join(doc['families'])}, seeds "
             f"{', '.join(map(str, doc['seeds']))} × {doc['n_goals']} tuning goals; one setting changed at a "
             "time):", "",
             "![the levers](results/probes/levers.png)"]
    for key, title in (("levers", "Levers on training (`python -m lab.levers levers{flag}`), each measured after "
                                  "{tasks} training tasks on {family} and paired over (seed, goal) with the quick "
                                  "preset's own runs"),
                       ("warmup_levers", "Levers on the warm-up alone (`python -m lab.levers warmup_levers{flag}`), "
                                         "each warming up from {whose} own checkpoints at {tasks} tasks on {family} "
                                         "(the same model, data and value function) and paired over (seed, goal) with "
                                         "{whose} warm-up recomputed beside it")):
        for lv in doc[key]:
            base = lv.get("base", "quick")
            flag = "" if lv["family"] == LEVER_FAMILY else f" --family {lv['family']}"
            lv = {**lv, "flag": flag + ("" if base == "quick" else f" --base {base}"),
                  "whose": "the quick preset's" if base == "quick" else f"the training lever {base}'s"}
            same = {True: "; the recomputed control equals the training probe's own warm-up to the digit",
                    False: "; the recomputed control does NOT equal the training probe's own warm-up"}.get(
                lv.get("control_reproduces"), "")
            lines += ["", title.format(**lv) + f" (lever − control; below zero, a smaller |v − g|{same}; standing "
                                                f"still's |v − g| on these goals: {num(lv['still'], '.3f')}):", "",
                      "| lever | seeds | \\|v − g\\| with it | \\|v − g\\| difference | episode length with it | "
                      "episode length difference | virtual − real return with it |",
                      "| --- | --- | --- | --- | --- | --- | --- |"]
            lines += [f"| {r['what']} | {r['seeds']} | {num(r['vel_err_mean'], '.3f')} | "
                      f"{interval(r['vel_err'], '.3f')} {figures.verdict(*r['vel_err'][1:])} | "
                      f"{num(r['ep_len_mean'], '.0f')} | {interval(r['ep_len'], '.0f')} "
                      f"{figures.verdict(*r['ep_len'][1:])} | {num(r['virtual_minus_real_mean'], '.0f')} |"
                      for r in lv["rows"].values()]
    return lines


def main(argv=None):
    cluster.stop_on_sigterm()  # `kill` stops the workers too, and every finished run stays on disk
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("probe", choices=["levers", "warmup_levers", "summary"])
    p.add_argument("--lever", action="append", help="only these levers (repeatable)")
    p.add_argument("--tasks", type=int, choices=legged.TASK_COUNTS, default=LEVER_TASKS,
                   help=f"levers: trained to this many tasks; warmup_levers: from the checkpoints at this many "
                        f"(default {LEVER_TASKS})")
    p.add_argument("--base", choices=["quick", *LEVERS], default="quick",
                   help="warmup_levers: warm up from this training lever's checkpoints (default: the quick preset's)")
    p.add_argument("--family", choices=legged.LEGGED, default=LEVER_FAMILY,
                   help=f"levers, warmup_levers: the body (default {LEVER_FAMILY}); summary gathers every body")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = p.parse_args(argv)
    known = LEVERS if args.probe == "levers" else WARMUP_LEVERS
    if args.probe != "summary" and set(args.lever or ()) - set(known):
        p.error(f"{args.probe} has no lever {', '.join(sorted(set(args.lever) - set(known)))} "
                f"(its levers: {', '.join(n for n in known if n != 'quick')})")
    os.makedirs(OUT_DIR, exist_ok=True)
    start = time.perf_counter()
    if args.probe == "levers":
        levers(args.workers, args.lever, args.tasks, args.family)
    elif args.probe == "warmup_levers":
        warmup_levers(args.workers, args.tasks, args.lever, args.base, args.family)
    else:
        summary()
    print(f"{args.probe}: done in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
