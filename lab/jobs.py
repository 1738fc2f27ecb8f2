"""The jobs of a run: train one algorithm for one seed, adapt one trained algorithm to one held-out goal.

Each job reads its settings from the experiment's checked arguments (run.py's `check_args`: family, configs, goals,
folders) and writes its own output atomically, so it can run in a local worker process or as a Ray task on another
machine (lab.cluster) and a killed job loses only itself. Trained models live in <root>/models, named by a digest
of the settings their training reads (lab.store.digest), and every experiment that needs one reuses it; a training's
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

import config
import maml
import slbo
import smtl
from dynamics import DynamicsConfig
from lab import store
from trpo import TRPOConfig

# Every hyperparameter group a job reads: a dataclass whose fields (defaults, meanings, sources) run.py turns into
# --<group>-<field> flags and docs/reference.md into a table
CONFIGS = {"smtl": smtl.SMTLConfig, "slbo": slbo.SLBOConfig, "dyn": DynamicsConfig, "trpo": TRPOConfig,
           "maml": maml.MAMLConfig, "oracle": maml.OracleConfig}


def resolve(family, preset, flags=None):
    """{group: dataclass instance}: the paper's defaults, then the body's and the preset's values (config.values), then
    the flags ({group: {field: value}})."""
    values, flags, out = config.values(family, preset), flags or {}, {}
    for group, cls in CONFIGS.items():
        v = {**values.get(group, {}), **flags.get(group, {})}
        if group == "oracle":  # TRPO on real samples: the preset's for the oracle, then the --trpo-* flags
            trpo = {k: x for k, x in flags.get("trpo", {}).items() if k != "policy_hidden"}
            v["trpo"] = TRPOConfig(**{**v.get("trpo", {}), **trpo})
        out[group] = cls(**v)
    return out


# algorithm -> SMTL's task selection (Section 4.4): plain SMTL, or active with the true or the estimated rating
ALGOS = {"smtl": "off", "smtl-active-true": "true", "smtl-active-estimated": "estimated", "maml": None, "oracle": None}


def smtl_config(args, algo):
    return dataclasses.replace(args.configs["smtl"], active=ALGOS[algo])


def model_path(args, algo, seed):
    """<models>/<family>/s<seed>/<algo>-<preset>[-tasksN]-<digest>.pt, the digest over every setting training reads
    (not the test-time shift, the goals or the other algorithms' settings): experiments that agree on them share it."""
    c = args.configs
    if algo.startswith("smtl"):  # n_tasks in the name instead: a longer run may resume a shorter one (store.grow)
        # a setting left at none (n_warmup_adapt) is left out: the models trained before it existed keep their names
        smtl_key = {k: v for k, v in dataclasses.asdict(smtl_config(args, algo)).items() if v is not None}
        key = {"smtl": {**smtl_key, "n_tasks": None},
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
    """Train one algorithm for one seed, resuming its checkpoint; after every task or iteration the checkpoint is
    rewritten and its log too, as <checkpoint>.csv and in the experiment. In a worker, progress goes to `queue` as
    (slot, done, postfix). Returns samples, time, clipped states, (SMTL) tasks seen and skipped, and the
    checkpoint's path."""
    torch.set_num_threads(1)  # one process per core; the same numbers whether it runs here or in a worker
    c, fam, path = args.configs, args.family, model_path(args, algo, seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if algo.startswith("smtl"):
        store.grow(path)
    fmt, kind = (smtl.CHECKPOINT_FORMAT, None) if algo.startswith("smtl") else (maml.CHECKPOINT_FORMAT, algo)
    resume, save_checkpoint = store.checkpointing(path, fmt, kind)

    def save(checkpoint):  # the checkpoint and its log beside it, a copy of the log in this experiment's folder
        save_checkpoint(checkpoint)
        store.write_csv(checkpoint["log"], path[:-3] + ".csv")
        store.write_csv(checkpoint["log"], log_file(args, algo, seed))
        if queue is not None:
            queue.put((slot, *_progress(algo, checkpoint["log"])))

    common = dict(seed=seed, device=args.device, resume=resume, save=save, progress=queue is None)
    if algo.startswith("smtl"):
        out = smtl.train(fam, smtl_config(args, algo), c["slbo"], c["dyn"], c["trpo"], **common)
    elif algo == "maml":
        out = maml.meta_train(fam, c["maml"], **common)
    else:
        out = maml.train_oracle(fam, c["oracle"], **common)
    store.write_csv(out["log"], log_file(args, algo, seed))  # also when the training had finished before
    clipped = sum(row.get("n_clipped") or 0 for row in out["log"])  # SMTL: predicted states clipped in training
    skipped = sum(bool(row.get("skipped")) for row in out["log"])  # active SMTL: candidate tasks skipped
    return {"samples": int(out["samples"]), "wall_s": float(out["wall_s"]), "n_clipped": int(clipped),
            "n_skipped": skipped, "n_seen": len(out["log"]) if algo.startswith("smtl") else None, "checkpoint": path,
            "machine": store.machine()}


# The settings of SMTL's groups that MAML and the oracle read too, in adapt_one: every method spends the same real
# samples per stage over as many stages (Section 5.1) and is scored over as many episodes (summaries.reads)
SHARED_SETTINGS = {"maml": ("smtl.n_slbo_adapt", "smtl.n_eval_episodes", "slbo.n_collect"),
                   "oracle": ("smtl.n_eval_episodes",)}


def adapt_one(args, algo, seed, i):
    """Adapt one algorithm of one seed to held-out goal i: ({goal, wall_s, curve: [{samples, return, ep_len,
    vel_err}]}, the adapted policy). SMTL and MAML spend the same real samples per stage (Section 5.1); the oracle is
    not adapted."""
    torch.set_num_threads(1)
    c, fam, goal = args.configs, args.family, args.goals[i]
    trained = load_trained(args, algo, seed)
    start = time.perf_counter()
    stages = dict(goal=goal, n_stages=c["smtl"].n_slbo_adapt, n_samples=c["slbo"].n_collect, shift=args.shift,
                  seed=seed * 1000 + i, n_eval_episodes=c["smtl"].n_eval_episodes, device=args.device)
    if algo.startswith("smtl"):
        curve, policy = smtl.adapt(trained, **stages)
    elif algo == "maml":
        curve, policy = maml.adapt(trained, **stages)
    else:
        policy = maml.policy_from(trained, args.device)
        episodes = np.tile(goal, (c["smtl"].n_eval_episodes, 1))  # (n_eval_episodes, goal_dim)
        ev = maml.evaluate_oracle(fam, policy, episodes, args.shift, seed=stages["seed"])
        curve = [{"samples": 0, **slbo.episode_means(ev)}]
        policy = maml.GoalConditionedPolicy(policy, goal[None])  # π(a | s, ψ) bound to this goal
    result = {"goal": goal.tolist(), "wall_s": time.perf_counter() - start, "machine": store.machine(),
              "curve": [{"samples": int(p["samples"]), **{k: p[k] for k in ("return", "ep_len", "vel_err")}}
                        for p in curve]}
    return result, policy


def adapt_to_file(args, algo, seed, i):
    """adapt_one, its result written to <out>/s<seed>/adapt/<algo>/goalNN.json by the job itself (here or on a Ray
    worker): a finished goal is never lost with the process that runs the others."""
    result, _ = adapt_one(args, algo, seed, i)
    store.write_json(result, goal_file(args, algo, seed, i))
    return result


def load_trained(args, algo, seed):
    """The checkpoint of a finished training of this experiment's settings. Adaptation never trains: a missing or
    unfinished one is one ValueError."""
    path = model_path(args, algo, seed)
    if not os.path.exists(path):
        raise ValueError(f"no trained {algo} (seed {seed}) at {path}; run the train stage first")
    if algo.startswith("smtl"):
        trained, cfg = store.load_checkpoint(path, smtl.CHECKPOINT_FORMAT), args.configs["smtl"]
        if not smtl.training_done(trained["log"], smtl_config(args, algo)):
            done = sum(not r["skipped"] for r in trained["log"])
            raise ValueError(f"the {algo} training in {path} is unfinished ({done} of {cfg.n_tasks} tasks); run the "
                             f"train stage (or the whole command) again")
        return trained
    trained, n_iters = store.load_checkpoint(path, maml.CHECKPOINT_FORMAT, algo), args.configs[algo].n_iters
    if trained["iteration"] < n_iters:
        raise ValueError(f"the {algo} training in {path} is unfinished ({trained['iteration']} of {n_iters} "
                         f"iterations); run the train stage (or the whole command) again to finish it")
    return trained


def check_trained(args):
    """Every training this experiment adapts is finished, else one ValueError (before any adaptation starts)."""
    for algo in args.algos:
        for seed in args.seeds:
            load_trained(args, algo, seed)


def goal_file(args, algo, seed, i):
    return os.path.join(args.out, f"s{seed}", "adapt", algo, f"goal{i:02d}.json")
