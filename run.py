"""One command per figure of the paper: train SMTL, MAML and the oracle, adapt them to held-out tasks, plot.

Stages (Section 5.1): `train` (Algorithm 1 for SMTL; MAML-TRPO; the task-conditioned oracle), `adapt` (each algorithm
on the same held-out goals: SMTL's Eq. (6), MAML's policy-gradient steps of Eq. (3), the oracle as is) and `plot`
(mean real return vs real samples with bootstrap 95% intervals, Figures 1-3). Every stage is cached in the output
directory: re-running skips finished work and an interrupted run resumes.

    python run.py --env cheetah                                  # Figure 1a at the quick preset
    python run.py --env ant --task fwd-back --shift crippled     # Figure 2d
    python run.py --env ant --task vel2d --active estimated --smtl-n-tasks 20 --algos smtl,smtl-active   # Fig. 3b
"""
import argparse
import dataclasses
import json
import math
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
import torch
from tqdm.auto import tqdm

import maml
import smtl
import tasks
from dynamics import DynamicsConfig, ModelDivergedError
from slbo import SLBOConfig, rows
from trpo import TRPOConfig

TASKS = {"vel": "goal velocity in [0, b]", "vel-full": "goal velocity in [-b, b]",
         "fwd-back": "run forward or backward", "vel2d": "2-D goal velocity (ant)"}
ALGOS = ("smtl", "smtl-active", "maml", "oracle")
# Every hyperparameter group: a dataclass whose fields (paper defaults, one-line help) become --<group>-<field> flags.
CONFIGS = {"smtl": smtl.SMTLConfig, "slbo": SLBOConfig, "dyn": DynamicsConfig, "trpo": TRPOConfig,
           "maml": maml.MAMLConfig, "oracle": maml.OracleConfig}
# Presets: overrides of the paper's values. `paper` is the Appendix. `quick` fits python run.py --env cheetah in
# about 15 minutes on a 2-core CPU (bench.py measures SLBO and SMTL with it); `smoke` checks the pipeline in a minute.
# NOTE (differs from paper): `quick` keeps the paper's real samples per stage (4,000 / 8,000) and virtual batch, but
# spends the virtual training differently, because with the Appendix's 20 × (100 model + 40 TRPO steps at max KL
# 0.01) per stage the policy exploits the young model (single-task SLBO: |v − g| 0.257 after 40,000 samples, 75 min;
# bench.py) while fewer, larger TRPO steps reach ≤ 0.2 on 3 of 3 seeds within 24,000 samples, ~1 min each.
PRESETS = {
    "paper": {"n_goals": 40},
    "quick": {"n_goals": 8,  # a panel in about an hour on 2 cores; the intervals are wide
              "smtl": dict(n_tasks=10,  # the paper trains on 100 tasks
                           n_warmup=20,  # rounds of warm-up per task (paper 40): each round below is larger
                           n_inner_adapt=5),  # rounds after each real collection at adaptation
              # model steps per round (paper 100): the model must stay ahead of the policy; 250, not 300, for a
              # cheaper round (44 % of it was the model fit), bench.py slbo still met on 3 of 3 seeds
              "slbo": dict(n_model=250,
                           n_policy=20),  # TRPO steps per round (paper 40), each 5× larger (max_kl below)
              "dyn": dict(hidden=(200, 200),  # the paper's 500 × 500 at lr 1e-3 met bench.py's bar on 1 of 2 seeds
                          lr=3e-3),
              "trpo": dict(max_kl=0.05,  # fewer, larger policy steps (paper 0.01)
                           # V: 1 pass of 1000 (SLBO: 5 of 64, 80 % of a TRPO step's time; 4 Adam steps per step)
                           vf_epochs=1, vf_batch=1000,
                           fvp_subsample=5,  # F on every 5th state, as OpenAI baselines' TRPO: CG costs a fifth
                           # SLBO's normc init (output rows of norm 0.01) failed more warm-ups at these larger steps:
                           # in one trained model, 16 warm-ups on goals from p(ψ): mean |v − g| 0.164 (max 0.66) with
                           # normc, 0.145 (max 0.37) with PyTorch's init
                           slbo_init=False),
              # MAML's meta-step: at max_kl 0.01 a laptop budget of 1.6M samples leaves the meta-policy's σ where it
              # started and one adaptation step changes nothing
              "maml": dict(n_iters=80, meta_batch=10, n_rollouts=5, max_kl=0.05),
              # the oracle trains on real samples with the paper's TRPO: with the larger steps model-free TRPO did
              # worse (bench.py trpo_mf)
              "oracle": dict(n_iters=300, trpo=dict(vf_epochs=1))},
    "smoke": {"n_goals": 2,
              "smtl": dict(n_tasks=2, n_warmup=1, n_inner_adapt=1, n_slbo_adapt=1, n_eval_episodes=1),
              "slbo": dict(n_collect=400, n_trpo=400, n_model=20, n_policy=2, n_init_states=50),
              "dyn": dict(hidden=(64, 64)),
              "trpo": dict(vf_epochs=1),
              "maml": dict(n_iters=2, meta_batch=2, n_rollouts=2),
              "oracle": dict(n_iters=2, n_samples=400, trpo=dict(vf_epochs=1))},
}
IDENTITY = ("env", "task", "shift", "active", "preset", "seed", "n_goals", "configs")  # what names an experiment
# The domains a hyperparameter field may declare (its metadata "domain"); every number must also be finite.
DOMAINS = {"> 0": lambda x: x > 0, ">= 0": lambda x: x >= 0, ">= 1": lambda x: x >= 1,
           "[0, 1]": lambda x: 0 <= x <= 1, "(0, 1]": lambda x: 0 < x <= 1, "(0, 1)": lambda x: 0 < x < 1}


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, not argparse's usage block
        self.exit(2, f"run.py: error: {message} (see python run.py --help)\n")


def _count(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a count >= 0, got {n}")
    return n


def _bool(text):
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


def _widths(text):
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 64,64, got {text!r}") from None


def _field_type(f):
    if isinstance(f.default, bool):
        return _bool
    if isinstance(f.default, tuple):
        return _widths
    if isinstance(f.default, int):
        return _count
    return type(f.default)


def _validate(group, cfg):
    """Every field of a config within its domain (numbers finite; widths ≥ 1), or a ValueError naming its flag."""
    for f in dataclasses.fields(cfg):
        value, flag = getattr(cfg, f.name), f"--{group}-{f.name.replace('_', '-')}"
        if dataclasses.is_dataclass(value):
            _validate(group if group != "oracle" else "trpo", value)
        elif isinstance(value, tuple) and not (value and all(isinstance(w, int) and w >= 1 for w in value)):
            raise ValueError(f"{flag} must be layer widths >= 1, got {','.join(map(str, value)) or 'nothing'}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            domain = f.metadata.get("domain")
            if not math.isfinite(value) or (domain and not DOMAINS[domain](value)):
                raise ValueError(f"{flag} must be a finite number{f' {domain}' if domain else ''}, got {value}")


def _check_device(name):
    """The torch device `name` if torch can use it here, else a ValueError with one line."""
    try:
        device = torch.device(name)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"--device {name}: torch {torch.__version__} cannot use it here ({why})") from None
    return device


def _parser():
    p = _Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("stage", nargs="?", default="all", choices=("all", "train", "adapt", "plot"),
                   help="run every stage (default), or only one (each needs the ones before it)")
    p.add_argument("--env", default="cheetah", choices=sorted({f.env for f in tasks.FAMILIES.values()}),
                   help="MuJoCo body (default: cheetah)")
    p.add_argument("--task", default="vel", choices=list(TASKS), help="task family (default: vel): " + "; ".join(
        f"{k}: {v}" for k, v in TASKS.items()))
    p.add_argument("--shift", default=None, choices=list(tasks.SHIFTS),
                   help="test-time shift, Figure 2: " + "; ".join(f"{k}: {v}" for k, v in tasks.SHIFTS.items()))
    p.add_argument("--active", default="off", choices=("off", *smtl.ACTIVE),
                   help="task selection of the 'smtl-active' algorithm, Section 4.4 / Figure 3 (default: off)")
    p.add_argument("--algos", default=None,
                   help=f"comma-separated, from {', '.join(ALGOS)} (default: smtl,maml,oracle; "
                        f"with --active: smtl,smtl-active)")
    p.add_argument("--preset", default="quick", choices=list(PRESETS),
                   help="budget (default: quick): paper = the Appendix's settings, smoke = a one-minute check")
    p.add_argument("--n-goals", type=_count, default=None, help="held-out evaluation goals (default: the preset's)")
    p.add_argument("--seed", type=_count, default=0, help="random seed (default: 0; same seed, same numbers on the CPU)")
    p.add_argument("--device", default="cpu", help="torch device for networks and the learned model (default: cpu)")
    p.add_argument("--workers", type=_count, default=min(os.cpu_count() or 1, 8),
                   help="processes adapting to held-out goals in parallel (default: the CPU count, at most 8)")
    p.add_argument("--out", default=None, help="output directory (default: runs/<experiment>)")
    for group, cls in CONFIGS.items():
        g = p.add_argument_group(f"{group} hyperparameters (default: the paper's value, or the preset's)")
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(f.default) or (group, f.name) == ("smtl", "active"):
                continue  # set by their own flags: the oracle's TRPO by --trpo-*, active selection by --active
            metavar = {bool: "true|false", int: "N", float: "X", str: "S", tuple: "N,N"}.get(type(f.default), "V")
            domain = f"; {f.metadata['domain']}" if f.metadata.get("domain") else ""
            g.add_argument(f"--{group}-{f.name.replace('_', '-')}", dest=f"{group}.{f.name}", type=_field_type(f),
                           default=None, metavar=metavar,
                           help=f"{f.metadata.get('help', '')} [paper: {f.default}{domain}]")
    return p


def _flags(args, group):
    """{field: value} of the --<group>-<field> flags given on the command line."""
    return {k.split(".", 1)[1]: v for k, v in vars(args).items() if k.startswith(f"{group}.") and v is not None}


def _configs(args):
    """{group: dataclass instance}: the paper's defaults, then the preset's and body's overrides, then the flags."""
    preset, out = PRESETS[args.preset], {}
    for group, cls in CONFIGS.items():
        values = dict(preset.get(group, {}))
        if group == "slbo":  # 4,000 samples per stage for the half-cheetah, 8,000 for the ant and the humanoid
            values = {**dataclasses.asdict(smtl.slbo_config_for(args.family)), **values}
        if group == "maml" and (args.family.env == "humanoid" or args.family.name == "ant-fwd-back"):
            values = {"n_rollouts": 40, **values}  # MAML's batch: 40 rollouts here, 20 elsewhere (Appendix)
        if group == "smtl":
            values["active"] = args.active
        if group == "oracle":  # TRPO on real samples: the paper's settings, the preset's for the oracle, --trpo-* flags
            values["trpo"] = TRPOConfig(**{**values.get("trpo", {}), **_flags(args, "trpo")})
        out[group] = cls(**{**values, **_flags(args, group)})
    return out


def _check(args):
    """Turn flags into a family, goals and configs, or a ValueError with one clear line."""
    env_tasks = [f.task for f in tasks.FAMILIES.values() if f.env == args.env]
    if args.task not in env_tasks:
        raise ValueError(f"task {args.task!r} is not defined for --env {args.env}; choose one of: "
                         f"{', '.join(env_tasks)}")
    args.family = tasks.get_family(f"{args.env}-{args.task}")
    tasks.check_shift(args.family, args.shift)
    algos = args.algos.split(",") if args.algos else (["smtl", "smtl-active"] if args.active != "off" else
                                                       ["smtl", "maml", "oracle"])
    for a in algos:
        if a not in ALGOS:
            raise ValueError(f"unknown algorithm {a!r} in --algos; choose from {', '.join(ALGOS)}")
    if "smtl-active" in algos and args.active == "off":
        raise ValueError("algorithm 'smtl-active' needs --active true or --active estimated")
    args.algos = algos
    args.n_goals = PRESETS[args.preset]["n_goals"] if args.n_goals is None else args.n_goals
    if not 1 <= args.n_goals <= tasks.N_EVAL:
        raise ValueError(f"--n-goals must be between 1 and {tasks.N_EVAL} (the held-out split), got {args.n_goals}")
    args.device = str(_check_device(args.device))
    args.configs = _configs(args)
    for group, cfg in args.configs.items():
        _validate(group, cfg)
    H = args.family.horizon  # a batch of n samples is n / H rows of H steps: n must be a multiple of H
    rows(args.configs["slbo"].n_collect, H, "--slbo-n-collect")
    rows(args.configs["slbo"].n_trpo, H, "--slbo-n-trpo")
    rows(args.configs["oracle"].n_samples, H, "--oracle-n-samples")
    flags = sorted((k, v) for k, v in vars(args).items() if "." in k and v is not None)  # hyperparameter flags
    name = "-".join([args.family.name, *([args.shift] if args.shift else []),
                     *([f"active-{args.active}"] if args.active != "off" else []), args.preset, f"s{args.seed}",
                     *([f"goals{args.n_goals}"] if args.n_goals != PRESETS[args.preset]["n_goals"] else []),
                     *(f"{k}={'x'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in flags)])
    args.out = args.out or os.path.join("runs", name)
    args.goals = tasks.eval_goals(args.family, shift=args.shift)[:args.n_goals]  # (n_goals, goal_dim)
    return args


def _identity(args):
    ident = {k: getattr(args, k) for k in IDENTITY if k != "configs"}
    ident["configs"] = {g: dataclasses.asdict(c) for g, c in args.configs.items()}
    return json.loads(json.dumps(ident))  # tuples -> lists, as read back from disk


# ---------------------------------------------------------------------------------------------
# Output directory: atomic JSON, one file per finished piece of work
# ---------------------------------------------------------------------------------------------
def _write_json(obj, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _claim_out_dir(args):
    path = os.path.join(args.out, "experiment.json")
    ident = _identity(args)
    if os.path.exists(path):
        old = _read_json(path)
        diff = [k for k in IDENTITY if old.get(k) != ident[k]]
        if diff:
            raise ValueError(f"{args.out} holds another experiment (different {', '.join(diff)}); "
                             f"pick another --out or the same settings")
    elif os.path.isdir(args.out) and os.listdir(args.out):
        raise ValueError(f"{args.out} is not empty and holds no experiment.json; pick another --out")
    _write_json(ident, path)


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------
def _ckpt(args, algo):
    return os.path.join(args.out, f"{algo}.pt")


def _train(args, algo):
    """Train one algorithm (resuming its checkpoint); returns training samples and wall-clock seconds."""
    c, fam, path = args.configs, args.family, _ckpt(args, algo)
    if algo in ("smtl", "smtl-active"):
        cfg = c["smtl"] if algo == "smtl-active" else dataclasses.replace(c["smtl"], active="off")
        out = smtl.train(fam, cfg, c["slbo"], c["dyn"], c["trpo"], seed=args.seed, device=args.device,
                         checkpoint=path)
    elif algo == "maml":
        out = maml.meta_train(fam, c["maml"], seed=args.seed, device=args.device, checkpoint=path)
    else:
        out = maml.train_oracle(fam, c["oracle"], seed=args.seed, device=args.device, checkpoint=path)
    return {"samples": int(out["samples"]), "wall_s": float(out["wall_s"])}


def _adapt_one(args, algo, i):
    """Adapt one algorithm to held-out goal i: a list of {samples, return, vel_err} points. Runs in a worker."""
    torch.set_num_threads(1)
    c, fam, goal, seed = args.configs, args.family, args.goals[i], args.seed * 1000 + i
    start = time.perf_counter()
    if algo in ("smtl", "smtl-active"):
        curve = smtl.adapt(_ckpt(args, algo), goal, args.shift, seed=seed, device=args.device)
    elif algo == "maml":
        policy = maml.load_policy(_ckpt(args, algo), "maml", fam, c["maml"], args.seed, args.device)
        # the same real samples per adaptation step as an SMTL stage (Section 5.1)
        curve = maml.adapt(fam, policy, goal, n_steps=c["smtl"].n_slbo_adapt,
                           n_rollouts=rows(c["slbo"].n_collect, fam.horizon), shift=args.shift, seed=seed,
                           cfg=c["maml"], n_eval_episodes=c["smtl"].n_eval_episodes)
    else:
        policy = maml.load_policy(_ckpt(args, algo), "oracle", fam, c["oracle"], args.seed, args.device)
        episodes = np.tile(goal, (c["smtl"].n_eval_episodes, 1))  # (n_eval_episodes, goal_dim)
        ev = maml.evaluate_oracle(fam, policy, episodes, args.shift, seed=seed)
        curve = [{"samples": 0, "return": float(ev["return"].mean()),
                  "vel_err": None if ev["vel_err"] is None else float(ev["vel_err"].mean())}]
    return {"goal": goal.tolist(), "wall_s": time.perf_counter() - start,
            "curve": [{"samples": int(p["samples"]), "return": float(p["return"]),
                       "vel_err": None if p.get("vel_err") is None else float(p["vel_err"])} for p in curve]}


def _check_trained(args):
    """Adaptation never trains: each algorithm's checkpoint must hold a finished training, else one ValueError."""
    for algo in args.algos:
        path = _ckpt(args, algo)
        if not os.path.exists(path):
            raise ValueError(f"no trained {algo} in {args.out}; run the train stage first")
        if algo in ("maml", "oracle"):
            maml.load_policy(path, algo, args.family, args.configs[algo], args.seed)  # raises if unfinished
            continue
        cfg, log = args.configs["smtl"], smtl.load_checkpoint(path)["log"]
        if not smtl.training_done(log, cfg):
            raise ValueError(f"the {algo} training in {path} is unfinished ({sum(not r['skipped'] for r in log)} of "
                             f"{cfg.n_tasks} tasks); run the train stage (or the whole command) again to finish it")


def _adapt(args):
    """Every (algorithm, goal) pair not yet on disk, in parallel worker processes."""
    _check_trained(args)
    todo = [(a, i) for a in args.algos for i in range(args.n_goals)
            if not os.path.exists(os.path.join(args.out, "adapt", a, f"goal{i:02d}.json"))]
    if not todo:
        return
    bar = tqdm(total=len(todo), desc="adapt to held-out goals")

    def done(algo, i, result):
        _write_json(result, os.path.join(args.out, "adapt", algo, f"goal{i:02d}.json"))
        bar.update(1)
        bar.set_postfix(algo=algo, goal=i, ret=f"{result['curve'][-1]['return']:.1f}")

    if args.workers <= 1:
        for a, i in todo:
            done(a, i, _adapt_one(args, a, i))
    else:
        pool = ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn"))
        try:
            jobs = {pool.submit(_adapt_one, args, a, i): (a, i) for a, i in todo}
            for job in as_completed(jobs):
                done(*jobs[job], job.result())
        finally:  # on an error (or ^C), drop the queued goals instead of waiting for them
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()


def _bootstrap(x, n=10_000, seed=0):
    """Mean of x over goals and its bootstrap 95% confidence interval (Section 5.2)."""
    x = np.asarray(x, dtype=np.float64)  # (n_goals,)
    idx = np.random.default_rng(seed).integers(len(x), size=(n, len(x)))  # (n, n_goals) resampled goals
    lo, hi = np.percentile(x[idx].mean(1), [2.5, 97.5])
    return float(x.mean()), float(lo), float(hi)


def _summarise(args, trained):
    """results.json: per algorithm, per adaptation stage (0 = before any real sample): the mean real samples spent
    so far over goals, the mean return with its bootstrap CI (ci_low, ci_high), and the mean |v − g|."""
    results = {"experiment": _identity(args), "algos": {}}
    for algo in args.algos:
        runs = [_read_json(os.path.join(args.out, "adapt", algo, f"goal{i:02d}.json")) for i in range(args.n_goals)]
        points = []
        for stage in range(len(runs[0]["curve"])):
            at = [r["curve"][stage] for r in runs]  # this stage's point on every goal
            mean, lo, hi = _bootstrap([p["return"] for p in at])
            points.append({"stage": stage, "samples": float(np.mean([p["samples"] for p in at])), "mean": mean,
                           "ci_low": lo, "ci_high": hi,
                           "vel_err": None if at[0]["vel_err"] is None else float(np.mean([p["vel_err"] for p in at]))})
        train = trained.get(algo, {"samples": None, "wall_s": None})
        results["algos"][algo] = {"points": points, "train_samples": train["samples"], "train_wall_s": train["wall_s"],
                                  "adapt_wall_s": float(sum(r["wall_s"] for r in runs))}
    return results


def _table(results):
    """Algorithms aligned by adaptation stage: each cell the mean return [95% CI] and the real samples spent."""
    algos = results["algos"]
    n_stages = max(len(v["points"]) for v in algos.values())
    head = ["algorithm", *[f"stage {k}" for k in range(n_stages)], "train samples", "train time"]
    lines = [[a, *[f"{p['mean']:.1f} [{p['ci_low']:.1f}, {p['ci_high']:.1f}] @ {p['samples']:,.0f}"
                   for p in v["points"]], *[""] * (n_stages - len(v["points"])), f"{v['train_samples'] or 0:,}",
              f"{(v['train_wall_s'] or 0) / 60:.1f} min"] for a, v in algos.items()]
    widths = [max(len(str(r[k])) for r in [head, *lines]) for k in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [head, *lines])


def _plot(args, results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {"smtl": ("SMTL (ours)", "C0"), "smtl-active": (f"SMTL, active ({args.active})", "C2"),
             "maml": ("MAML", "C1"), "oracle": ("oracle", "C3")}
    xmax = max(p["samples"] for a in results["algos"].values() for p in a["points"]) or 1
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for algo, r in results["algos"].items():
        label, color = style[algo]
        x = np.array([p["samples"] for p in r["points"]])
        mean, lo, hi = (np.array([p[k] for p in r["points"]]) for k in ("mean", "ci_low", "ci_high"))
        if algo == "oracle":  # no adaptation: a level line with its band
            ax.axhline(mean[0], color=color, ls="--", label=label)
            ax.axhspan(lo[0], hi[0], color=color, alpha=0.12)
            continue
        ax.plot(x, mean, "o-", color=color, label=label)
        ax.fill_between(x, lo, hi, color=color, alpha=0.2)
        if algo.startswith("smtl"):  # the zero-sample point: warm-up in the learned model only
            ax.plot(x[:1], mean[:1], "*", ms=14, color=color)
    fam, space = args.family, args.family.goal_space(args.shift)
    goals = "{-1, +1}" if fam.kind == "direction" else " × ".join(f"[{lo:g}, {hi:g}]" for lo, hi in
                                                                 zip(space.low, space.high))
    ax.set_title(f"{fam.env} {goals}" + (f", {args.shift}" if args.shift else "") + f" ({args.n_goals} goals)")
    ax.set_xlabel("real samples at adaptation")
    ax.set_ylabel("average return")
    ax.set_xlim(-0.03 * xmax, 1.03 * xmax)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        args = _check(args)
        _claim_out_dir(args)
        print(f"experiment: {args.family.name}" + (f", shift {args.shift}" if args.shift else "") +
              f", algorithms {', '.join(args.algos)}, preset {args.preset}, {args.n_goals} held-out goals -> {args.out}")
        trained_path = os.path.join(args.out, "train.json")
        trained = _read_json(trained_path) if os.path.exists(trained_path) else {}
        if args.stage in ("all", "train"):
            for algo in args.algos:
                trained[algo] = _train(args, algo)
                _write_json(trained, trained_path)
        if args.stage in ("all", "adapt"):
            _adapt(args)
        if args.stage in ("all", "plot"):
            results = _summarise(args, trained)
            _write_json(results, os.path.join(args.out, "results.json"))
            _plot(args, results, os.path.join(args.out, "figure.png"))
            print(f"\nreal return after adaptation on {args.n_goals} held-out goals, mean [95% bootstrap CI] @ real "
                  f"samples spent (stage 0: before any; SMTL's warm-up, MAML's meta-policy)\n"
                  f"{_table(results)}\n\nwrote {os.path.join(args.out, 'results.json')} and "
                  f"{os.path.join(args.out, 'figure.png')}")
    except (ValueError, FileNotFoundError, ModelDivergedError) as e:
        sys.exit(f"run.py: error: {e}")
    except KeyboardInterrupt:
        sys.exit(f"\nrun.py: interrupted; finished work is kept in {args.out}: run the same command to resume")


if __name__ == "__main__":
    main()
