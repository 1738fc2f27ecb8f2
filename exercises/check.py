"""The exercises' checks, run by `python run.py exercise NAME`: a student's functions (exercises/<name>.py) against
the reference in the method files, then, for the pieces SLBO is made of, whether SLBO still learns with them.

A check (listed in exercises/checks.py; written in checks_slbo.py, checks_smtl.py and checks_maml.py) calls the
student's function and the reference on inputs chosen so that the mistakes students make show, and knows those
mistakes: a failure names the likely cause before the entry that differs. A student's file that calls or holds the
function it is to replace fails as a copy, in one line. The learning run is single-task SLBO from up to 3 training
seeds, judged by a bar measured on the reference's own spread (LEARN_BAR): a version equal to the reference up to
float rounding learns from at least one of them. The same command answers an experiment exercise (experiments.py).

    python run.py exercise gae                  # check exercises/gae.py
    python run.py exercise gae --solution       # what passing looks like
    python run.py exercise --list               # the exercises, in a course's order
"""
import argparse
import ast
import contextlib
import importlib
import inspect
import sys
import time
import traceback

import numpy as np
import torch

import config
import dynamics
import slbo
import tasks
import trpo
from exercises import checks
from exercises.grade import Failed
from lab import cluster


class Copied(Exception):
    """The student's function called the reference it is to replace."""


# ---------------------------------------------------------------------------------------------
# A copy of the reference is not an answer
# ---------------------------------------------------------------------------------------------
def copies(name, module, fns):
    """The first sign that exercises/<name>.py holds the function it is to replace, as one line, or None: a name of
    the module bound to the reference (`from trpo import gae as g`, `g = trpo.gae`, a default argument), or the
    reference named in its source (`import trpo` then `trpo.gae(...)`, `from trpo import gae` inside a function), or
    an import of the exercises' own modules (the checks hold the reference's runs)."""
    reference = checks.EXERCISES[name].reference
    objects = {id(f): f"{f.__module__}.{f.__name__}" for f in reference.values()}
    for var, value in vars(module).items():
        if id(value) in objects and not var.startswith("__"):
            return f"exercises/{name}.py binds {var} to {objects[id(value)]}, the function to write"
    for fname, fn in fns.items():
        defaults = [*(getattr(fn, "__defaults__", None) or ()), *(getattr(fn, "__kwdefaults__", None) or {}).values()]
        for value in defaults:
            if id(value) in objects:
                return f"a default argument of your {fname} is {objects[id(value)]}, the function to write"
    tree = ast.parse(inspect.getsource(module))
    names = {f.__name__: f.__module__ for f in reference.values()}
    for node in ast.walk(tree):
        imported = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if any(m == "exercises" or m.startswith("exercises.") for m in imported):
            return f"exercises/{name}.py line {node.lineno} imports the exercises' own modules, which hold the " \
                   "reference's runs"
        if isinstance(node, ast.ImportFrom) and any(a.name in names and names[a.name] == node.module
                                                    for a in node.names):
            return f"exercises/{name}.py line {node.lineno} imports {node.module}.{node.names[0].name}, the function " \
                   f"to write"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                names.get(node.attr) == node.value.id:
            return f"exercises/{name}.py line {node.lineno} uses {node.value.id}.{node.attr}, the function to write"
    return None


def guarded(name, fns):
    """The student's functions, each replacing the reference in its module by a tripwire while it runs: a call to the
    reference from inside raises Copied (and cannot recurse into itself in the learning run)."""
    targets = [(sys.modules[f.__module__], f.__name__) for f in checks.EXERCISES[name].reference.values()]

    def wrap(fname, fn):
        def call(*args, **kwargs):
            saved = [(m, attr, getattr(m, attr)) for m, attr in targets]

            def tripwire(module, attr):
                def trip(*_, **__):
                    raise Copied(f"your {fname} calls {module.__name__}.{attr}")
                return trip
            try:
                for m, attr in targets:
                    setattr(m, attr, tripwire(m, attr))
                return fn(*args, **kwargs)
            finally:
                for m, attr, f in saved:
                    setattr(m, attr, f)
        call.__name__ = fname
        return call

    return {k: wrap(k, f) for k, f in fns.items()}


# ---------------------------------------------------------------------------------------------
# Does SLBO still learn with the student's version swapped in?
# ---------------------------------------------------------------------------------------------
LEARN_FAMILY, LEARN_STAGES, LEARN_ROUNDS = "cheetah-vel", 4, 5
LEARN_SEEDS = (0, 1, 2)  # training seeds, each its own SLBO run, run until one learns
# A version learns if, from at least one of LEARN_SEEDS, SLBO brings |v − g| after the stages to at most LEARN_BAR of
# the fresh policy's. Measured (python -m lab.probes exercise_bar; docs/exercises.md) on 12 seeds each of the
# reference, a GAE written as a Python loop (other float rounding) and two wrong answers, the one-step advantage
# r + γV(s') − V(s) and no advantage. The bar lies halfway between the right answers' third-largest ratio (of their 24
# runs) and the wrong answers' smallest: the two right answers together stall above it on 2 runs of 24, so any 3
# seeds hold one that learns, and a wrong answer never gets below it. A mean over 3 seeds separated them by a hair
# only (one right answer's stall of 0.91 lifts it), and after 3 stages not at all: hence the best of 3 after 4 stages.
LEARN_BAR = 0.83


@contextlib.contextmanager
def swapped(name, fns):
    """The method files with the student's functions of exercise `name` in place of the reference's."""
    saved = []
    try:
        for module, attr, fn in checks.EXERCISES[name].swap(fns):
            saved.append((module, attr, getattr(module, attr)))
            setattr(module, attr, fn)
        yield
    finally:
        for module, attr, fn in reversed(saved):
            setattr(module, attr, fn)


def learning_run(name, fns, seed, n_stages=LEARN_STAGES):
    """Single-task SLBO at the quick preset's settings on the median of the first 8 tuning goals (n_stages stages of
    4,000 real samples, LEARN_ROUNDS rounds each) with the student's functions swapped in: |v − g| of the fresh
    policy, and after each stage."""
    torch.set_num_threads(1)
    c = config.values(LEARN_FAMILY, "quick")
    goals = tasks.tuning_goals(LEARN_FAMILY, tasks.GOAL_BLOCK)  # (8, 1)
    goal = goals[np.argsort(goals[:, 0])[len(goals) // 2]]
    with swapped(name, fns):
        learner = slbo.Learner(LEARN_FAMILY, slbo.SLBOConfig(**c["slbo"]), dynamics.DynamicsConfig(**c["dyn"]),
                               trpo.TRPOConfig(**c["trpo"]), seed=seed)
        policy = learner.new_policy()
        before = float(slbo.evaluate(learner.family, policy, goal[None], seed=seed)["vel_err"][0])
        log = slbo.slbo(learner, policy, goal, n_stages, LEARN_ROUNDS, eval_seed=seed, progress=False)
    return before, [row["vel_err"] for row in log]


def _learning_job(job):
    """learning_run in a worker process, job = (name, fns, seed): fns "solution" (the reference), "student" (the
    student's file, read there) or the functions themselves; the student's guarded against copies. (seed, (before,
    after))."""
    name, fns, seed = job
    fns = dict(checks.EXERCISES[name].answer) if fns == "solution" else \
        guarded(name, student(name)[1] if fns == "student" else fns)
    before, after = learning_run(name, fns, seed)
    return seed, (before, after[-1])


def learns(name, fns="student", seeds=LEARN_SEEDS, workers=2):
    """learning_run from the seeds, `workers` at a time, until one learns (after / before ≤ LEARN_BAR): ({seed: (before,
    after)} of the runs made, the best after / before, learned?). fns: "student" (exercises/<name>.py), "solution"
    (the reference) or {function: a version} (module-level functions, which a worker process can import)."""
    runs = {}
    for start in range(0, len(seeds), workers):  # `workers` seeds at once; the next ones only if none learned
        batch = [((name, fns, s),) for s in seeds[start:start + workers]]
        cluster.parallel(_learning_job, batch, workers, lambda job, result: runs.update([result]))
        if min(a / b for b, a in runs.values()) <= LEARN_BAR:
            break
    best = min(a / b for b, a in runs.values())
    return dict(sorted(runs.items())), best, best <= LEARN_BAR


# ---------------------------------------------------------------------------------------------
# The list, in a course's order, and the command
# ---------------------------------------------------------------------------------------------
# A course's order (docs/exercises.md): the model, the policy optimiser, VirtualTraining and the loop of Algorithm 1,
# SMTL's adaptation, task selection, MAML
COURSE = ["model_loss", "bug-model-loss", "exploitation", "gae", "bug-gae", "natural_gradient", "virtual_training",
          "smtl_loop", "adaptation", "warmup", "shift", "ratings", "selection", "maml_step", "bug-maml"]


def student(name):
    """(the module exercises/<name>.py, {function: the student's version})."""
    module = importlib.import_module(f"exercises.{name}")
    return module, {fn: getattr(module, fn) for fn in checks.EXERCISES[name].reference}


def run(name, solution=False, learn=True, fns=None):
    """Check one exercise: the student's file (or `fns`, or with solution the reference); returns (passed, message).
    With learn, a passing check is followed by the learning run."""
    e, from_file = checks.EXERCISES[name], fns is None and not solution
    try:
        if solution:
            fns = dict(e.answer)
        elif fns is None:
            module, fns = student(name)
            copied = copies(name, module, fns)
            if copied:
                return False, f"{name}: FAILED: {copied}: copying the reference is not an answer; write it yourself"
        e.check(guarded(name, fns) if not solution else fns)
    except Failed as err:
        return False, f"{name}: FAILED: {err}"
    except NotImplementedError as err:
        return False, f"{name}: not written yet: {err} (exercises/{name}.py)"
    except Copied as err:
        return False, f"{name}: FAILED: {err}, the function it is to replace: copying the reference is not an " \
                      f"answer; write it yourself"
    except Exception as err:  # the student's code raised: say where, in one line
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.endswith(f"exercises/{name}.py")]
        where = f" at exercises/{name}.py line {frames[-1].lineno}" if frames else ""
        hint = next((h for text, h in checks.ERROR_HINTS.items() if text in str(err)), "")
        context = "".join(f" ({note})" for note in getattr(err, "__notes__", ()))  # what the check was trying
        return False, f"{name}: your code raised {type(err).__name__}: {err}{where}{context}{hint}"
    message = f"{name}: passed: {e.title} agrees with the reference"
    if not (learn and e.swap):
        return True, message
    start = time.perf_counter()
    runs, ratio, ok = learns(name, "solution" if solution else "student" if from_file else fns)
    message += (f"\n{name}: SLBO with your version, |v − g| after {LEARN_STAGES} stages from seed "
                + ", ".join(f"{s}: {b:.3f} → {a:.3f} m/s ({a / b:.2f})" for s, (b, a) in runs.items())
                + f" ({time.perf_counter() - start:.0f} s): "
                + ("it learns" if ok else f"it does NOT learn: no seed gets to {LEARN_BAR:g} of the start, which the "
                                          f"reference does from at least one of any 3"))
    return ok, message


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, not argparse's usage block
        self.exit(2, f"run.py exercise: error: {message} (see python run.py exercise --help)\n")


def main(argv=None, run_experiment=None):
    """`python run.py exercise ...`; run_experiment is run.py's runner of one experiment (an experiment exercise's
    runs)."""
    from exercises import bugs, experiments
    p = _Parser(prog="run.py exercise", description=__doc__.split("\n\n")[0])
    p.add_argument("name", nargs="?", choices=[*checks.EXERCISES, *bugs.BUGS, *experiments.EXPERIMENTS])
    p.add_argument("--solution", action="store_true", help="check the reference itself: what passing looks like")
    p.add_argument("--no-learn", action="store_true", help="skip the SLBO runs after a passing check")
    p.add_argument("--list", action="store_true", help="the exercises, in a course's order")
    p.add_argument("--preset", default="quick", choices=list(config.PRESETS),
                   help="experiment exercises: the runs' preset (default: quick)")
    p.add_argument("--root", default="runs", help="experiment exercises: run.py's --root (default: runs)")
    p.add_argument("--workers", type=int, default=None, help="experiment exercises: run.py's --workers")
    p.add_argument("--seeds", default=None,
                   help=f"experiment exercises: run.py's --seeds (default: {experiments.SEEDS}, as the published "
                        f"answers; one seed takes a third of the time and answers less)")
    args = p.parse_args(argv)
    if args.list or args.name is None:
        for name in COURSE:
            if name in checks.EXERCISES:
                e = checks.EXERCISES[name]
                print(f"{name:<18} {e.title}: exercises/{name}.py ({', '.join(e.reference)})")
            elif name in bugs.BUGS:
                print(f"{name:<18} find the bug: {bugs.BUGS[name].title}")
            else:
                e = experiments.EXPERIMENTS[name]
                print(f"{name:<18} experiment, {e.paper}: {e.question.split('?')[0]}?")
        return 0
    if args.name in bugs.BUGS:
        print(f"{bugs.listing(args.name)}\n\nWhich line is wrong, and do the curves show it? If not, what would? "
              f"(The runs of both versions, resuming:)")
        print(f"wrote {' and '.join(bugs.answer(args.name, args.root))}")
        return 0
    if args.name in experiments.EXPERIMENTS:
        rows, paths = experiments.answer(args.name, run_experiment, args.root, args.preset, args.workers,
                                         args.seeds)
        print(f"\n{experiments.EXPERIMENTS[args.name].question}\n\n{experiments.format_rows(rows)}\n\n"
              f"wrote {' and '.join(paths)}")
        if args.preset != "quick":
            print(f"(at --preset {args.preset} these runs check the pipeline: they are too small to answer the "
                  f"question; the answer is the quick preset's)")
        return 0
    ok, message = run(args.name, args.solution, learn=not args.no_learn)
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
