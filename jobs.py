"""The jobs of a run: train one algorithm for one seed, adapt one trained algorithm to one held-out goal.

Each job reads its settings from the experiment's checked arguments (run.py's `_check`: family, configs, goals,
folders) and writes its own output atomically, so it can run in a local worker process or as a Ray task on another
machine (cluster.py) and a killed job loses only itself. Trained models live in <root>/models, named by a digest
of the settings their training reads (store.digest), and every experiment that needs one reuses it; a training's
log is copied into the experiment as s<seed>/<algo>.csv; an adapted goal is s<seed>/adapt/<algo>/goalNN.json.

    train_one(args, "smtl", seed=0)            # Algorithm 1 (resumes its checkpoint); MAML and the oracle likewise
    adapt_to_file(args, "smtl", seed=0, i=3)   # Eq. (6) on held-out goal 3: warm-up, then SLBO stages
    check_trained(args)                        # adaptation never trains: a clear error for what is unfinished
"""
import dataclasses
import os
import time

import numpy as np
import torch

import maml
import smtl
import store
from slbo import rows

# algorithm -> SMTL's task selection (Section 4.4): plain SMTL, or active with the true or the estimated rating
ALGOS = {"smtl": "off", "smtl-active-true": "true", "smtl-active-estimated": "estimated", "maml": None, "oracle": None}


def smtl_config(args, algo):
    return dataclasses.replace(args.configs["smtl"], active=ALGOS[algo])


def model_path(args, algo, seed):
    """<models>/<family>/s<seed>/<algo>-<preset>[-tasksN]-<digest>.pt, the digest over every setting training reads
    (not the test-time shift, the goals or the other algorithms' settings): experiments that agree on them share it."""
    c = args.configs
    if algo.startswith("smtl"):  # n_tasks in the name instead: a longer run may resume a shorter one (store.grow)
        key = {"smtl": {**dataclasses.asdict(smtl_config(args, algo)), "n_tasks": None},
               **{g: dataclasses.asdict(c[g]) for g in ("slbo", "dyn", "trpo")}}
        stem = f"{algo}-{args.preset}-tasks{c['smtl'].n_tasks:03d}"
    else:
        key, stem = dataclasses.asdict(c[algo]), f"{algo}-{args.preset}"
    return os.path.join(args.models, args.family.name, f"s{seed}", f"{stem}-{store.digest(key)}.pt")


def _progress(algo, log):
    """(finished tasks or iterations, a short postfix) of a training log, for the progress bars."""
    row = log[-1]
    if algo.startswith("smtl"):
        ret = row["warmup_return"] if row["warmup_return"] is not None else row.get("return")
        return sum(not r["skipped"] for r in log), f"task return {ret if ret is None else round(ret, 1)}"
    if algo == "maml":
        return len(log), f"return {row['return_pre']:.1f} -> {row['return_post']:.1f} after a step"
    return len(log), f"return {row['ep_return']:.1f}"


def log_file(args, algo, seed):
    return os.path.join(args.out, f"s{seed}", f"{algo}.csv")


def train_one(args, algo, seed, queue=None, slot=0):
    """Train one algorithm for one seed (resuming its checkpoint); its log is rewritten as <checkpoint>.csv after
    every task or iteration. In a worker, progress goes to `queue` as (slot, done, postfix). Returns samples, time."""
    torch.set_num_threads(1)  # one process per core; the same numbers whether it runs here or in a worker
    c, fam, path = args.configs, args.family, model_path(args, algo, seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)

    def callback(log):  # the log beside the shared checkpoint, and a copy in this experiment's folder
        store.write_csv(log, path[:-3] + ".csv")
        store.write_csv(log, log_file(args, algo, seed))
        if queue is not None:
            queue.put((slot, *_progress(algo, log)))

    common = dict(seed=seed, device=args.device, checkpoint=path, progress=queue is None, callback=callback)
    if algo.startswith("smtl"):
        store.grow(path)
        out = smtl.train(fam, smtl_config(args, algo), c["slbo"], c["dyn"], c["trpo"], **common)
    elif algo == "maml":
        out = maml.meta_train(fam, c["maml"], **common)
    else:
        out = maml.train_oracle(fam, c["oracle"], **common)
    store.write_csv(out["log"], log_file(args, algo, seed))  # also when the training had finished before
    return {"samples": int(out["samples"]), "wall_s": float(out["wall_s"]), "checkpoint": path}


def adapt_one(args, algo, seed, i, return_policy=False):
    """Adapt one algorithm of one seed to held-out goal i: a list of {samples, return, vel_err} points (and, with
    return_policy, the adapted policy)."""
    torch.set_num_threads(1)
    c, fam, goal, path = args.configs, args.family, args.goals[i], model_path(args, algo, seed)
    run_seed = seed * 1000 + i
    start = time.perf_counter()
    if algo.startswith("smtl"):
        curve, policy = smtl.adapt(path, goal, args.shift, seed=run_seed, device=args.device, return_policy=True)
    elif algo == "maml":
        policy = maml.load_policy(path, "maml", fam, c["maml"], seed, args.device)
        # the same real samples per adaptation step as an SMTL stage (Section 5.1)
        curve, policy = maml.adapt(fam, policy, goal, n_steps=c["smtl"].n_slbo_adapt,
                                   n_rollouts=rows(c["slbo"].n_collect, fam.horizon), shift=args.shift, seed=run_seed,
                                   cfg=c["maml"], n_eval_episodes=c["smtl"].n_eval_episodes, return_policy=True)
    else:
        policy = maml.load_policy(path, "oracle", fam, c["oracle"], seed, args.device)
        episodes = np.tile(goal, (c["smtl"].n_eval_episodes, 1))  # (n_eval_episodes, goal_dim)
        ev = maml.evaluate_oracle(fam, policy, episodes, args.shift, seed=run_seed)
        curve = [{"samples": 0, "return": float(ev["return"].mean()),
                  "vel_err": None if ev["vel_err"] is None else float(ev["vel_err"].mean())}]
        policy = maml.GoalConditionedPolicy(policy, goal[None])  # π(a | s, ψ) bound to this goal
    result = {"goal": goal.tolist(), "wall_s": time.perf_counter() - start,
              "curve": [{"samples": int(p["samples"]), "return": float(p["return"]),
                         "vel_err": None if p.get("vel_err") is None else float(p["vel_err"])} for p in curve]}
    return (result, policy) if return_policy else result


def adapt_to_file(args, algo, seed, i):
    """adapt_one, its result written to <out>/s<seed>/adapt/<algo>/goalNN.json by the job itself (here or on a Ray
    worker): a finished goal is never lost with the process that runs the others."""
    result = adapt_one(args, algo, seed, i)
    store.write_json(result, goal_file(args, algo, seed, i))
    return result


def check_trained(args):
    """Adaptation never trains: each checkpoint must hold a finished training, else one ValueError."""
    for algo in args.algos:
        for seed in args.seeds:
            path = model_path(args, algo, seed)
            if not os.path.exists(path):
                raise ValueError(f"no trained {algo} (seed {seed}) at {path}; run the train stage first")
            if algo in ("maml", "oracle"):
                maml.load_policy(path, algo, args.family, args.configs[algo], seed)  # raises if unfinished
                continue
            cfg, log = args.configs["smtl"], smtl.load_checkpoint(path)["log"]
            if not smtl.training_done(log, cfg):
                raise ValueError(f"the {algo} training in {path} is unfinished ({sum(not r['skipped'] for r in log)} "
                                 f"of {cfg.n_tasks} tasks); run the train stage (or the whole command) again")


def goal_file(args, algo, seed, i):
    return os.path.join(args.out, f"s{seed}", "adapt", algo, f"goal{i:02d}.json")
