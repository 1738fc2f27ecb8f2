"""Speed and sample-efficiency benchmarks: the targets that must never sit in a timed test (paper Sec. 2.4, 5.1).

`throughput` times real and virtual (learned-model) rollouts and checks that a virtual TRPO batch costs little more
than the model's forward passes; `slbo` counts the real samples single-task SLBO (Algorithm 1, lines 6-14) needs to
track a goal velocity; `trpo_mf` counts those model-free TRPO needs on the same task (≥ 10× SLBO's: Sec. 5.1's claim);
`smtl` trains Algorithm 1 on 20 tasks from 3 seeds and measures zero-shot warm-up and 3-stage adaptation on held-out
goals (Eq. 6);
`maml` meta-trains MAML-TRPO and the oracle on a laptop budget and shows MAML's adaptation signature (Sec. 5.2);
`round` splits one VirtualTraining round (Algorithm 1, lines 11-14) into its parts, with their FLOPs, and with
BENCH_BASELINE=<dir> times it beside the code in <dir> (a git worktree of an earlier commit).

    python -m lab.bench                        # every benchmark on the CPU; results appended to bench_out/results.jsonl
    python -m lab.bench throughput             # only the named ones
    SMTL_DEVICE=cuda python -m lab.bench slbo  # on another device
    git worktree add ../smtl-old HEAD~1 && BENCH_BASELINE=../smtl-old python -m lab.bench round   # old beside new
"""
import contextlib
import datetime
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import gymnasium as gym
import mujoco
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from lab import store

# BENCH_CODE=<dir>: benchmark the project's modules in <dir> instead, e.g. a git worktree of an earlier commit
# (`git worktree add ../smtl-old <commit>`); `round` uses it to time old and new code side by side.
if os.environ.get("BENCH_CODE"):
    sys.path.insert(0, os.path.abspath(os.environ["BENCH_CODE"]))

import config
import maml
import slbo
import smtl
import tasks
from dynamics import DynamicsConfig, DynamicsModel, Normalizer, VirtualEnv, fit
from trpo import GaussianPolicy, TRPOConfig, ValueFunction, rollout, trpo_step

OUT_DIR = "bench_out"
RESULTS = os.path.join(OUT_DIR, "results.jsonl")
FAMILY = "cheetah-vel"  # the benchmark task: half-cheetah, goal velocity ψ = 1.0 m/s
GOAL = 1.0
N_ENVS = 20  # parallel rollouts: n_trpo / H = 4000 / 200 (Appendix)
VIRTUAL_RATIO_TARGET = 0.70  # a virtual TRPO batch at ≥ 70% of the bare model-forward rate
SLBO_STAGES = 10  # up to 10 stages of 4000 real samples = 40,000 samples
SLBO_SEEDS = (0, 1, 2)
VEL_ERR_TARGET = 0.2  # mean |v − g| ≤ 0.2 m/s over an episode (return ≥ −60 with the control cost)
MF_FACTOR = 10  # model-free TRPO must need ≥ 10× the real samples SLBO needed
MF_SAMPLES = 400_000  # model-free TRPO's budget per seed
MF_BATCH = 4000  # real samples per model-free TRPO iteration
SMTL_FAMILY = "cheetah-vel"  # ψ ~ U[0, 2]
SMTL_TASKS, SMTL_GOALS = 20, 10  # train on 20 tasks, then adapt to 10 held-out goals
SMTL_SEEDS = (0, 1, 2)  # training runs: one varies a lot (a warm-up that exploits the model fails a goal outright)
ZERO_SHOT_TARGET, STAGES_TARGET = 0.25, 0.15  # mean |v − g| after the warm-up alone / after 3 SLBO stages
# the quick preset (config.py says how and why it differs from the paper): per round 250 model + 20 TRPO steps
QUICK = config.PRESETS["quick"]
DYN, TRPO = DynamicsConfig(**QUICK["dyn"]), TRPOConfig(**QUICK["trpo"])
SLBO_CFG = slbo.SLBOConfig(**QUICK["slbo"])
SLBO_INNER = QUICK["smtl"]["n_inner_adapt"]  # 5 VirtualTraining rounds after each collection
SMTL_CFG = smtl.SMTLConfig(**{**QUICK["smtl"], "n_tasks": SMTL_TASKS})
SMTL_SLBO = slbo.SLBOConfig(**config.values(SMTL_FAMILY, "quick")["slbo"])
ENV_FAMILIES = ("cheetah-vel", "ant-vel", "humanoid-vel")  # one per body
ENV_RATIO_TARGET = 0.8  # the batched real env at ≥ 0.8 of bare mj_step's rate
ENV_ITERS = {"oracle": 3, "maml": 1}  # training iterations timed per process
ITERATION_SPEEDUP_TARGET = 1.5  # MAML's and the oracle's iteration, old / new, with BENCH_BASELINE
ROUND_FAMILIES = ("cheetah-vel", "ant-vel")  # one VirtualTraining round on each (4,000 and 8,000 virtual samples)
ROUND_REPEATS = 3  # timed rounds per process (after one warm-up round); the best counts, as in _rates
ROUND_PROCESSES = 3  # processes per code version, old and new interleaved
ROUND_TARGET = 0.5  # the round's time, new / old
# trpo_step's phases, labelled "trpo: <phase>" for torch.profiler, inside the "TRPO step" part of a round
ROUND_PHASES = ("advantages", "policy gradient", "natural gradient", "line search", "value fit")
# MAML and the oracle at the quick preset (config.py says why): 1.6M real samples each
MAML_CFG = maml.MAMLConfig(**QUICK["maml"])  # 80 meta-iterations × 10 tasks × 5 rollouts × 2 × 200
ORACLE_CFG = maml.OracleConfig(**QUICK["oracle"])  # 400 TRPO iterations × 4,000


def _machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "date": datetime.datetime.now().isoformat(timespec="seconds")}


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _rates(fns, device, repeats=7, min_time=0.2):
    """Calls per second of each fn in fns: after a warm-up call, the best of `repeats` timings of ≥ min_time seconds
    each, the fns interleaved (the best, not the mean, and interleaved, because the benchmark machine may be shared:
    other load only ever slows a timing down, and then slows all of them alike)."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            _sync(device)
            reps, t0 = 0, time.perf_counter()
            while reps < 1 or time.perf_counter() - t0 < min_time:
                fn()
                reps += 1
            _sync(device)
            best[i] = min(best[i], (time.perf_counter() - t0) / reps)
    return [1.0 / b for b in best]


def _gemm_flops(device, n=1024):
    """The machine's measured float32 matmul rate (FLOP/s) on n × n matrices."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)  # (n, n) each
    return 2 * n ** 3 * _rates([lambda: torch.matmul(a, b)], device)[0]


def _model_flops(model, batch):
    """Multiply-adds × 2 of one model forward pass on `batch` states."""
    return sum(2 * batch * layer.weight.numel() for layer in model.layers)


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


def _smtl_adapt_goal(path, goal, seed):
    torch.set_num_threads(1)  # one process per core
    trained = store.load_checkpoint(path, smtl.CHECKPOINT_FORMAT)
    return smtl.adapt(trained, goal, n_stages=3, n_samples=SMTL_SLBO.n_collect, seed=seed)[0]


def _table(rows):
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


def bench_throughput(device="cpu"):
    """Steps per second of real envs (raw and through trpo.rollout) and of the virtual env; the virtual TRPO batch
    rate relative to the bare model forward pass and to the floor the model's FLOPs give at the measured GEMM rate."""
    fam = tasks.get_family(FAMILY)
    H = fam.horizon
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    policy = GaussianPolicy(fam.obs_dim, fam.act_dim).to(device)
    # real envs: random actions in a bare loop, then policy actions through rollout()
    env = tasks.make_vec_env(fam, np.full((N_ENVS, 1), GOAL), seed=0)
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (H, N_ENVS, fam.act_dim)).astype(np.float32)  # (H, n_envs, act_dim)

    def real_random():
        for t in range(H):
            env.step(acts[t])

    real_raw, real_rollout = (N_ENVS * H * r for r in _rates(
        [real_random, lambda: rollout(env, policy, H, generator=gen)], device, repeats=3))
    s0 = torch.as_tensor(tasks.initial_states(fam, 200, seed=0), dtype=torch.float32)  # (200, obs_dim)
    env.close()
    # a model with real-looking normalisers (from the real start states) and random weights
    model = DynamicsModel(fam.obs_dim, fam.act_dim, fam.act_low, fam.act_high).to(device)
    model.update_normalizers(s0, s0 + 0.01 * torch.randn_like(s0))
    venv = VirtualEnv(model, fam, np.array([GOAL]), s0.to(device), N_ENVS, generator=gen)
    s = s0[:N_ENVS].to(device)  # (n_envs, obs_dim)
    a = torch.zeros(N_ENVS, fam.act_dim, device=device)  # (n_envs, act_dim)

    def bare_forward():
        with torch.no_grad():
            for _ in range(H):
                model(s, a)

    forward, virtual = (N_ENVS * H * r for r in _rates(
        [bare_forward, lambda: rollout(venv, policy, H, generator=gen)], device, repeats=9))
    floor = _gemm_flops(device) / _model_flops(model, N_ENVS) * N_ENVS  # states/s if only the model's FLOPs cost
    out = {"real_raw_steps_s": real_raw, "real_rollout_steps_s": real_rollout, "model_forward_states_s": forward,
           "virtual_rollout_steps_s": virtual, "virtual_over_forward": virtual / forward,
           "virtual_over_flop_floor": virtual / floor, "flop_floor_states_s": floor,
           "meets_target": virtual / forward >= VIRTUAL_RATIO_TARGET}
    print(f"throughput ({FAMILY}, {N_ENVS} envs × {H} steps, device {device})")
    _table([("real env, random actions", f"{real_raw:10.0f} steps/s"),
            ("real env, trpo.rollout", f"{real_rollout:10.0f} steps/s"),
            ("model forward only (batch 20)", f"{forward:10.0f} states/s"),
            ("virtual TRPO batch (rollout)", f"{virtual:10.0f} steps/s"),
            ("FLOP floor at measured GEMM rate", f"{floor:10.0f} states/s"),
            ("virtual / forward", f"{virtual / forward:10.2f}  (target ≥ {VIRTUAL_RATIO_TARGET})"),
            ("virtual / FLOP floor", f"{virtual / floor:10.3f}")])
    return out


def bench_env(device="cpu"):
    """Real env steps per second, N_ENVS copies × H steps of uniform random actions, per body: the batched
    tasks.VecEnv; bare mj_step on the same model in the same process, resetting the copies where the VecEnv did
    (the physics floor: a body that fell must be reset, or it would simulate a pile of limbs); and gymnasium's
    SyncVectorEnv of TaskEnvs (VecEnv's plain equivalent). Then the oracle's and MAML's training iteration on the
    ant at the quick preset; with BENCH_BASELINE=<dir> also those of the code in <dir>, side by side."""
    out = {}
    print(f"env ({N_ENVS} copies × 200 steps of random actions; VecEnv target ≥ {ENV_RATIO_TARGET} of bare mj_step)")
    for family in ENV_FAMILIES:
        fam = tasks.get_family(family)
        goals = tasks.sample_goals(fam, N_ENVS, np.random.default_rng(0))  # (n_envs, goal_dim), tuning goals
        acts = np.random.default_rng(0).uniform(fam.act_low, fam.act_high, (fam.horizon, N_ENVS, fam.act_dim))
        vec = tasks.make_vec_env(fam, goals, seed=0)
        gym_vec = gym.vector.SyncVectorEnv([lambda g=g: gym.make(tasks.env_id(fam), goal=g) for g in goals],
                                           autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        gym_vec.reset(seed=0)
        ended = np.stack([(lambda o: o[2] | o[3])(vec.step(a)) for a in acts])  # (H, n_envs) VecEnv's resets
        model, datas = vec.model, [mujoco.MjData(vec.model) for _ in range(N_ENVS)]

        def bare():  # the same steps and resets, MuJoCo's calls alone (a body that fell is reset, as in the env)
            for d in datas:
                mujoco.mj_resetData(model, d)
                mujoco.mj_forward(model, d)
            for a, done in zip(acts, ended):
                for d, a_i in zip(datas, a):
                    d.ctrl[:] = a_i
                    mujoco.mj_step(model, d, nstep=fam.frame_skip)
                for i in np.flatnonzero(done):
                    mujoco.mj_resetData(model, datas[i])
                    mujoco.mj_forward(model, datas[i])

        def stepped(env):
            def run():
                for a in acts:
                    env.step(a)
            return run

        bare_r, vec_r, gym_r = (N_ENVS * fam.horizon * r for r in _rates(
            [bare, stepped(vec), stepped(gym_vec)], device, repeats=3))
        out[family] = {"bare_steps_s": bare_r, "vec_steps_s": vec_r, "gym_steps_s": gym_r,
                       "vec_over_bare": vec_r / bare_r, "met": vec_r / bare_r >= ENV_RATIO_TARGET}
        print(f"  {fam.env:<9} bare mj_step {bare_r:8.0f} steps/s   VecEnv {vec_r:8.0f} ({vec_r / bare_r:.2f} of bare: "
              f"{'met' if vec_r / bare_r >= ENV_RATIO_TARGET else 'NOT met'})   gymnasium {gym_r:8.0f} "
              f"({gym_r / bare_r:.2f})")
    out["iteration"] = _iteration_versus(os.environ.get("BENCH_BASELINE"))
    return out


def iteration_seconds(algo, family, n_iters):
    """Seconds per training iteration of MAML or the oracle at the quick preset (one torch thread), from a fresh
    run of n_iters iterations. Uses only what every version of the code has, so that BENCH_CODE can time an old one."""
    torch.set_num_threads(1)
    c = config.values(family, "quick")
    if algo == "maml":
        out = maml.meta_train(family, maml.MAMLConfig(**{**c["maml"], "n_iters": n_iters}), progress=False)
    else:
        trpo_cfg = TRPOConfig(**c["oracle"].get("trpo", {}))
        cfg = maml.OracleConfig(**{**c["oracle"], "n_iters": n_iters, "trpo": trpo_cfg})
        out = maml.train_oracle(family, cfg, progress=False)
    return out["wall_s"] / n_iters


def _iteration_versus(baseline):
    """MAML's and the oracle's iteration (ENV_ITERS each) of the current code, and of the code in `baseline` if given,
    each in ROUND_PROCESSES fresh processes, versions interleaved; the best per version."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository, above lab/
    versions = [("old", baseline), ("new", here)] if baseline else [("new", here)]
    best = {}
    for algo, n_iters in ENV_ITERS.items():
        for _ in range(ROUND_PROCESSES):
            for version, code in versions:
                cmd = [sys.executable, "-c", "import json; from lab import bench; "
                       f"print(json.dumps(bench.iteration_seconds({algo!r}, 'ant-vel', {n_iters})))"]
                env = {**os.environ, "BENCH_CODE": code}
                done = subprocess.run(cmd, cwd=here, env=env, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"iteration benchmark of {code} failed: {done.stderr.strip().splitlines()[-1]}")
                seconds = json.loads(done.stdout.strip().splitlines()[-1])
                best[(algo, version)] = min(best.get((algo, version), float("inf")), seconds)
    out = {}
    for algo in ENV_ITERS:
        new, old = best[(algo, "new")], best.get((algo, "old"))
        out[algo] = {"new_s": new, "old_s": old, "speedup": old / new if old else None}
        print(f"  {algo:<7} iteration on the ant (quick preset): {new:.2f} s" + (
            f", old {old:.2f} s: {old / new:.2f}× faster (target ≥ {ITERATION_SPEEDUP_TARGET}: "
            f"{'met' if old / new >= ITERATION_SPEEDUP_TARGET else 'NOT met'})" if old else ""))
    return out


def _slbo_seed(device, seed, n_stages):
    """Single-task SLBO from scratch with one seed: stages of 4000 real samples until mean |v − g| ≤ the target."""
    learner = slbo.Learner(FAMILY, SLBO_CFG, DYN, TRPO, seed=seed, device=device)
    policy, log, t0 = learner.new_policy(), [], time.perf_counter()
    for _ in range(n_stages):
        row = slbo.slbo(learner, policy, GOAL, n_slbo=1, n_inner=SLBO_INNER, progress=False)[0]
        row["stage"], row["minutes"] = len(log) + 1, (time.perf_counter() - t0) / 60
        log.append(row)
        print(f"  {seed:>4} {row['samples']:>8} {row['return']:>8.1f} {row['vel_err']:>7.3f} {row['model_loss']:>10.4f} "
              f"{row['virtual_return']:>9.1f} {row['minutes']:>6.1f}", flush=True)
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
    """Algorithm 1 on cheetah-vel for 20 tasks (the quick preset's budget per task) from each of SMTL_SEEDS, then Eq. (6)
    on 10 held-out goals: mean |v − g| after the zero-sample warm-up and after 3 SLBO stages, over seeds and goals."""
    goals = tasks.eval_goals(SMTL_FAMILY)[:SMTL_GOALS]  # (n_goals, 1)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        trained = list(tqdm(pool.map(_smtl_train_seed, SMTL_SEEDS, [device] * len(SMTL_SEEDS)),
                            total=len(SMTL_SEEDS), desc="smtl: training seeds"))
        train_s = time.perf_counter() - t0
        jobs = [(path, goal, i) for path, _, _ in trained for i, goal in enumerate(goals)]
        curves = list(tqdm(pool.map(_smtl_adapt_goal, *zip(*jobs)), total=len(jobs), desc="smtl: adapting"))
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
          f"real samples each, {np.mean(out['s_per_task']):.0f} s per task; {len(goals)} held-out goals, device {device})")
    print(f"  {'samples':>8} {'return':>8} {'|v-g|':>7}   " + " ".join(f"{'seed ' + str(s):>7}" for s in SMTL_SEEDS))
    for j, (n, r, e) in enumerate(zip(out["samples"], out["return"], out["vel_err"])):
        print(f"  {n:>8} {r:>8.1f} {e:>7.3f}   " + " ".join(f"{x[j]:>7.3f}" for x in out["vel_err_per_seed"]))
    print(f"  zero-shot |v-g| {mean[0]:.3f} (target ≤ {ZERO_SHOT_TARGET}): "
          f"{'met' if out['zero_shot_met'] else 'NOT met'}; after {len(mean) - 1} stages "
          f"{mean[-1]:.3f} (target ≤ {STAGES_TARGET}): {'met' if out['stages_met'] else 'NOT met'}")
    return out


def _round_learner(family, device, preset="quick", seed=0):
    """A learner after its first SLBO stage at the preset (n_collect real samples of a fresh policy, goal 1.0)."""
    c = config.values(family, preset)
    cfg = slbo.SLBOConfig(**c["slbo"])
    dyn, pol = DynamicsConfig(**c.get("dyn", {})), TRPOConfig(**c.get("trpo", {}))
    learner = slbo.Learner(family, cfg, dyn, pol, seed=seed, device=device)
    policy = learner.new_policy()
    slbo.collect(learner, policy, GOAL, cfg.n_collect)
    return learner, policy


def round_seconds(family, device="cpu", n_rounds=ROUND_REPEATS):
    """Wall-clock seconds of n_rounds VirtualTraining rounds (slbo.virtual_training with n_inner = 1: n_model Adam
    steps, then n_policy TRPO steps on virtual rollouts) after one warm-up round. Uses only what every version of
    the code has, so that BENCH_CODE can point it at an old commit."""
    learner, policy = _round_learner(family, device)
    seconds = []
    for _ in range(n_rounds + 1):
        _sync(device)
        t0 = time.perf_counter()
        slbo.virtual_training(learner, policy, GOAL, n_inner=1)
        _sync(device)
        seconds.append(time.perf_counter() - t0)
    return seconds[1:]


def _round_parts(family, device, preset):
    """One round of the current code split into parts, timed through the public functions that
    slbo.virtual_training calls, in its order: fit (n_model Adam steps), then n_policy × (rollout in the model,
    trpo_step). Seconds of the best of ROUND_REPEATS rounds after a warm-up; matmul FLOPs of one more round
    (FlopCounterMode); and trpo_step's labelled phases ("trpo: <phase>"), as shares of their sum in one more TRPO
    step run under torch.profiler (which slows every op, so shares, not seconds)."""
    learner, policy = _round_learner(family, device, preset)
    cfg, f = learner.cfg, learner.family
    env = VirtualEnv(learner.model, f, np.array([GOAL]), learner.init_states, n_envs=slbo.rows(cfg.n_trpo, f.horizon),
                     generator=learner.generator, cfg=learner.dyn)
    clock, flops, counter = {}, {}, None

    @contextlib.contextmanager
    def part(name):
        _sync(device)
        t0, f0 = time.perf_counter(), counter.get_total_flops() if counter else 0
        yield
        _sync(device)
        clock[name] = clock.get(name, 0.0) + time.perf_counter() - t0
        flops[name] = flops.get(name, 0) + (counter.get_total_flops() - f0 if counter else 0)

    def one_round():  # slbo.virtual_training's round, n_inner = 1
        with part("round"):
            with part("model fit"):
                fit(learner.model, learner.data, cfg.n_model, learner.dyn, generator=learner.generator)
            for _ in range(cfg.n_policy):
                with part("rollout"):
                    batch = rollout(env, policy, f.horizon, generator=learner.generator)
                with part("TRPO step"):
                    trpo_step(policy, learner.value_fn, batch, learner.trpo)

    best = None
    for i in range(ROUND_REPEATS + 1):
        clock.clear()
        one_round()
        if i and (best is None or clock["round"] < best["round"]):
            best = dict(clock)
    clock.clear()
    with FlopCounterMode(display=False) as counter:
        one_round()
    counter = None
    batch = rollout(env, policy, f.horizon, generator=learner.generator)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:  # one step: a round's
        trpo_step(policy, learner.value_fn, batch, learner.trpo)  # trace outgrows memory at the paper preset
    phase_us = {e.key[len("trpo: "):]: e.cpu_time_total for e in prof.key_averages() if e.key.startswith("trpo: ")}
    shares = {k: phase_us.get(k, 0.0) / sum(phase_us.values()) for k in ROUND_PHASES}
    return best, dict(flops), shares


def _round_versus(baseline, device):
    """The round's best time of the code in `baseline` (a directory) and of the current code, each measured in
    ROUND_PROCESSES fresh processes, old and new interleaved (a shared machine's load then slows both alike)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository, above lab/
    best = {}
    for family in ROUND_FAMILIES:
        for _ in range(ROUND_PROCESSES):
            for version, code in (("old", baseline), ("new", here)):
                cmd = [sys.executable, "-c", "import json; from lab import bench; "
                       f"print(json.dumps(bench.round_seconds({family!r}, {device!r})))"]
                env = {**os.environ, "BENCH_CODE": code, "OMP_NUM_THREADS": str(torch.get_num_threads())}
                done = subprocess.run(cmd, cwd=here, env=env, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"round benchmark of {code} failed: {done.stderr.strip().splitlines()[-1]}")
                seconds = min(json.loads(done.stdout.strip().splitlines()[-1]))
                key = (family, version)
                best[key] = min(best.get(key, float("inf")), seconds)
    out = {}
    print(f"  side by side (best of {ROUND_PROCESSES} processes × {ROUND_REPEATS} rounds): old = {baseline}")
    for family in ROUND_FAMILIES:
        old, new = best[(family, "old")], best[(family, "new")]
        out[family] = {"old_s": old, "new_s": new, "ratio": new / old, "met": new / old <= ROUND_TARGET}
        print(f"    {family:<12} old {old:6.2f} s  new {new:6.2f} s  new/old {new / old:.2f} "
              f"(target ≤ {ROUND_TARGET}): {'met' if new / old <= ROUND_TARGET else 'NOT met'}")
    return out


def bench_round(device="cpu"):
    """One VirtualTraining round (Algorithm 1, lines 11-14) at the quick preset (BENCH_PRESET=paper: the Appendix's)
    on the half-cheetah and the ant: its parts' seconds and FLOPs, and its ratio to the FLOP floor at the machine's
    measured matmul rate. With BENCH_BASELINE=<dir> (a git worktree of an earlier commit) also the round of that
    code, timed side by side (quick preset)."""
    baseline, preset = os.environ.get("BENCH_BASELINE"), os.environ.get("BENCH_PRESET", "quick")
    if preset not in config.PRESETS:
        raise SystemExit(f"BENCH_PRESET must be one of {list(config.PRESETS)}, got {preset!r}")
    gemm, s = _gemm_flops(device), slbo.SLBOConfig(**config.values(FAMILY, preset)["slbo"])
    print(f"round ({preset} preset: {s.n_model} model steps + {s.n_policy} TRPO steps; "
          f"device {device}, matmul rate {gemm / 1e9:.0f} GFLOP/s)")
    parts_order = ("model fit", "rollout", "TRPO step")
    out = {"preset": preset, "gemm_flops_s": gemm}
    for family in ROUND_FAMILIES:
        clock, flops, shares = _round_parts(family, device, preset)
        total_flops = sum(flops[k] for k in parts_order)
        floor = total_flops / gemm
        row = {"seconds": clock["round"], "flops": total_flops, "over_floor": clock["round"] / floor,
               "parts": {k: {"seconds": clock.get(k, 0.0), "gflop": flops.get(k, 0) / 1e9} for k in parts_order},
               "trpo_phase_shares": shares}
        print(f"  {family}: {clock['round']:.2f} s per round, {total_flops / 1e9:.1f} GFLOP, "
              f"{row['over_floor']:.1f}× the FLOP floor ({floor:.2f} s)")
        print(f"    {'part':<17}{'s':>7}{'share':>7}{'GFLOP':>8}{'× floor':>9}")
        for k in parts_order:
            s, f = clock.get(k, 0.0), flops.get(k, 0)
            print(f"    {k:<17}{s:>7.3f}{s / clock['round']:>7.0%}{f / 1e9:>8.2f}"
                  f"{(s / (f / gemm) if f else float('nan')):>9.1f}")
        print("    TRPO step by phase (torch.profiler): " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
        out[family] = row
    if baseline:
        out["versus"] = _round_versus(baseline, device)
    return out


def bench_maml(device="cpu", n_steps=3, n_rollouts=20, seed=0):
    """MAML-TRPO and the oracle on cheetah-vel with a laptop budget; MAML adapted by 0..3 policy-gradient steps of
    4,000 real samples on the 40 held-out goals, the oracle evaluated on the same goals."""
    goals = tasks.eval_goals(FAMILY)  # (40, 1)
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
    print(f"maml ({FAMILY}, {len(goals)} held-out goals, device {device}): {len(meta['log'])} meta-iterations × "
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


if __name__ == "__main__":
    device = os.environ.get("SMTL_DEVICE", "cpu")
    # one torch thread unless OMP_NUM_THREADS says otherwise: the README's figures were measured so, and the thread
    # count changes float rounding in matmuls, hence the trajectories of a seed
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    benches = {name[len("bench_"):]: fn for name, fn in globals().items() if name.startswith("bench_")}
    names = sys.argv[1:] or list(benches)
    unknown = [n for n in names if n not in benches]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(benches)}")
    info = _machine_info()
    print("  ".join(f"{k}: {v}" for k, v in info.items()))
    os.makedirs(OUT_DIR, exist_ok=True)
    for name in names:
        t0 = time.perf_counter()
        result = benches[name](device)
        row = {"bench": name, "device": device, **info, "seconds": time.perf_counter() - t0, **result}
        with open(RESULTS, "a") as f:
            f.write(json.dumps(row) + "\n")
