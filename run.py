"""One command per panel or figure of the paper: train SMTL, MAML and the oracle, adapt them to held-out tasks, plot.

Stages (Section 5.1): `train` (Algorithm 1 for SMTL; MAML-TRPO; the task-conditioned oracle), `adapt` (each algorithm
on the same held-out goals: SMTL's Eq. (6), MAML's policy-gradient steps of Eq. (3), the oracle as is) and `plot`
(mean real return vs real samples with bootstrap 95% intervals; lab/figures.py). Nothing is done twice: trained models
live in <root>/models, keyed by body, task family, seed and settings, and every experiment that needs one reuses it
(Figure 2 adapts Figure 1's trainings; Figure 3's 20-task runs resume its 5-task ones); each adapted goal is a file.
Re-running skips finished work and an interrupted run resumes. This file is the command line: it turns the flags
into an experiment's checked arguments (`check_args`: family, goals, configs, folders). lab/experiment.py runs the
stages; the jobs themselves are lab/jobs.py's; where they run (worker processes here, or a Ray cluster with --ray)
is lab/cluster.py's.

    python run.py --env cheetah                                  # Figure 1a at the quick preset
    python run.py --env ant --task fwd-back --shift crippled     # Figure 2d, reusing 1d's trainings
    python run.py --figure 1 --seeds 0,1,2                       # every panel of Figure 1, three seeds each
    python run.py results                                        # docs/results.md from the committed results
    python run.py pool a/results.json b/results.json --out c.json  # one panel's seeds (or algorithms) run apart
    python run.py exercise gae                                   # check a classroom exercise (docs/exercises.md)
"""
import argparse
import copy
import dataclasses
import os
import sys

import config
import smtl
import tasks
from dynamics import ModelDivergedError
from lab import cluster, experiment, figures, jobs, report, store, summaries
from slbo import envs_for

TASKS = {"vel": "goal velocity in [0, b]", "vel-full": "goal velocity in [-b, b]",
         "fwd-back": "run forward or backward", "vel2d": "2-D goal velocity (ant)"}
CONFIGS = jobs.CONFIGS  # every hyperparameter group, each field a --<group>-<field> flag
# Fields no flag sets: SMTL's task selection is named by the algorithm (jobs.ALGOS); the oracle's TRPO settings come
# from the --trpo-* flags (all but policy_hidden: the oracle's policy is --oracle-hidden).
NO_FLAG = {("smtl", "active"), ("oracle", "trpo")}


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


def _seeds(text):
    """'0', '0,1,2' or '0-4' -> sorted distinct seeds."""
    try:
        seeds = set()
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            seeds.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds such as 0 or 0,1,2 or 0-4, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected seeds >= 0 such as 0,1,2, got {text!r}")
    return sorted(seeds)


def _widths(text):
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 64,64, got {text!r}") from None


def _field_kind(f):
    """The Python type of a config field's values; a field whose default is none (n_warmup_adapt) is a count."""
    return int if f.default is None else type(f.default)


def _field_type(f):
    return {bool: _bool, tuple: _widths, int: _count}.get(_field_kind(f), _field_kind(f))


def _parser(argv=None):
    p = _Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("stage", nargs="?", default="all", choices=("all", "train", "adapt", "plot", "video", "results"),
                   help="run every stage (default), or only one (each needs the ones before it); video: an mp4 of "
                        "each algorithm adapted to one held-out goal; results: rebuild docs/results.md, its figures "
                        "and the README's verdicts from the committed docs/results/*.json alone")
    p.add_argument("--figure", type=int, choices=sorted(figures.PANELS), default=None,
                   help="run (or, with `plot`, compose from disk) every panel of Figure 1, 2 or 3 at the preset")
    p.add_argument("--env", default=None, choices=sorted({f.env for f in tasks.FAMILIES.values()}),
                   help="MuJoCo body (default: cheetah)")
    p.add_argument("--task", default=None, choices=list(TASKS), help="task family (default: vel): " + "; ".join(
        f"{k}: {v}" for k, v in TASKS.items()))
    p.add_argument("--shift", default=None, choices=list(tasks.SHIFTS),
                   help="test-time shift, Figure 2: " + "; ".join(f"{k}: {v}" for k, v in tasks.SHIFTS.items()))
    p.add_argument("--algos", default=None,
                   help=f"comma-separated, from {', '.join(jobs.ALGOS)} (default: smtl,maml,oracle); the active ones "
                        f"select tasks by a rating, Section 4.4 / Figure 3")
    p.add_argument("--preset", default="quick", choices=list(config.PRESETS),
                   help="budget (default: quick): paper = the Appendix's settings, smoke = a one-minute check")
    p.add_argument("--n-goals", type=_count, default=None, help="held-out evaluation goals (default: the preset's)")
    p.add_argument("--seeds", type=_seeds, default=None,
                   help="random seeds, e.g. 0,1,2 or 0-4 (default: run seed 0, pool every seed finished on disk); "
                        "results pool goals × seeds; same seed, same numbers on the same CPU model and library "
                        "versions")
    p.add_argument("--device", default="cpu", help="torch device for networks and the learned model (default: cpu)")
    p.add_argument("--workers", type=_count, default=min(os.cpu_count() or 1, 8),
                   help="processes training and adapting in parallel (default: the CPU count, at most 8)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run every training and adaptation as a Ray task: on a Ray instance started here (--ray), or "
                        "on a cluster (--ray auto, --ray ray://host:10001); results land in --root as without it")
    p.add_argument("--ray-retries", type=_count, default=cluster.MAX_RETRIES,
                   help=f"how often Ray re-runs a job whose worker died (default {cluster.MAX_RETRIES})")
    p.add_argument("--video-goal", type=_count, default=0, help="video: which held-out goal (default: 0, the first)")
    p.add_argument("--root", default="runs", help="folder of experiments, trained models and figures (default: runs)")
    p.add_argument("--out", default=None, help="output directory of one experiment (default: <root>/<experiment>)")
    # the values this command would use, from its --env, --task and --preset alone, so that --help can show them
    pre = argparse.ArgumentParser(add_help=False)
    for flag, default in (("--env", "cheetah"), ("--task", "vel"), ("--preset", "quick")):
        pre.add_argument(flag, default=default)
    pre = pre.parse_known_args(argv)[0]
    family = f"{pre.env}-{pre.task}" if f"{pre.env}-{pre.task}" in tasks.FAMILIES else "cheetah-vel"
    preset = pre.preset if pre.preset in config.PRESETS else "quick"
    used, paper = jobs.resolve(family, preset, {}), jobs.resolve(family, "paper", {})
    for group, cls in CONFIGS.items():
        g = p.add_argument_group(f"{group} hyperparameters [value used for {family} at --preset {preset}; the "
                                 f"default (--preset paper) and where it comes from]")
        for f in dataclasses.fields(cls):
            if (group, f.name) in NO_FLAG:
                continue
            metavar = {bool: "true|false", int: "N", float: "X", str: "S", tuple: "N,N"}.get(_field_kind(f), "V")
            domain = f.metadata.get("domain")
            domain = f"; {' or '.join(domain) if isinstance(domain, tuple) else domain}" if domain else ""
            g.add_argument(f"--{group}-{f.name.replace('_', '-')}", dest=f"{group}.{f.name}", type=_field_type(f),
                           default=None, metavar=metavar,
                           help=f"{f.metadata['help']} [{getattr(used[group], f.name)}; default "
                                f"{getattr(paper[group], f.name)}, {f.metadata['source']}{domain}]")
    return p


def _flags(args, group):
    """{field: value} of the --<group>-<field> flags given on the command line."""
    return {k.split(".", 1)[1]: v for k, v in vars(args).items() if k.startswith(f"{group}.") and v is not None}


def check_args(args):
    """Turn flags into a family, goals and configs, or a ValueError with one clear line."""
    args.env, args.task = args.env or "cheetah", args.task or "vel"
    env_tasks = [f.task for f in tasks.FAMILIES.values() if f.env == args.env]
    if args.task not in env_tasks:
        raise ValueError(f"task {args.task!r} is not defined for --env {args.env}; choose one of: "
                         f"{', '.join(env_tasks)}")
    args.family = tasks.get_family(f"{args.env}-{args.task}")
    tasks.check_shift(args.family, args.shift)
    algos = args.algos.split(",") if isinstance(args.algos, str) else list(args.algos or ("smtl", "maml", "oracle"))
    for a in algos:
        if a not in jobs.ALGOS:
            raise ValueError(f"unknown algorithm {a!r} in --algos; choose from {', '.join(jobs.ALGOS)}")
    args.algos = algos
    args.n_goals = config.PRESETS[args.preset]["n_goals"] if args.n_goals is None else args.n_goals
    if not 1 <= args.n_goals <= tasks.N_EVAL:
        raise ValueError(f"--n-goals must be between 1 and {tasks.N_EVAL} (the held-out split), got {args.n_goals}")
    args.device = str(cluster.check_device(args.device))
    args.configs = jobs.resolve(args.family, args.preset, {g: _flags(args, g) for g in CONFIGS})
    for group, cfg in args.configs.items():
        config.check(group, cfg)
    for algo in (a for a in algos if a.startswith("smtl")):
        smtl.check_active(jobs.smtl_config(args, algo))  # before any training, not at the first rating
    H = args.family.horizon  # a batch of n samples is n / H rows of H steps: n must be a multiple of H
    envs_for(args.configs["slbo"].n_collect, H, "--slbo-n-collect")
    envs_for(args.configs["slbo"].n_trpo, H, "--slbo-n-trpo")
    envs_for(args.configs["oracle"].n_samples, H, "--oracle-n-samples")
    flags = sorted((k, v) for k, v in vars(args).items() if "." in k and v is not None)  # hyperparameter flags
    name = "-".join([args.family.name, *([args.shift] if args.shift else []), args.preset,
                     *([f"goals{args.n_goals}"] if args.n_goals != config.PRESETS[args.preset]["n_goals"] else []),
                     *(f"{k}={'x'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in flags)])
    args.out = args.out or os.path.join(args.root, name)
    args.models = os.path.join(args.root, "models")
    args.goals = tasks.eval_goals(args.family, shift=args.shift)[:args.n_goals]  # (n_goals, goal_dim)
    if args.video_goal >= args.n_goals:
        raise ValueError(f"--video-goal must be below --n-goals ({args.n_goals}), got {args.video_goal}")
    return args


def _panels(args):
    """[(panel, its experiment's checked arguments)] for every panel of Figure args.figure."""
    given = [f"--{k}" for k in ("env", "task", "shift", "algos", "out") if getattr(args, k) is not None]
    if args.figure == 3 and getattr(args, "smtl.n_tasks") is not None:
        given.append("--smtl-n-tasks")
    if args.stage == "video":
        raise ValueError("video renders one experiment: drop --figure and give its --env, --task and --shift")
    if given:
        raise ValueError(f"--figure {args.figure} sets {', '.join(given)} per panel; drop {' and '.join(given)}")
    out = []
    for panel in figures.panels(args.figure, args.preset):
        pargs = copy.copy(args)
        pargs.env, pargs.task, pargs.shift, pargs.algos = panel.env, panel.task, panel.shift, list(panel.algos)
        setattr(pargs, "smtl.n_tasks", panel.n_tasks)
        out.append((panel, check_args(pargs)))
    return out


def _results(args):
    """`python run.py results`: docs/results.md, the composites and the README's verdict table from docs/results."""
    given = [f"--{k}" for k in ("figure", "env", "task", "shift", "algos", "out", "ray") if getattr(args, k)]
    if given:
        raise ValueError(f"results reads the committed docs/results alone: drop {' and '.join(given)}")
    out = report.write()
    print(f"wrote {report.RESULTS_MD} ({len(out['panels'])} panels), docs/results/figure{{1,2,3}}.png and the "
          f"verdict table of {report.README}")
    if out["unbacked"]:
        raise ValueError(f"numbers in hand-written notes that their block does not hold: {out['unbacked']}")


def _pool(argv):
    """`python run.py pool IN IN... --out OUT`: one experiment's summaries over disjoint seeds, or over disjoint
    algorithms on the same seeds and goals, as one (summaries.pool)."""
    parser = argparse.ArgumentParser(prog="run.py pool", description=_pool.__doc__.split(": ", 1)[1])
    parser.add_argument("inputs", nargs="+", help="results.json (or figNx.json) files of one experiment; FILE:ALGOS "
                                                  "takes only those algorithms of FILE (e.g. fig1c.json:maml,oracle)")
    parser.add_argument("--out", required=True, help="the pooled results' file (may be an input)")
    a = parser.parse_args(argv)
    parts = []
    for name in a.inputs:
        path, algos = name, None
        if ":" in name and not os.path.exists(name):  # FILE:ALGOS
            path, listed = name.rsplit(":", 1)
            algos = listed.split(",")
            unknown = [x for x in algos if x not in jobs.ALGOS]
            if unknown:
                raise ValueError(f"{name}: FILE:ALGOS names algorithms after the colon ({', '.join(jobs.ALGOS)}), "
                                 f"not {', '.join(map(repr, unknown))}")
        try:
            results = store.read_json(path)
        except ValueError as e:  # not JSON
            raise ValueError(f"{path} is not a results file: {e}") from None
        if not isinstance(results, dict) or not {"experiment", "seeds", "goals", "n_goals", "algos"} <= set(results):
            raise ValueError(f"{path} is not a results file (run.py writes results.json, docs/results/ figNx.json)")
        parts.append(summaries.select(results, algos) if algos else results)
    results = summaries.pool(parts)
    store.write_json(results, a.out)
    print(f"{figures.table(results)}\n\nwrote {a.out}: {', '.join(results['algos'])} on seeds "
          f"{', '.join(map(str, results['seeds']))}")


def _exercise_run(argv):
    """One run of an experiment exercise (exercises/experiments.py): its training and, unless its stage is `train`,
    its adaptation, each resumed from disk; returns its checked arguments (the exercise draws its own figure)."""
    args = check_args(_parser(argv).parse_args(argv))
    args.seeds = args.seeds or [0]
    experiment.claim(args)
    print(f"\n=== {' '.join(argv)} -> {args.out}")
    experiment.train(args, then_adapt=args.stage != "train")
    if args.stage != "train":
        experiment.adapt(args)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    exercise, pool = argv[:1] == ["exercise"], argv[:1] == ["pool"]
    args = _parser(argv).parse_args([] if exercise or pool else argv)  # these two parse their own (exercises/check.py)
    cluster.stop_on_sigterm()
    try:
        if pool:
            return _pool(argv[1:])
        if exercise:  # the classroom exercises (exercises/check.py, docs/exercises.md)
            from exercises import check
            sys.exit(check.main(argv[1:], run_experiment=_exercise_run))
        if args.stage == "results":
            return _results(args)
        if args.ray:
            if args.stage not in ("all", "train", "adapt"):
                raise ValueError(f"--ray runs the train and adapt stages, not {args.stage}: drop --ray")
            experiments = [e for _, e in _panels(args)] if args.figure else [check_args(copy.copy(args))]
            cluster.require_ray()
            experiment.on_ray(args, experiments)
            args.workers = 1  # everything is on disk now: the local path only reads it back and plots
        experiment.figure(args, _panels(args)) if args.figure else experiment.run(check_args(args))
    except (ValueError, OSError, ModelDivergedError) as e:
        sys.exit(f"run.py: error: {e}")
    except KeyboardInterrupt:
        sys.exit(f"\nrun.py: interrupted; finished work is kept in {args.root}: run the same command to resume")


if __name__ == "__main__":
    main()
