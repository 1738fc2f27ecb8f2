"""One experiment, or one figure of experiments: the stages train -> adapt -> plot, each resuming from disk.

run.py turns the command line into an experiment's checked arguments (its `check_args`: family, goals, configs,
folders); this module runs them. An experiment is a folder, <root>/<name>: experiment.json (what names it, IDENTITY;
its seeds are subfolders), s<seed>/train.json and s<seed>/<algo>.csv per training, s<seed>/adapt/<algo>/goalNN.json
per adapted goal, then results.json, figure.png and training.png. The trainings and adaptations are lab/jobs.py's
jobs, run in worker processes here (cluster.parallel) or as one grid of Ray tasks (`on_ray`).

    run(args)                   # claim the folder, train, adapt the trainings to the held-out goals, plot, print
    figure(args, panels)        # every panel of a figure, then its composite and the paired differences
    on_ray(args, experiments)   # every training and adaptation they still need, on a Ray cluster
"""
import dataclasses
import json
import multiprocessing as mp
import os
import re
import shutil

import numpy as np
from tqdm.auto import tqdm

from lab import cluster, figures, jobs, report, store, summaries, video

IDENTITY = ("env", "task", "shift", "preset", "n_goals", "configs")  # what names an experiment (seeds are subfolders)


def identity(args):
    """What names an experiment (its IDENTITY fields), as experiment.json and results.json hold it."""
    ident = {k: getattr(args, k) for k in IDENTITY if k != "configs"}
    ident["configs"] = {g: dataclasses.asdict(c) for g, c in args.configs.items()}
    return json.loads(json.dumps(ident))  # tuples -> lists, as read back from disk


# ---------------------------------------------------------------------------------------------
# The experiment folder
# ---------------------------------------------------------------------------------------------
def claim(args):
    """Make args.out this experiment's folder (its experiment.json), or a ValueError if it holds something else."""
    path = os.path.join(args.out, "experiment.json")
    ident = identity(args)
    if os.path.exists(path):
        old = store.read_json(path)
        # the settings its algorithms read; one an older experiment.json predates counts as its default
        diff = summaries.settings_that_differ(old, ident, args.algos)
        if diff:
            raise ValueError(f"{args.out} holds another experiment (different {', '.join(diff)}); "
                             f"pick another --out or the same settings")
    elif os.path.isdir(args.out) and os.listdir(args.out):
        raise ValueError(f"{args.out} is not empty and holds no experiment.json; pick another --out")
    store.write_json(ident, path)


# ---------------------------------------------------------------------------------------------
# Training and adaptation, in parallel workers (the jobs themselves: lab/jobs.py)
# ---------------------------------------------------------------------------------------------
def train(args, then_adapt=False):
    """Every (algorithm, seed) training, in parallel workers; <out>/s<seed>/train.json records each one, and a
    training it records (with its checkpoint, whose name holds the digest of its settings) is not loaded again. With
    then_adapt and more than one worker, a seed's adaptations (as `adapt`) join the workers as soon as that seed's
    trainings are done (at once for a seed trained before), so no worker idles while the last seed trains (`adapt`
    then finds them done)."""
    files = {s: os.path.join(args.out, f"s{s}", "train.json") for s in args.seeds}
    trained = {s: store.read_json(f) if os.path.exists(f) else {} for s, f in files.items()}  # other algorithms' too
    pairs = [(a, s) for s in args.seeds for a in args.algos if not _recorded(args, trained[s].get(a), a, s)]
    total = {a: args.configs["smtl"].n_tasks if a.startswith("smtl") else args.configs[a].n_iters for a in args.algos}

    def keep(algo, seed, result):
        trained[seed][algo] = result
        store.write_json(trained[seed], files[seed])

    if not pairs:
        return  # `adapt` runs what is left
    ready = [s for s in args.seeds if all(s != t for _, t in pairs)]  # seeds whose trainings are all recorded
    waiting = _adaptations(args, ready) if then_adapt else []  # their adaptations, to run beside the trainings
    if args.workers <= 1 or (len(pairs) == 1 and not waiting):  # here, with the training functions' own bars
        todo = [(args, a, s) for a, s in pairs]
        return cluster.parallel(jobs.train_one, todo, 1, lambda job, result: keep(job[1], job[2], result))
    left, adapt_bar = set(pairs), []  # trainings still running; the adaptations' bar, once they start

    def queued(todo):  # adaptations (args, algo, seed, goal) as jobs for the workers, counted on their bar
        if todo:
            if not adapt_bar:
                adapt_bar.append(tqdm(total=0, desc=f"adapt to held-out goals ({args.family.name})",
                                      position=len(pairs)))
            adapt_bar[0].total += len(todo)
            adapt_bar[0].refresh()
        return [(jobs.adapt_to_file, *t) for t in todo]

    def done(job, result):  # job: (jobs.train_one, args, algo, seed, queue, slot) or (jobs.adapt_to_file, ...)
        if job[0] is jobs.adapt_to_file:
            return _adapted(adapt_bar[0], job[1:], result)
        keep(job[2], job[3], result)
        left.discard((job[2], job[3]))
        last = then_adapt and all(s != job[3] for _, s in left)  # the seed's last training: its adaptations start
        return queued(_adaptations(args, [job[3]])) if last else []

    with mp.get_context("spawn").Manager() as manager:
        queue = manager.Queue()
        bars = [tqdm(total=total[a], desc=f"train {a} {args.family.name} s{s}", position=k, leave=True)
                for k, (a, s) in enumerate(pairs)]

        def tick():
            while not queue.empty():
                slot, n, postfix = queue.get()
                if bars[slot].n == 0:  # the job's first report: its clock starts now, not when it was queued
                    bars[slot].reset()
                bars[slot].n = n
                bars[slot].set_postfix_str(postfix)

        todo = [(jobs.train_one, args, a, s, queue, k) for k, (a, s) in enumerate(pairs)]  # each reports to its bar
        todo += queued(waiting)  # the seeds trained before
        n_total = len(todo) + (len(_adaptations(args, sorted({s for _, s in pairs}))) if then_adapt else 0)
        cluster.parallel(cluster.call, todo, args.workers, done, tick, n_total)
        for bar in (*bars, *adapt_bar):
            bar.close()


def _recorded(args, record, algo, seed):
    """Whether train.json's record of a training is of this training, finished: its checkpoint is the one these
    settings name, and is on disk."""
    path = jobs.model_path(args, algo, seed)
    return record is not None and record.get("checkpoint") == path and os.path.exists(path)


def adapt(args):
    """Every (algorithm, seed, goal) not yet on disk, in parallel workers."""
    jobs.check_trained(args)
    todo = _adaptations(args, args.seeds)
    if not todo:
        return
    bar = tqdm(total=len(todo), desc=f"adapt to held-out goals ({args.family.name})")
    cluster.parallel(jobs.adapt_to_file, todo, args.workers, lambda job, result: _adapted(bar, job, result))
    bar.close()


def _adaptations(args, seeds):
    """The adaptation jobs (args, algo, seed, goal index) of these seeds whose result is not yet on disk."""
    return [(args, a, s, i) for s in seeds for a in args.algos for i in range(args.n_goals)
            if not os.path.exists(jobs.goal_file(args, a, s, i))]


def _adapted(bar, job, result):
    """An adaptation job (args, algo, seed, goal index) finished: one step of the bar, with its final return."""
    bar.update(1)
    bar.set_postfix(algo=job[1], seed=job[2], goal=job[3], ret=f"{result['curve'][-1]['return']:.1f}")


def record(args):
    """Adapt each algorithm (first seed) to held-out goal --video-goal as the adapt stage does, then render its
    adapted policy's real episode to <out>/video/<algo>-s<seed>-goalNN.mp4."""
    jobs.check_trained(args)
    seed, i = args.seeds[0], args.video_goal
    for algo in args.algos:
        result, policy = jobs.adapt_one(args, algo, seed, i)
        path = os.path.join(args.out, "video", f"{algo}-s{seed}-goal{i:02d}.mp4")
        ep = video.record(args.family, policy.cpu(), args.goals[i], path, args.shift, seed=seed * 1000 + i)
        print(f"{algo}: goal {np.round(args.goals[i], 2).tolist()}, {len(result['curve']) - 1} adaptation stage(s), "
              f"real return {ep['return']:.1f} over {ep['steps']} steps -> {path}")


# ---------------------------------------------------------------------------------------------
# One experiment; a whole figure
# ---------------------------------------------------------------------------------------------
def _seeds_on_disk(args):
    """The seeds whose every (algorithm, goal) adaptation is on disk."""
    found = [int(d[1:]) for d in os.listdir(args.out) if re.fullmatch(r"s\d+", d)] if os.path.isdir(args.out) else []
    return sorted(s for s in found if all(os.path.exists(jobs.goal_file(args, a, s, i))
                                          for a in args.algos for i in range(args.n_goals)))


def run(args, title=None):
    """Run the stages of one experiment; returns its results (None when nothing could be plotted). Without --seeds
    it runs seed 0 and pools every seed finished on disk; with --seeds, exactly those."""
    pooled = args.seeds
    if args.stage != "plot":
        args.seeds = args.seeds or [0]
        claim(args)
        print(f"experiment: {args.family.name}" + (f", shift {args.shift}" if args.shift else "") +
              f", algorithms {', '.join(args.algos)}, preset {args.preset}, {args.n_goals} held-out goals, "
              f"seeds {','.join(map(str, args.seeds))} -> {args.out}")
    if args.stage in ("all", "train"):
        train(args, then_adapt=args.stage == "all")
    if args.stage in ("all", "adapt"):
        adapt(args)
    if args.stage == "video":
        record(args)
    if args.stage not in ("all", "plot"):
        return None
    args.seeds = pooled or _seeds_on_disk(args)
    if args.stage == "plot":
        missing = [s for s in args.seeds if s not in _seeds_on_disk(args)]
        if not args.seeds or missing:
            raise ValueError(f"{args.out} holds no finished adaptation of {', '.join(args.algos)}"
                             + (f" for seed(s) {missing}" if missing else "") + "; run the experiment first")
    results = summaries.summarise(args.out, args.algos, args.seeds, args.n_goals, identity(args))
    store.write_json(results, os.path.join(args.out, "results.json"))
    title = title or f"{args.family.env} {args.family.task}" + (f", {args.shift}" if args.shift else "")
    figures.plot_experiment(results, os.path.join(args.out, "figure.png"), title)
    logs = {a: {s: store.read_csv(jobs.log_file(args, a, s)) for s in args.seeds
                if os.path.exists(jobs.log_file(args, a, s))} for a in args.algos}
    figures.plot_training(logs, os.path.join(args.out, "training.png"), title)
    print(f"\nreal return after adaptation on {args.n_goals} held-out goals × {len(args.seeds)} seed(s), mean [95% "
          f"bootstrap CI] @ real samples spent (stage 0: before any; SMTL's warm-up, MAML's meta-policy)\n"
          f"{figures.table(results)}\n\nwrote {os.path.join(args.out, 'results.json')}, figure.png (returns) and "
          f"training.png (training curves; the logs are s<seed>/<algo>.csv)")
    return results


def on_ray(args, experiments):
    """Every training and adaptation that the experiments (a panel, or each panel of a figure: their checked
    arguments) still need, as one grid of Ray jobs (cluster.run_on_ray): one training per trained model (Figure 2
    adapts Figure 1's), an N-task SMTL run after the shorter run it grows from (store.grow), an adaptation after its
    training. The local path then finds them all done, and plots."""
    gpus = 1 if str(args.device).startswith("cuda") else 0
    trainings, adaptations = {}, []  # model path -> (experiment, algo, seed); jobs
    for e in experiments:
        e.seeds = e.seeds or [0]
        claim(e)
        for seed in e.seeds:
            for algo in e.algos:
                trainings.setdefault(jobs.model_path(e, algo, seed), (e, algo, seed))
                adaptations += [(e, algo, seed, i) for i in range(e.n_goals)
                                if not os.path.exists(jobs.goal_file(e, algo, seed, i))]
    name = {path: f"train {os.path.relpath(path, experiments[0].models)}" for path in trainings}
    grid = []
    for path in sorted(trainings, key=lambda p: store.growable(p) or ((), 0)):  # shorter SMTL runs first
        source = store.longest_shorter(path, trainings)
        after = (name[source],) if source else ()
        grid.append(cluster.Job(name[path], jobs.train_one, trainings[path], after, num_gpus=gpus))
    if args.stage != "train":
        grid += [cluster.Job(f"adapt {e.out} {algo} s{seed} goal {i}", jobs.adapt_to_file, (e, algo, seed, i),
                             (name[jobs.model_path(e, algo, seed)],), num_gpus=gpus)
                 for e, algo, seed, i in adaptations]
    print(f"{len(grid)} jobs on Ray ({len(trainings)} trainings, some perhaps finished; "
          f"{len(grid) - len(trainings)} adaptations)")
    cluster.run_on_ray(grid, args.ray, args.ray_retries)


def figure(args, panels):
    """Every panel of Figure args.figure ([(panel, its experiment's checked arguments)], in order, each resuming),
    then the composite and the paired differences behind its verdicts."""
    folder = os.path.join(args.root, "figures", args.preset)
    results = {}
    for panel, pargs in panels:
        print(f"\n=== Figure {panel.figure}{panel.letter}: {panel.title} ===")
        if args.stage == "plot" and not os.path.exists(os.path.join(pargs.out, "experiment.json")):
            print(f"not run yet ({pargs.out})")
            continue
        try:
            r = run(pargs, f"({panel.letter}) {panel.title}")
        except ValueError as e:
            if args.stage != "plot":
                raise
            print(f"not plotted: {e}")
            continue
        if r is not None:
            results[panel.letter] = r
            store.write_json(r, os.path.join(folder, f"{panel.name}.json"))
            shutil.copyfile(os.path.join(pargs.out, "figure.png"), os.path.join(folder, f"{panel.name}.png"))
    if args.stage in ("all", "plot"):
        path = os.path.join(folder, f"figure{args.figure}.png")
        figures.compose(args.figure, results, path, args.preset)
        print(f"\npaired differences of the returns over (seed, goal), 95 % bootstrap interval, verdict:\n"
              f"{report.summary(args.figure, results)}\n\nwrote {path}")
