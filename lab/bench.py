"""Speed benchmarks: the targets that must never sit in a timed test (paper Sec. 2.4), and the runner of all of them.

`throughput` times real and virtual (learned-model) rollouts and checks that a virtual TRPO batch costs little more
than the model's forward passes; `env` times the batched real env against bare mj_step per body, and MAML's and the
oracle's iteration; `round` splits one VirtualTraining round (Algorithm 1, lines 11-14) into its parts, with their
FLOPs. With BENCH_BASELINE=<dir> (a git worktree of an earlier commit) `env` and `round` also time that code, side by
side. The sample-efficiency benchmarks (`slbo`, `trpo_mf`, `smtl`, `maml`) are lab/bench_learning.py's.

    python -m lab.bench                        # every benchmark on the CPU; results appended to bench_out/results.jsonl
    python -m lab.bench throughput env         # only the named ones
    git worktree add ../smtl-old HEAD~1 && BENCH_BASELINE=../smtl-old python -m lab.bench round   # old beside new
"""
import contextlib
import datetime
import json
import os
import subprocess
import sys
import time

import gymnasium as gym
import mujoco
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode


# BENCH_CODE=<dir>: benchmark the project's modules in <dir> instead, e.g. a git worktree of an earlier commit
# (`git worktree add ../smtl-old <commit>`); `env` and `round` use it to time old and new code side by side.
if os.environ.get("BENCH_CODE"):
    sys.path.insert(0, os.path.abspath(os.environ["BENCH_CODE"]))

import config
import maml
import slbo
import tasks
from dynamics import DynamicsConfig, DynamicsModel, VirtualEnv, fit
from lab import store  # the package this file is in, never BENCH_CODE's
from trpo import GaussianPolicy, TRPOConfig, rollout, trpo_step

OUT_DIR = "bench_out"
RESULTS = os.path.join(OUT_DIR, "results.jsonl")
FAMILY = "cheetah-vel"  # the benchmark task: half-cheetah, goal velocity ψ = 1.0 m/s
GOAL = 1.0
N_ENVS = 20  # parallel rollouts: n_trpo / H = 4000 / 200 (Appendix)
VIRTUAL_RATIO_TARGET = 0.70  # a virtual TRPO batch at ≥ 70% of the bare model-forward rate
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


def machine_info():
    """store.machine() and the date: a benchmark row says what it was measured on."""
    return {**store.machine(), "date": datetime.datetime.now().isoformat(timespec="seconds")}


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


def table(rows):
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
    table([("real env, random actions", f"{real_raw:10.0f} steps/s"),
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
        goals = tasks.tuning_goals(fam, N_ENVS)  # (n_envs, goal_dim)
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


def _best_in_fresh_processes(call, versions):
    """{version: the least seconds} that bench.<call> (an expression giving seconds, or a list of them) returns in
    ROUND_PROCESSES fresh processes per version [(version, directory)], each process importing the code in its
    directory (BENCH_CODE), versions interleaved (a shared machine's load then slows them alike)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository, above lab/
    best = {}
    for _ in range(ROUND_PROCESSES):
        for version, code in versions:
            cmd = [sys.executable, "-c", f"import json; from lab import bench; print(json.dumps(bench.{call}))"]
            env = {**os.environ, "BENCH_CODE": code, "OMP_NUM_THREADS": str(torch.get_num_threads())}
            done = subprocess.run(cmd, cwd=here, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"benchmark {call} of {code} failed: {done.stderr.strip().splitlines()[-1]}")
            seconds = float(np.min(json.loads(done.stdout.strip().splitlines()[-1])))
            best[version] = min(best.get(version, float("inf")), seconds)
    return best


def _iteration_versus(baseline):
    """MAML's and the oracle's iteration (ENV_ITERS each) of the current code, and of the code in `baseline` if given,
    each the best of ROUND_PROCESSES fresh processes."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    versions = [("old", baseline), ("new", here)] if baseline else [("new", here)]
    out = {}
    for algo, n_iters in ENV_ITERS.items():
        best = _best_in_fresh_processes(f"iteration_seconds({algo!r}, 'ant-vel', {n_iters})", versions)
        new, old = best["new"], best.get("old")
        out[algo] = {"new_s": new, "old_s": old, "speedup": old / new if old else None}
        print(f"  {algo:<7} iteration on the ant (quick preset): {new:.2f} s" + (
            f", old {old:.2f} s: {old / new:.2f}× faster (target ≥ {ITERATION_SPEEDUP_TARGET}: "
            f"{'met' if old / new >= ITERATION_SPEEDUP_TARGET else 'NOT met'})" if old else ""))
    return out


def round_learner(family, device, preset="quick", seed=0):
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
    learner, policy = round_learner(family, device)
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
    learner, policy = round_learner(family, device, preset)
    cfg, f = learner.cfg, learner.family
    env = VirtualEnv(learner.model, f, np.array([GOAL]), learner.init_states,
                     n_envs=slbo.envs_for(cfg.n_trpo, f.horizon), generator=learner.generator, cfg=learner.dyn)
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
    """The round's best time of the code in `baseline` (a directory) and of the current code, each the best of
    ROUND_PROCESSES fresh processes × ROUND_REPEATS rounds."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {}
    print(f"  side by side (best of {ROUND_PROCESSES} processes × {ROUND_REPEATS} rounds): old = {baseline}")
    for family in ROUND_FAMILIES:
        best = _best_in_fresh_processes(f"round_seconds({family!r}, {device!r})", [("old", baseline), ("new", here)])
        old, new = best["old"], best["new"]
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


if __name__ == "__main__":
    from lab import bench_learning  # the sample-efficiency benchmarks, run by the same command
    device = os.environ.get("SMTL_DEVICE", "cpu")
    # one torch thread unless OMP_NUM_THREADS says otherwise: the figures in docs/benchmarks.md were measured so, and
    # the thread count changes float rounding in matmuls, hence the trajectories of a seed
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    benches = {name[len("bench_"):]: fn for module in (globals(), vars(bench_learning))
               for name, fn in module.items() if name.startswith("bench_") and callable(fn)}
    names = sys.argv[1:] or list(benches)
    unknown = [n for n in names if n not in benches]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(benches)}")
    info = machine_info()
    print("  ".join(f"{k}: {v}" for k, v in info.items()))
    os.makedirs(OUT_DIR, exist_ok=True)
    for name in names:
        t0 = time.perf_counter()
        result = benches[name](device)
        row = {"bench": name, "device": device, **info, "seconds": time.perf_counter() - t0, **result}
        with open(RESULTS, "a") as f:
            f.write(json.dumps(row) + "\n")
