"""Sample-efficiency benchmarks (paper Sec. 2.4, 5.1, 5.2), run by `python -m lab.bench` with the speed benchmarks.

`slbo` counts the real samples single-task SLBO (Algorithm 1, lines 6-14) needs to track a goal velocity; `trpo_mf`
counts those model-free TRPO needs on the same task (≥ 10× SLBO's: Sec. 5.1's claim); `smtl` trains Algorithm 1 on 20
tasks from 3 seeds and measures zero-shot warm-up and 3-stage adaptation (Eq. 6); `maml` meta-trains MAML-TRPO and the
oracle on a laptop budget and shows MAML's adaptation signature (Sec. 5.2).

    python -m lab.bench slbo trpo_mf      # SLBO first: trpo_mf compares with its last result
    python -m lab.bench smtl
"""
import json
import os
import time

import numpy as np
import torch
from tqdm.auto import tqdm

import config
import maml
import slbo
import smtl
import tasks
from dynamics import DynamicsConfig, Normalizer
from lab import store
from lab.cluster import run_all
from lab.bench import FAMILY, GOAL, OUT_DIR, RESULTS
from trpo import GaussianPolicy, TRPOConfig, ValueFunction, rollout, trpo_step

# the quick preset (config.py says how and why it differs from the paper): per round 250 model + 20 TRPO steps
QUICK = config.PRESETS["quick"]
DYN, TRPO = DynamicsConfig(**QUICK["dyn"]), TRPOConfig(**QUICK["trpo"])
SLBO_STAGES = 10  # up to 10 stages of 4000 real samples = 40,000 samples
SLBO_SEEDS = (0, 1, 2)
VEL_ERR_TARGET = 0.2  # mean |v − g| ≤ 0.2 m/s over an episode (return ≥ −60 with the control cost)
MF_FACTOR = 10  # model-free TRPO must need ≥ 10× the real samples SLBO needed
MF_SAMPLES = 400_000  # model-free TRPO's budget per seed
MF_BATCH = 4000  # real samples per model-free TRPO iteration
SMTL_FAMILY = "cheetah-vel"  # ψ ~ U[0, 2]
SMTL_TASKS, SMTL_GOALS = 20, 10  # train on 20 tasks, then adapt to 10 tuning goals
SMTL_SEEDS = (0, 1, 2)  # training runs: one varies a lot (a warm-up that exploits the model fails a goal outright)
ZERO_SHOT_TARGET, STAGES_TARGET = 0.25, 0.15  # mean |v − g| after the warm-up alone / after 3 SLBO stages
SLBO_CFG = slbo.SLBOConfig(**QUICK["slbo"])
SLBO_INNER = QUICK["smtl"]["n_inner_adapt"]  # 5 VirtualTraining rounds after each collection
SMTL_CFG = smtl.SMTLConfig(**{**QUICK["smtl"], "n_tasks": SMTL_TASKS})
SMTL_SLBO = slbo.SLBOConfig(**config.values(SMTL_FAMILY, "quick")["slbo"])
# MAML and the oracle at the quick preset (config.py says why): 1.6M real samples each
MAML_CFG = maml.MAMLConfig(**QUICK["maml"])  # 80 meta-iterations × 10 tasks × 5 rollouts × 2 × 200
ORACLE_CFG = maml.OracleConfig(**QUICK["oracle"])  # 400 TRPO iterations × 4,000


def _smtl_adapt_goal(path, goal, seed):
    torch.set_num_threads(1)  # one process per core
    trained = store.load_checkpoint(path, smtl.CHECKPOINT_FORMAT)
    return smtl.adapt(trained, goal, n_stages=3, n_samples=SMTL_SLBO.n_collect, seed=seed)[0]


def _slbo_seed(device, seed, n_stages):
    """Single-task SLBO from scratch with one seed: stages of 4000 real samples until mean |v − g| ≤ the target."""
    learner = slbo.Learner(FAMILY, SLBO_CFG, DYN, TRPO, seed=seed, device=device)
    policy, log, t0 = learner.new_policy(), [], time.perf_counter()
    for _ in range(n_stages):
        row = slbo.slbo(learner, policy, GOAL, n_slbo=1, n_inner=SLBO_INNER, progress=False)[0]
        row["stage"], row["minutes"] = len(log) + 1, (time.perf_counter() - t0) / 60
        log.append(row)
        print(f"  {seed:>4} {row['samples']:>8} {row['return']:>8.1f} {row['vel_err']:>7.3f} "
              f"{row['model_loss']:>10.4f} {row['virtual_return']:>9.1f} {row['minutes']:>6.1f}", flush=True)
        if row["vel_err"] <= VEL_ERR_TARGET:
            return row["samples"], log
    return None, log


def bench_slbo(device="cpu", n_stages=SLBO_STAGES, seeds=SLBO_SEEDS):
    """Single-task SLBO (Algorithm 1 lines 6-14, the quick preset's settings) on cheetah-vel ψ = 1.0: real samples until
    mean |v − g| ≤ 0.2, per seed, within 10 stages = 40,000 samples."""
    print(f"slbo ({FAMILY}, goal {GOAL}, {SLBO_CFG.n_collect} real samples per stage, {SLBO_INNER} × "
          f"({SLBO_CFG.n_model} model + {SLBO_CFG.n_policy} TRPO steps) after each, device {device})")
    print(f"  {'seed':>4} {'samples':>8} {'return':>8} {'|v-g|':>7} {'model loss':>10} {'virt. ret':>9} {'min':>6}")
    needed, logs = zip(*(_slbo_seed(device, seed, n_stages) for seed in seeds))
    met = all(n is not None for n in needed)
    print(f"  target |v-g| ≤ {VEL_ERR_TARGET} within {n_stages * SLBO_CFG.n_collect} samples: "
          f"{'met' if met else 'NOT met'} on {sum(n is not None for n in needed)} of {len(seeds)} seeds, "
          f"samples needed {list(needed)}, {sum(log[-1]['minutes'] for log in logs) / len(seeds):.1f} min per seed")
    return {"samples_needed": list(needed), "met": met, "seeds": list(seeds), "logs": list(logs)}


def _trpo_mf_seed(device, cfg, seed, n_samples, target):
    """Model-free TRPO on real rollouts (4000 samples per iteration): the samples after which the mean-action
    episode first has mean |v − g| ≤ target (None if never), and the best error seen."""
    fam = tasks.get_family(FAMILY)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    obs_norm = Normalizer(fam.obs_dim).to(device)  # running state normaliser over all real data, as SLBO's
    policy = GaussianPolicy(fam.obs_dim, fam.act_dim, cfg.policy_hidden, obs_norm).to(device)
    value_fn = ValueFunction(fam.obs_dim, cfg.value_hidden, obs_norm).to(device)
    env = tasks.make_vec_env(fam, np.full((MF_BATCH // fam.horizon, 1), GOAL), seed=seed)
    samples, best, matched_at = 0, float("inf"), None
    bar = tqdm(range(n_samples // MF_BATCH), desc=f"model-free TRPO, max_kl {cfg.max_kl}, seed {seed}", leave=False)
    for it in bar:
        batch = rollout(env, policy, fam.horizon, seed=seed * 100_000 + it, generator=gen)
        m = batch["mask"] > 0  # (n_envs, H)
        samples += int(m.sum())
        trpo_step(policy, value_fn, batch, cfg)  # π_old = the policy that collected the batch, normaliser included
        obs_norm.update(batch["obs"][m])  # then the new data joins the normaliser, as SLBO's does after its step
        err = float(slbo.evaluate(fam, policy, [[GOAL]], seed=0)["vel_err"][0])
        best = min(best, err)
        if err <= target:
            matched_at = samples
            break
        bar.set_postfix(vel_err=f"{err:.3f}")
    env.close()
    return matched_at, best


def bench_trpo_mf(device="cpu", n_samples=MF_SAMPLES, seeds=SLBO_SEEDS):
    """Model-free TRPO on the same task, the paper's settings and the quick preset's, up to 400,000 real samples per
    seed: samples until mean |v − g| ≤ 0.2, as a multiple of what SLBO needed (the last `slbo` result)."""
    ref = _last_result("slbo")
    slbo_needed = [n for n in (ref or {}).get("samples_needed", []) if n is not None]
    print(f"trpo_mf ({FAMILY}, goal {GOAL}, ≤ {n_samples:,} real samples per seed, bar |v-g| ≤ {VEL_ERR_TARGET}, "
          f"device {device})")
    out = {}
    for name, cfg in {"paper": TRPOConfig(), "quick": TRPO}.items():
        runs = [_trpo_mf_seed(device, cfg, seed, n_samples, VEL_ERR_TARGET) for seed in seeds]
        matched = [m for m, _ in runs]
        # a seed that never matched counts as its whole budget: the mean is then a lower bound
        mean = float(np.mean([n_samples if m is None else m for m in matched]))
        out[name] = {"max_kl": cfg.max_kl, "matched_at": matched, "best_vel_err": [b for _, b in runs],
                     "mean_samples": mean, "lower_bound": None in matched}
        print(f"  {name:<6} (max_kl {cfg.max_kl}): samples to |v-g| ≤ {VEL_ERR_TARGET} per seed {matched}, "
              f"mean {'≥ ' if None in matched else ''}{mean:,.0f}")
    fastest = min(out.values(), key=lambda r: r["mean_samples"])
    out["slbo_mean_samples"] = float(np.mean(slbo_needed)) if slbo_needed else None
    if out["slbo_mean_samples"]:
        out["factor"] = fastest["mean_samples"] / out["slbo_mean_samples"]
        out["met"] = out["factor"] >= MF_FACTOR
        print(f"  the faster model-free TRPO needs {'≥ ' if fastest['lower_bound'] else ''}{out['factor']:.1f}× "
              f"SLBO's mean {out['slbo_mean_samples']:,.0f} samples (target ≥ {MF_FACTOR}×): "
              f"{'met' if out['met'] else 'NOT met'}")
    else:
        print("  no SLBO result that met the bar in bench_out/results.jsonl: run `python bench.py slbo` first")
    return out


def _smtl_train_seed(seed, device):
    """Algorithm 1 for one training seed, in its own process; the checkpoint resumes an interrupted run."""
    torch.set_num_threads(1)  # one process per core
    path = os.path.join(OUT_DIR, f"smtl_{SMTL_FAMILY}_{SMTL_TASKS}_s{seed}.pt")
    resume, save = store.checkpointing(path, smtl.CHECKPOINT_FORMAT)
    out = smtl.train(SMTL_FAMILY, SMTL_CFG, SMTL_SLBO, DYN, TRPO, seed=seed, device=device, resume=resume, save=save,
                     progress=False)
    return path, out["samples"], out["wall_s"] / sum(not r["skipped"] for r in out["log"])


def bench_smtl(device="cpu", workers=2):
    """Algorithm 1 on cheetah-vel for 20 tasks (the quick preset's budget per task) from each of SMTL_SEEDS, then
    Eq. (6) on 10 tuning goals: mean |v − g| after the zero-sample warm-up and after 3 SLBO stages, over seeds and
    goals."""
    goals = tasks.tuning_goals(SMTL_FAMILY, SMTL_GOALS)  # (n_goals, 1)
    t0 = time.perf_counter()
    trained = run_all(_smtl_train_seed, [(s, device) for s in SMTL_SEEDS], workers, "smtl: training seeds")
    train_s = time.perf_counter() - t0
    jobs = [(path, goal, i) for path, _, _ in trained for i, goal in enumerate(goals)]
    curves = run_all(_smtl_adapt_goal, jobs, workers, "smtl: adapting")
    shape = (len(SMTL_SEEDS), len(goals), -1)
    err = np.array([[p["vel_err"] for p in c] for c in curves]).reshape(shape)  # (n_seeds, n_goals, 1 + n_slbo)
    ret = np.array([[p["return"] for p in c] for c in curves]).reshape(shape)  # (n_seeds, n_goals, 1 + n_slbo)
    mean = err.mean((0, 1))  # (1 + n_slbo,)  over training seeds and goals
    out = {"seeds": list(SMTL_SEEDS), "train_samples": trained[0][1], "s_per_task": [t[2] for t in trained],
           "train_wall_s": train_s, "adapt_wall_s": time.perf_counter() - t0 - train_s, "workers": workers,
           "samples": [p["samples"] for p in curves[0]], "vel_err": mean.tolist(), "return": ret.mean((0, 1)).tolist(),
           "vel_err_per_seed": err.mean(1).tolist(), "goals": goals[:, 0].tolist(),
           "zero_shot_met": bool(mean[0] <= ZERO_SHOT_TARGET), "stages_met": bool(mean[-1] <= STAGES_TARGET)}
    print(f"smtl ({SMTL_FAMILY}: {SMTL_TASKS} training tasks × {len(SMTL_SEEDS)} seeds, {out['train_samples']:,} "
          f"real samples each, {np.mean(out['s_per_task']):.0f} s per task; {len(goals)} tuning goals, "
          f"device {device})")
    print(f"  {'samples':>8} {'return':>8} {'|v-g|':>7}   " +
          " ".join(f"{'seed ' + str(s):>7}" for s in SMTL_SEEDS))
    for j, (n, r, e) in enumerate(zip(out["samples"], out["return"], out["vel_err"])):
        print(f"  {n:>8} {r:>8.1f} {e:>7.3f}   " + " ".join(f"{x[j]:>7.3f}" for x in out["vel_err_per_seed"]))
    print(f"  zero-shot |v-g| {mean[0]:.3f} (target ≤ {ZERO_SHOT_TARGET}): "
          f"{'met' if out['zero_shot_met'] else 'NOT met'}; after {len(mean) - 1} stages "
          f"{mean[-1]:.3f} (target ≤ {STAGES_TARGET}): {'met' if out['stages_met'] else 'NOT met'}")
    return out


def bench_maml(device="cpu", n_steps=3, n_rollouts=20, seed=0):
    """MAML-TRPO and the oracle on cheetah-vel with a laptop budget; MAML adapted by 0..3 policy-gradient steps of
    4,000 real samples on 40 tuning goals, the oracle evaluated on the same goals."""
    goals = tasks.tuning_goals(FAMILY)  # (40, 1)
    resume, save = store.checkpointing(f"{OUT_DIR}/maml_{FAMILY}.pt", maml.CHECKPOINT_FORMAT, "maml")
    meta = maml.meta_train(FAMILY, MAML_CFG, seed=seed, device=device, resume=resume, save=save)
    t0 = time.perf_counter()
    curves = [maml.adapt(meta["checkpoint"], g, n_steps, n_rollouts * tasks.HORIZON, seed=i, n_eval_episodes=1)[0]
              for i, g in enumerate(goals)]
    adapt_s = time.perf_counter() - t0
    ret = np.array([[c["return"] for c in curve] for curve in curves])  # (n_goals, n_steps + 1)
    err = np.array([[c["vel_err"] for c in curve] for curve in curves])  # (n_goals, n_steps + 1)
    gain = ret - ret[:, :1]  # (n_goals, n_steps + 1) the MAML signature, paired over goals
    resume, save = store.checkpointing(f"{OUT_DIR}/oracle_{FAMILY}.pt", maml.CHECKPOINT_FORMAT, "oracle")
    oracle = maml.train_oracle(FAMILY, ORACLE_CFG, seed=seed, device=device, resume=resume, save=save)
    ev = maml.evaluate_oracle(FAMILY, oracle["policy"], goals)
    m = {"train_samples": meta["samples"], "train_wall_s": meta["wall_s"], "adapt_wall_s": adapt_s,
         "s_per_iter": meta["wall_s"] / max(1, len(meta["log"])), "adapt_samples": [c["samples"] for c in curves[0]],
         "return": ret.mean(0).tolist(), "return_ci95": _ci95(ret), "vel_err": err.mean(0).tolist(),
         "gain": gain.mean(0).tolist(), "gain_ci95": _ci95(gain)}
    o = {"train_samples": oracle["samples"], "train_wall_s": oracle["wall_s"],
         "return": float(ev["return"].mean()), "vel_err": float(ev["vel_err"].mean())}
    print(f"maml ({FAMILY}, {len(goals)} tuning goals, device {device}): {len(meta['log'])} meta-iterations × "
          f"{MAML_CFG.meta_batch} tasks × {MAML_CFG.n_rollouts} rollouts, {m['train_samples']:,} real samples, "
          f"{m['train_wall_s'] / 60:.1f} min")
    print(f"  {'method':<7}{'steps':>6}{'samples':>9}{'return':>9}{'±95%':>7}{'gain vs 0 steps':>17}{'|v-g|':>7}")
    for k in range(n_steps + 1):
        print(f"  {'MAML':<7}{k:>6}{m['adapt_samples'][k]:>9}{m['return'][k]:>9.1f}{m['return_ci95'][k]:>7.1f}"
              f"{m['gain'][k]:>+10.1f} ± {m['gain_ci95'][k]:<4.1f}{m['vel_err'][k]:>7.3f}")
    print(f"  {'oracle':<7}{'-':>6}{0:>9}{o['return']:>9.1f}{'':>7}{'':>17}{o['vel_err']:>7.3f}")
    print(f"  oracle: {ORACLE_CFG.n_iters} TRPO iterations, {o['train_samples']:,} real samples, "
          f"{o['train_wall_s'] / 60:.1f} min")
    return {"maml": m, "oracle": o}



def _last_result(name):
    """The most recent result of benchmark `name` in bench_out/results.jsonl, or None."""
    if not os.path.exists(RESULTS):
        return None
    rows = [json.loads(line) for line in open(RESULTS) if line.strip()]
    rows = [r for r in rows if r.get("bench") == name]
    return rows[-1] if rows else None


def _ci95(x):
    """Normal 95% half-width of the mean over goals, per column of x (n_goals, k)."""
    return (1.96 * x.std(0, ddof=1) / np.sqrt(len(x))).tolist()


