"""The test suite: known answers and small learning problems for every concept, CPU only.

Fixtures first, then one section per file in the order data flows through them (tasks, dynamics, trpo, slbo, smtl,
maml, figures, run). Learning tests assert that learning happened on a problem small enough to run in seconds; speed
targets live in lab/bench.py, never here.

    pip install -r requirements.txt -r lab/requirements-ray.txt && python -m pytest -q test_all.py
    python -m pytest -q -m "not slow" test_all.py  # the fast subset, for a loop while you change the code
    python -m pytest -q test_all.py -k smtl         # one section
"""
import argparse
import copy
import csv
import dataclasses
import json
import math
import os
import re
import sys
import warnings
from functools import partial

import gymnasium as gym
import mujoco
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from torch.distributions import kl_divergence
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector

import config
import maml
import run
import slbo
import smtl
import tasks
from dynamics import (Dataset, DynamicsConfig, DynamicsModel, ModelDivergedError, Normalizer, VirtualEnv, fit,
                      multi_step_loss)
from exercises import check as exercise_check
from exercises import checks as exercise_checks
from exercises import grade as exercise_grade
from exercises import experiments
from lab import bench, cluster, figures, jobs, pages, report, store, summaries, video
from trpo import (GaussianPolicy, TRPOConfig, ValueFunction, conjugate_gradient, episode_returns,
                  fisher_vector_product, gae, limited_entropy, policy_fisher_product, rollout, set_flat_params,
                  trpo_step)

# The slow tests (end to end, Ray, learning at the quick preset) are left out by `pytest -m "not slow"`, the loop
# for students. pytest warns of a mark it was not told about in a config file; this suite has none.
warnings.filterwarnings("ignore", category=pytest.PytestUnknownMarkWarning)
slow = pytest.mark.slow

ALL_FAMILIES = list(tasks.FAMILIES)


def _family_shifts():
    """Every family unshifted, then each shift of the body (friction, gears: the MuJoCo model, whatever the family's
    reward) once per body, on its first family, and each shift of the goals (pos2neg) on every family it applies to."""
    shifted = {}
    for f in ALL_FAMILIES:
        for s in tasks.applicable_shifts(f)[1:]:
            shifted.setdefault((f if s == "pos2neg" else tasks.get_family(f).env, s), (f, s))
    return [(f, None) for f in ALL_FAMILIES] + list(shifted.values())


FAMILY_SHIFTS = _family_shifts()  # 16 pairs cover the 25 of families × shifts


def _vec_env_shifts():
    """FAMILY_SHIFTS less the pairs a batched env cannot tell apart: it steps the body, resets it and routes each
    copy's goal to the reward, so one pair per body, dynamics shift and goal kind and size, and one goal shift
    (pos2neg), tell it all (the reward of every pair is checked on its own, test_tasks_reward_and_done_match_...)."""
    seen, out = set(), []
    for f, s in FAMILY_SHIFTS:
        fam = tasks.get_family(f)
        key = ("pos2neg",) if s == "pos2neg" else (fam.env, s, fam.kind, fam.goal_dim)
        if key not in seen:
            seen.add(key), out.append((f, s))
    return out


# =============================================================================================
# Fixtures and test doubles shared by several sections
# =============================================================================================
@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs on one torch thread, as every job of the lab does (lab/jobs.py): its numbers then depend neither
    on the core count nor on the tests before it (a job run in-process sets one thread for the process), and small
    matrices run no slower, where two threads on a busy 2-core box spin against each other. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class _PointGoals:
    """Torch vector env: 2-D point x0 ~ U[-0.1, 0.1]², x ← x + 0.1·a (a ∈ [-1, 1]²), reward −‖x − g‖ with each
    sub-env's own goal g, which the observation (x) does not show: a policy must find g by adapting."""

    single_observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    single_action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, goals):
        self.set_attr("goal", list(goals))

    def set_attr(self, name, values):
        assert name == "goal"
        self.goal = torch.as_tensor(np.stack(values), dtype=torch.float32)  # (n_envs, 2)
        self.num_envs = len(self.goal)

    def reset(self, seed=None):
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        self.x = torch.rand(self.num_envs, 2, generator=g) * 0.2 - 0.1  # (n_envs, 2)
        return self.x, {}

    def step(self, a):
        self.x = self.x + 0.1 * a
        no = torch.zeros(self.num_envs, dtype=torch.bool)
        return self.x, -(self.x - self.goal).norm(dim=1), no, no, {}

    def close(self):
        pass


# The toy as a task family: goals ψ ∈ [-0.5, 0.5]², horizon 20 (kind "position": no velocity error is reported).
_TOY = tasks.Family(name="toy-point", env="point", task="goal", kind="position", goal_low=(-0.5, -0.5),
                    goal_high=(0.5, 0.5), env_id="toy", env_kwargs={}, obs_dim=2, act_dim=2, act_bound=1.0, dt=0.1,
                    vel_index=(0, 1), z_index=None, healthy_z=None, healthy_open=False, ctrl_cost=0.0, alive_bonus=0.0,
                    track_offset=0.0, horizon=20)


@pytest.fixture
def toy_envs(monkeypatch):
    """tasks.make_vec_env (used by maml.py and slbo.evaluate) builds the toy env; the toy is a registered family."""
    monkeypatch.setattr(tasks, "make_vec_env", lambda family, goals, shift=None, seed=None: _PointGoals(goals))
    monkeypatch.setitem(tasks.FAMILIES, _TOY.name, _TOY)


class PointMass:
    """The smallest problem TRPO must solve: a torch vector env of num_envs 2-D points x ~ U[−2, 2]², action =
    velocity in [−1, 1]², x ← x + 0.2a, reward −‖x‖, no termination."""

    single_observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    single_action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, num_envs=20):
        self.num_envs = num_envs

    def reset(self, seed=None):
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        self.x = torch.rand(self.num_envs, 2, generator=g) * 4 - 2  # (n_envs, 2)
        return self.x, {}

    def step(self, a):
        self.x = self.x + 0.2 * a
        no = torch.zeros(self.num_envs, dtype=torch.bool)  # (n_envs,)
        return self.x, -self.x.norm(dim=1), no, no, {}


def _train_smtl(family, path, **kw):
    """smtl.train resuming and saving the checkpoint file at `path`, as the lab's jobs do."""
    resume, save = store.checkpointing(path, smtl.CHECKPOINT_FORMAT)
    return smtl.train(family, resume=resume, save=save, **kw)


# =============================================================================================
# tasks.py
# =============================================================================================
def _reference_reward(family, qvel, act, goal):
    """The task reward written out again from the authors' constants, on MuJoCo's own root velocity: qvel[0] (and
    qvel[1]) is the root's x (y) velocity in the world frame for the half-cheetah's slide joint and the free joints
    of the ant and the humanoid. Independent of tasks.py's observation indices and formula."""
    fam, vx, vy, g = tasks.get_family(family), qvel[:, 0], qvel[:, 1], np.asarray(goal)
    a2 = (act ** 2).sum(1)
    if fam.env == "cheetah":
        return (g[0] * vx if fam.kind == "direction" else -abs(vx - g[0])) - 0.05 * a2
    if fam.env == "ant":
        if fam.kind == "direction":
            return g[0] * vx + 0.05 - 0.005 * a2
        track = 1.0 - abs(vx - g[0]) + (1.0 - abs(vy - g[1]) if fam.goal_dim == 2 else 0.0)  # 1 per axis
        return track + 0.05 - 0.005 * a2
    return -abs(vx - g[0]) + 0.8 + 0.2  # humanoid: no control cost


def _root_velocity(model, data):
    """World-frame linear velocity (x, y, z) of the root body's origin, recomputed by MuJoCo."""
    d = mujoco.MjData(model)
    d.qpos[:], d.qvel[:] = data.qpos, data.qvel
    mujoco.mj_forward(model, d)
    res = np.zeros(6)  # (rot(3), lin(3))
    mujoco.mj_objectVelocity(model, d, mujoco.mjtObj.mjOBJ_XBODY, 1, res, 0)  # body 1's frame = the torso root
    return res[3:]


def _log_real_steps(family, shift=None, n_steps=1000, seed=0, goal=None):
    """n_steps uniformly random real steps (resetting after each episode), logged with what MuJoCo and gymnasium say
    independently of the family's functions: a dict of arrays, s, a, s_next (n, ·), the env's r and d (n,), MuJoCo's
    qvel after the step (n, nv), its recomputed root velocity v_mj (n, 3) and the v5 env's own termination (n,)."""
    fam = tasks.get_family(family)
    goal = tasks.eval_goals(fam, 1, shift)[0] if goal is None else goal
    env = tasks.make_env(fam, goal, shift, seed=seed)
    mj = env.unwrapped.mj
    s, _ = env.reset(seed=seed)
    log = {k: [] for k in ("s", "a", "s_next", "r", "d", "qvel", "v_mj", "v5_terminated")}
    for _ in range(n_steps):
        a = env.action_space.sample()
        s_next, r, terminated, truncated, info = env.step(a)
        for k, x in zip(log, (s, a, s_next, r, terminated, mj.data.qvel.copy(), _root_velocity(mj.model, mj.data),
                              info["v5_terminated"])):
            log[k].append(x)
        s = env.reset()[0] if terminated or truncated else s_next
    env.close()
    return {k: np.array(v, dtype=np.float64) for k, v in log.items()} | {"goal": goal}


def _consistency_errors(family, log):
    """Largest absolute errors over the random real steps of `log` (_log_real_steps) of: the velocity read from the
    observation vs MuJoCo's recomputed root velocity, family.done vs the v5 env's own termination, and the torch
    float64 reward vs the numpy one."""
    fam = tasks.get_family(family)
    axes = [i for i in fam.vel_index if i is not None]  # obs indices of v_x (and v_y)
    r_np = fam.reward(log["s"], log["a"], log["s_next"], log["goal"])  # (n_steps,)
    r_torch = fam.reward(*(torch.from_numpy(log[k]) for k in ("s", "a", "s_next")), log["goal"]).numpy()
    done = fam.done(log["s_next"]).astype(float)  # (n_steps,)
    return dict(
        velocity=float(np.abs(log["s_next"][:, axes] - log["v_mj"][:, :len(axes)]).max()),
        done_vs_v5=float(np.abs(done - log["v5_terminated"]).max()),
        torch=float(np.abs(r_torch - r_np).max()),
    )


@pytest.mark.parametrize("family,shift", FAMILY_SHIFTS)
def test_tasks_reward_and_done_match_mujoco_and_gymnasium(family, shift):
    # 600 random steps: three time limits, and on the ant and the humanoid several falls (the first by step 300)
    log = _log_real_steps(family, shift, n_steps=600, seed=0)
    # the env's reward equals the reward recomputed from MuJoCo's qvel and the action
    np.testing.assert_allclose(log["r"], _reference_reward(family, log["qvel"], log["a"], log["goal"]), atol=1e-9)
    # its termination equals the underlying gymnasium v5 env's own termination
    np.testing.assert_array_equal(log["d"], log["v5_terminated"])
    err = _consistency_errors(family, log)
    assert err["velocity"] <= 1e-6 and err["done_vs_v5"] == 0 and err["torch"] <= 1e-6
    if tasks.get_family(family).healthy_z is not None:
        assert log["d"].sum() > 0  # random steps do reach termination, so done was really compared


@pytest.mark.parametrize("change", [dict(track_offset=1.01), dict(ctrl_cost=0.006), dict(vel_index=(14, 13)),
                                    dict(healthy_z=(0.2, 0.9))])
def test_tasks_real_env_check_fails_on_a_perturbed_family(change, monkeypatch):
    """The check above can fail: a family whose reward or termination is slightly off is caught."""
    fam = tasks.get_family("ant-vel2d")
    monkeypatch.setitem(tasks.FAMILIES, "ant-vel2d", dataclasses.replace(fam, **change))
    log = _log_real_steps("ant-vel2d", n_steps=300, seed=0)
    reward_off = np.abs(log["r"] - _reference_reward("ant-vel2d", log["qvel"], log["a"], log["goal"])).max()
    done_off = np.abs(log["d"] - log["v5_terminated"]).max()
    assert max(reward_off, done_off) > 1e-3


def test_tasks_reward_values_by_hand():
    obs, nxt = np.zeros((2, 27)), np.zeros((2, 27))
    nxt[:, 13], nxt[:, 14], nxt[:, 0] = [1.0, 2.5], [0.5, -1.0], [0.5, 0.1]
    act = np.ones((2, 8))
    ant2d = tasks.get_family("ant-vel2d")
    r = ant2d.reward(obs, act, nxt, np.array([1.0, 0.0]))
    # (1 − |v_x − g_x|) + (1 − |v_y − g_y|) + 0.05 − 0.005 · 8
    np.testing.assert_allclose(r, [-0.5 + 2.05 - 0.04, -1.5 - 1.0 + 2.05 - 0.04])
    np.testing.assert_array_equal(ant2d.done(nxt), [False, True])  # z = 0.1 < 0.2
    fb = tasks.get_family("cheetah-fwd-back")
    s, a, s_next = np.zeros((2, 17)), np.full((2, 6), 0.5), np.zeros((2, 17))
    s_next[:, 8] = 3.0
    np.testing.assert_allclose(fb.reward(s, a, s_next, np.array([[1.0], [-1.0]])), [3 - 0.075, -3 - 0.075])
    hum = tasks.get_family("humanoid-vel")
    z = np.zeros((3, 45))
    z[:, 0] = [0.9, 1.4, 2.1]
    np.testing.assert_array_equal(hum.done(z), [True, False, True])
    assert hum.done(torch.from_numpy(z)).dtype == torch.bool


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_tasks_gymnasium_checker_and_registry(family):
    fam = tasks.get_family(family)
    goal = tasks.eval_goals(fam, 1)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(tasks.TaskEnv(fam, goal), skip_render_check=True)
    # gymnasium's MuJoCo envs declare an unbounded observation Box; the checker only notes that
    assert all("infinity" in str(w.message) for w in caught), [str(w.message) for w in caught]
    env = gym.make(tasks.env_id(fam), goal=goal)
    assert env.spec.max_episode_steps == tasks.HORIZON
    assert env.observation_space.shape == (fam.obs_dim,) and env.action_space.shape == (fam.act_dim,)
    np.testing.assert_array_equal(env.action_space.low, fam.act_low)
    np.testing.assert_array_equal(env.action_space.high, fam.act_high)


def test_tasks_time_limit_truncates_at_horizon():
    env = tasks.make_env("cheetah-vel", 1.0, seed=0)
    for t in range(tasks.HORIZON):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated and truncated == (t == tasks.HORIZON - 1)


def _gym_vec_env(family, goals, shift=None):
    """The plain equivalent of tasks.VecEnv: gymnasium's SyncVectorEnv of TaskEnvs, each reset in the step its episode
    ends (SAME_STEP)."""
    fns = [lambda g=g: gym.make(tasks.env_id(family), goal=g, shift=shift) for g in goals]
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


@pytest.mark.parametrize("family,shift", _vec_env_shifts())
def test_tasks_vec_env_equals_gymnasium_step_by_step(family, shift):
    # 3 copies, 450 steps of random actions: two time limits, and on the ant and the humanoid many falls, each reset
    # in place from its copy's own stream; then a re-seeded reset and a re-targeted goal
    fam = tasks.get_family(family)
    goals = tasks.eval_goals(fam, 3, shift)
    fast, plain = tasks.make_vec_env(fam, goals, shift), _gym_vec_env(fam, goals, shift)
    act = np.random.default_rng(0).uniform(fam.act_low, fam.act_high, (450, 3, fam.act_dim)).astype(np.float32)
    resets = 0
    for seed, goals in ((7, goals), (8, goals[::-1])):
        tasks.set_goals(fast, fam, goals, shift), plain.set_attr("goal", list(goals))
        np.testing.assert_array_equal(fast.reset(seed=seed)[0], plain.reset(seed=seed)[0])
        for a in act:
            out, ref = fast.step(a), plain.step(a)
            for x, y in zip(out[:4], ref[:4]):  # obs, reward, terminated, truncated: the same to the bit
                np.testing.assert_array_equal(x, y)
            assert ("_final_obs" in out[4]) == ("_final_obs" in ref[4])
            if "_final_obs" in ref[4]:
                ended = ref[4]["_final_obs"]
                np.testing.assert_array_equal(out[4]["_final_obs"], ended)
                np.testing.assert_array_equal(out[4]["final_obs"][ended], np.stack(ref[4]["final_obs"][ended]))
                resets += int(ended.sum())
    assert resets >= 2 * 3 * 2  # every copy reached its time limit twice per seed, at least
    if fam.healthy_z is not None:
        assert resets > 2 * 3 * 2  # and some fell


def _model_arrays(model):
    return {k: getattr(model, k) for k in dir(model)
            if not k.startswith("_") and isinstance(getattr(model, k), np.ndarray)}


@pytest.mark.parametrize("family,shift,changed", [
    ("ant-fwd-back", "low-friction", {"geom_friction"}),
    ("ant-fwd-back", "crippled", {"actuator_gear"}),
    ("cheetah-vel", "low-friction", {"geom_friction"}),
    ("ant-vel", "pos2neg", set()),
])
def test_tasks_shift_changes_dynamics_and_nothing_else(family, shift, changed):
    fam = tasks.get_family(family)
    goal = tasks.eval_goals(fam, 1, shift)[0]
    base, shifted = tasks.TaskEnv(fam, -goal if shift == "pos2neg" else goal), tasks.TaskEnv(fam, goal, shift)
    # only the intended field of the MuJoCo model differs
    m0, m1 = _model_arrays(base.mj.model), _model_arrays(shifted.mj.model)
    assert {k for k in m0 if not np.array_equal(m0[k], m1[k])} == changed
    assert base.observation_space == shifted.observation_space and base.action_space == shifted.action_space
    # same state, same actions -> different next states (or identical ones for a goal shift)
    s0, _ = base.reset(seed=0)
    s1, _ = shifted.reset(seed=0)
    np.testing.assert_array_equal(s0, s1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform(-1, 1, fam.act_dim)
        s0, s1 = base.step(a)[0], shifted.step(a)[0]
    assert (np.abs(s0 - s1).max() > 1e-3) == bool(changed)


def test_tasks_crippled_leg_is_limp():
    env = tasks.TaskEnv("ant-fwd-back", 1.0, "crippled")
    env.reset(seed=0)
    env.step(np.ones(8))
    m, d = env.mj.model, env.mj.data
    torque = {n: d.qfrc_actuator[m.jnt_dofadr[m.joint(n).id]] for n in ("hip_4", "ankle_4", "hip_1", "ankle_1")}
    assert torque["hip_4"] == 0 and torque["ankle_4"] == 0  # the motors of leg 4 exert no torque
    assert torque["hip_1"] != 0 and torque["ankle_1"] != 0


@pytest.mark.parametrize("call,match", [
    (lambda: tasks.get_family("walker-vel"), "unknown task family"),
    (lambda: tasks.make_env("cheetah-vel", 2.5), "outside"),
    (lambda: tasks.make_env("cheetah-vel", -0.5), "outside"),
    (lambda: tasks.make_env("cheetah-vel", [0.5, 0.5]), "shape"),
    (lambda: tasks.make_env("ant-vel2d", 1.0), "shape"),
    (lambda: tasks.make_env("ant-fwd-back", 0.5), "direction"),
    (lambda: tasks.make_env("cheetah-vel", float("nan")), "outside"),
    (lambda: tasks.make_env("cheetah-vel", 1.0, shift="pos2neg"), "outside"),
    (lambda: tasks.make_env("cheetah-vel", 1.0, shift="icy"), "unknown shift"),
    (lambda: tasks.make_env("cheetah-vel", 1.0, shift="crippled"), "ant only"),
    (lambda: tasks.make_env("ant-vel-full", 1.0, shift="pos2neg"), "non-negative"),
    (lambda: gym.make("SMTL/ant-vel-v0", goal=7.0), "outside"),
])
def test_tasks_bad_input_is_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_tasks_goal_samplers_and_eval_split():
    for name in ALL_FAMILIES:
        fam = tasks.get_family(name)
        ev = tasks.eval_goals(fam)
        assert ev.shape == (tasks.N_EVAL, fam.goal_dim)
        np.testing.assert_array_equal(ev, tasks.eval_goals(fam))  # fixed
        for g in ev:
            tasks.check_goal(fam, g)
        train = tasks.sample_goals(fam, 1000, np.random.default_rng(0))
        for g in train:
            tasks.check_goal(fam, g)
        tune = tasks.tuning_goals(fam)
        np.testing.assert_array_equal(tune, tasks.tuning_goals(fam))  # fixed
        if fam.kind == "direction":
            for split in (ev, tune):  # a panel scored on its first n goals sees as many forward as backward ones
                assert all((split[:n] == 1).sum() == n // 2 for n in range(2, tasks.N_EVAL + 1, 2))
            assert not np.array_equal(ev, tune)
        else:
            # the evaluation goals are a stream of their own, not the first draws of a run's training stream,
            # and no tuning goal is an evaluation goal
            assert not np.allclose(ev, tasks.sample_goals(fam, tasks.N_EVAL, np.random.default_rng(0)))
            assert np.abs(ev[:, None] - tune[None]).max(-1).min() > 1e-6
            space = fam.goal_space()
            for split in (ev, tune):  # each block of 8 goals has one in each eighth of every dimension's range
                u = (split - space.low) / (space.high - space.low)  # (N_EVAL, goal_dim) in [0, 1)
                for block in u.reshape(-1, tasks.GOAL_BLOCK, fam.goal_dim):
                    for d in range(fam.goal_dim):
                        assert sorted((block[:, d] * tasks.GOAL_BLOCK).astype(int)) == list(range(tasks.GOAL_BLOCK))
    neg = tasks.eval_goals("cheetah-vel", shift="pos2neg")
    assert (neg <= 0).all() and (neg >= -2).all()
    s0 = tasks.initial_states("ant-vel", 5, seed=1)
    assert s0.shape == (5, 27) and len(np.unique(s0[:, 0])) == 5


# =============================================================================================
# dynamics.py
# =============================================================================================
def _batch(lengths, terminated, horizon, obs_dim=2, act_dim=1):
    """A rollout batch (trpo.rollout's layout), one episode per row of lengths[i] valid steps, whose obs encode
    (row, t): obs[i, t] = (i, t), next_obs = (i, t + 1)."""
    n = len(lengths)
    t = torch.arange(horizon).float().expand(n, horizon)  # (n, horizon)
    row = torch.arange(n).float()[:, None].expand(n, horizon)  # (n, horizon)
    obs = torch.stack([row, t] + [t] * (obs_dim - 2), -1)  # (n, horizon, obs_dim)
    next_obs = torch.stack([row, t + 1] + [t + 1] * (obs_dim - 2), -1)  # (n, horizon, obs_dim)
    mask, terminal = torch.zeros(n, horizon), torch.zeros(n, horizon)  # (n, horizon) each
    for i, (n_i, d) in enumerate(zip(lengths, terminated)):
        mask[i, :n_i] = 1
        terminal[i, n_i - 1] = float(d)
    ep_end = torch.zeros(n, horizon)  # (n, horizon)  each row's episode ends at its last valid step
    ep_end[torch.arange(n), torch.tensor(lengths) - 1] = 1
    return {"obs": obs, "act": torch.randn(n, horizon, act_dim), "next_obs": next_obs, "rew": torch.zeros(n, horizon),
            "mask": mask, "terminal": terminal, "ep_end": ep_end}


def _random_model(family, init_states, out_scale, seed=0):
    """A DynamicsModel with random weights whose output layer is scaled by out_scale (1e-5 at init: no motion)."""
    torch.manual_seed(seed)
    model = DynamicsModel(family.obs_dim, family.act_dim, family.act_low, family.act_high, hidden=(64, 64))
    model.update_normalizers(init_states, init_states + 0.05 * torch.randn_like(init_states))
    with torch.no_grad():
        model.layers[-1].weight.normal_(0, out_scale)
    return model


def test_dynamics_multi_step_loss_by_hand():
    model = DynamicsModel(2, 1, [-1.0], [1.0], hidden=(2,))
    W1, b1 = [[1.0, -2.0, 0.5], [0.3, 0.4, -1.0]], [0.1, -0.2]
    W2, b2 = [[0.5, -1.0], [2.0, 0.25]], [0.05, -0.1]
    mu_s, sd_s, mu_d, sd_d = [0.5, -1.0], [2.0, 0.5], [0.1, 0.2], [0.5, 4.0]
    with torch.no_grad():
        for layer, (W, b) in zip(model.layers, ((W1, b1), (W2, b2))):
            layer.weight.copy_(torch.tensor(W))
            layer.bias.copy_(torch.tensor(b))
        for norm, (mu, sd) in ((model.obs_norm, (mu_s, sd_s)), (model.diff_norm, (mu_d, sd_d))):
            norm.mean.copy_(torch.tensor(mu))
            norm.std.copy_(torch.tensor(sd))
    s = [[[1.0, 2.0], [1.5, 1.0], [2.5, 0.0]], [[-1.0, 0.0], [-0.5, 0.5], [0.0, 3.0]]]  # (B=2, k+1=3, obs_dim=2)
    a = [[[0.3], [1.7]], [[-2.0], [0.0]]]  # (B, k=2, act_dim=1): 1.7 and -2.0 lie outside [-1, 1]

    def M(state, act):  # ŝ' = s + σ_Δ (W2 relu(W1 [(s − μ)/σ, clip(a)] + b1) + b2) + μ_Δ, in plain Python
        x = [(state[j] - mu_s[j]) / sd_s[j] for j in range(2)] + [max(-1.0, min(1.0, act[0]))]
        h = [max(0.0, sum(W1[r][c] * x[c] for c in range(3)) + b1[r]) for r in range(2)]
        out = [sum(W2[r][c] * h[c] for c in range(2)) + b2[r] for r in range(2)]
        return [state[j] + sd_d[j] * out[j] + mu_d[j] for j in range(2)]

    losses = []
    for seq, acts in zip(s, a):
        s_hat, total = seq[0], 0.0
        for i in range(2):
            nxt = M(s_hat, acts[i])
            # e_i = ((ŝ_{t+i} − ŝ_{t+i−1}) − (s_{t+i} − s_{t+i−1})) / σ_Δ, RMS over coordinates
            e = [((nxt[j] - s_hat[j]) - (seq[i + 1][j] - seq[i][j])) / sd_d[j] for j in range(2)]
            total += math.sqrt(sum(x * x for x in e) / 2)
            s_hat = nxt
        losses.append(total / 2)
    loss = multi_step_loss(model, torch.tensor(s), torch.tensor(a))
    assert loss.shape == ()
    assert loss.item() == pytest.approx(sum(losses) / 2, rel=1e-6)
    # k = 1: the error of the one-step prediction, ‖ŝ_{t+1} − s_{t+1}‖ / σ_Δ in RMS
    one = multi_step_loss(model, torch.tensor(s)[:, :2], torch.tensor(a)[:, :1])
    ref = [math.sqrt(sum(((M(q[0], u[0])[j] - q[1][j]) / sd_d[j]) ** 2 for j in range(2)) / 2) for q, u in zip(s, a)]
    assert one.item() == pytest.approx(sum(ref) / 2, rel=1e-6)


def test_dynamics_fits_linear_system():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    obs_dim, act_dim, horizon = 4, 2, 50
    A = torch.eye(obs_dim) + 0.05 * torch.randn(obs_dim, obs_dim, generator=gen)  # (obs_dim, obs_dim)
    B = 0.3 * torch.randn(obs_dim, act_dim, generator=gen)  # (obs_dim, act_dim)

    def episodes(n):
        obs = torch.empty(n, horizon + 1, obs_dim)  # (n, horizon+1, obs_dim)
        obs[:, 0] = torch.randn(n, obs_dim, generator=gen)
        act = torch.rand(n, horizon, act_dim, generator=gen) * 2 - 1  # (n, horizon, act_dim)
        for t in range(horizon):
            # s' = A s + B a
            obs[:, t + 1] = obs[:, t] @ A.T + act[:, t] @ B.T
        zeros = torch.zeros(n, horizon)
        ep_end = zeros.clone()
        ep_end[:, -1] = 1
        return {"obs": obs[:, :-1], "act": act, "next_obs": obs[:, 1:], "rew": zeros, "mask": zeros + 1,
                "terminal": zeros, "ep_end": ep_end}

    cfg = DynamicsConfig(hidden=(128, 128))
    model, data, test = DynamicsModel(obs_dim, act_dim, -np.ones(act_dim), np.ones(act_dim), cfg.hidden), \
        Dataset(obs_dim, act_dim), Dataset(obs_dim, act_dim)
    model.update_normalizers(*data.add(episodes(32)))
    test.add(episodes(8))

    def held_out_error():  # ‖ŝ' − s'‖ relative to the size of a step ‖s' − s‖, on unseen episodes
        with torch.no_grad():
            err = (model(test.obs, test.act) - test.next_obs).norm(dim=1).mean()
            return (err / (test.next_obs - test.obs).norm(dim=1).mean()).item()

    # fit draws all its minibatches at once: the same windows as one draw per step, so the same model
    twin = copy.deepcopy(model)
    fit(model, data, 3, cfg, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(twin.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        loss = multi_step_loss(twin, *data.sample(cfg.batch_size, cfg.k, g))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), cfg.grad_clip)
        opt.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q)
    before = held_out_error()
    first = fit(model, data, 50, cfg, generator=gen)
    fit(model, data, 350, cfg, generator=gen)
    last = fit(model, data, 50, cfg, generator=gen)
    after = held_out_error()
    assert before > 0.5  # the initial model predicts the mean step only
    assert last < first / 3  # the training loss of Eq. (4) falls
    assert after < 0.1, (before, after)


def test_dynamics_dataset_windows_stay_inside_episodes():
    data = Dataset(2, 1)
    # rows: full length, terminated at 3, truncated (mask ends) at 5, a 1-step episode; then a second batch
    b1 = _batch([8, 3, 5, 1], [False, True, False, True], horizon=8)
    obs, next_obs = data.add(b1)
    m = b1["mask"] > 0
    torch.testing.assert_close(obs, b1["obs"][m])  # exactly the masked steps, in row order
    torch.testing.assert_close(next_obs, b1["next_obs"][m])
    torch.testing.assert_close(data.act, b1["act"][m])
    assert len(data) == 17
    b2 = _batch([2, 4], [False, False], horizon=4)
    data.add(b2)
    assert len(data) == 23
    # one episode end per row: the last valid step (termination or end of the row's data)
    assert data.ep_end.tolist() == [False] * 7 + [True] + [False, False, True] + [False] * 4 + [True] + [True] + \
        [False, True] + [False] * 3 + [True]
    for k in (1, 2, 3):
        n_starts = sum(max(n - k + 1, 0) for n in (8, 3, 5, 1, 2, 4))  # windows that fit inside each episode
        assert len(data._valid_starts(k)) == n_starts
        obs_seq, act_seq = data.sample(500, k, torch.Generator().manual_seed(k))
        assert obs_seq.shape == (500, k + 1, 2) and act_seq.shape == (500, k, 1)
        # obs encode (episode, t): one episode throughout, consecutive steps
        assert (obs_seq[:, :, 0] == obs_seq[:, :1, 0]).all()
        assert (obs_seq[:, 1:, 1] - obs_seq[:, :-1, 1] == 1).all()
    with pytest.raises(ValueError, match="no episode"):
        data.sample(4, 9)


def test_dynamics_dataset_is_a_fifo_of_its_capacity():
    data = Dataset(2, 1, capacity=10)
    data.add(_batch([8, 3], [False, True], horizon=8))  # 11 transitions: the oldest one leaves
    assert len(data) == 10 and data.obs[0].tolist() == [0.0, 1.0] and data.ep_end.sum() == 2
    new_obs, _ = data.add(_batch([4], [False], horizon=4))
    assert len(new_obs) == 4 and len(data) == 10  # add returns all new transitions (for the normalisers)
    assert data.obs[:, 0].tolist() == [0.0] * 3 + [1.0] * 3 + [0.0] * 4  # the newest 10, in arrival order
    obs_seq, _ = data.sample(200, 2, torch.Generator().manual_seed(0))
    assert (obs_seq[:, 1:, 1] - obs_seq[:, :-1, 1] == 1).all()  # windows still inside one episode


def test_dynamics_normalizer_equals_numpy_over_merged_batches():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3.0, 2.0, (n, 5)) * np.arange(1, 6) for n in (1, 7, 300, 0, 64, 2)]  # (n, 5) each
    norm = Normalizer(5)
    for x in parts:
        norm.update(x if len(x) % 2 else torch.as_tensor(x))  # numpy and torch batches alike
    allx = np.concatenate(parts)  # (374, 5)
    np.testing.assert_allclose(norm.mean.numpy(), allx.mean(0), rtol=1e-6)
    np.testing.assert_allclose(norm.std.numpy(), allx.std(0), rtol=1e-6)
    assert norm.count.item() == len(allx)
    y = norm(torch.as_tensor(allx, dtype=torch.float32))  # (374, 5)
    np.testing.assert_allclose(y.mean(0).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(norm.inverse(y).numpy(), allx, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["ant-vel", "cheetah-vel-full", "ant-vel2d"])
def test_dynamics_virtual_env_scores_with_task_functions(family):
    fam = tasks.get_family(family)
    s0 = torch.as_tensor(tasks.initial_states(fam, 30, seed=0), dtype=torch.float32)  # (30, obs_dim)
    model = _random_model(fam, s0, out_scale=0.1)  # moves, terminates, never clipped
    goals = tasks.sample_goals(fam, 6, np.random.default_rng(0))  # (6, goal_dim): one goal per env
    policy = GaussianPolicy(fam.obs_dim, fam.act_dim, obs_normalizer=model.obs_norm)
    env = VirtualEnv(model, fam, goals, s0, n_envs=6)
    batch = rollout(env, policy, 40, seed=3, generator=torch.Generator().manual_seed(1))
    g = torch.as_tensor(goals, dtype=torch.float32)[:, None].expand(6, 40, fam.goal_dim)  # (6, 40, goal_dim)
    r = fam.reward(batch["obs"].reshape(240, -1), batch["act"].reshape(240, -1), batch["next_obs"].reshape(240, -1),
                   g.reshape(240, -1)).reshape(6, 40)  # (6, 40)
    torch.testing.assert_close(batch["rew"], r)
    torch.testing.assert_close(batch["terminal"], fam.done(batch["next_obs"]).float())
    assert batch["mask"].eq(1).all()
    # VirtualEnv predicts with the folded model (DynamicsModel.folded): what the model's forward predicts
    with torch.no_grad():
        torch.testing.assert_close(batch["next_obs"], model(batch["obs"], batch["act"]), rtol=1e-5, atol=1e-5)
    # inside an episode the states chain (trpo_step reads V(s_{t+1}) off the next step's V(s_t) there); after a
    # termination the next episode starts from the real start states
    chained = batch["ep_end"][:, :-1] == 0  # (6, 39)
    torch.testing.assert_close(batch["next_obs"][:, :-1][chained], batch["obs"][:, 1:][chained])
    restarts = batch["obs"][:, 1:][~chained]  # (n_restarts, obs_dim)
    assert (restarts[:, None] == s0[None]).all(-1).any(-1).all()
    if fam.env == "ant":
        assert batch["terminal"].sum() > 0 and len(restarts) > 0  # terminations were really compared
    assert env.n_clipped == 0
    # the gymnasium-style step() (SAME_STEP autoreset) replays the rollout's fast path exactly, restarts included
    env.reset(seed=3)
    for t in range(40):
        obs, rew, term, trunc, info = env.step(batch["act"][:, t])
        s_next = torch.where(info["_final_obs"][:, None], info["final_obs"], obs) if info else obs
        torch.testing.assert_close(s_next, batch["next_obs"][:, t], rtol=0, atol=0)
        torch.testing.assert_close(rew, batch["rew"][:, t])
        assert torch.equal(term, fam.done(s_next)) and not trunc.any()
        if t + 1 < 40:
            torch.testing.assert_close(obs, batch["obs"][:, t + 1], rtol=0, atol=0)


@pytest.mark.parametrize("family", ["humanoid-vel", "cheetah-vel"])
def test_dynamics_folded_model_equals_forward(family):
    fam = tasks.get_family(family)
    s0 = torch.as_tensor(tasks.initial_states(fam, 64, seed=0), dtype=torch.float32)  # (64, obs_dim)
    model = _random_model(fam, s0, out_scale=0.3)
    with torch.no_grad():
        model.diff_norm.mean.normal_()  # a drift μ_Δ and a scale σ_Δ that both matter
        model.diff_norm.std.uniform_(0.5, 2.0)
    low, high = torch.as_tensor(fam.act_low).float(), torch.as_tensor(fam.act_high).float()  # the humanoid's ±0.4
    a = low + (high - low) * torch.rand(64, fam.act_dim)  # (64, act_dim) inside the box
    with torch.no_grad():
        folded = model.folded_forward(model.folded(), s0, a)  # (64, obs_dim)
        torch.testing.assert_close(folded, model(s0, a), rtol=1e-5, atol=1e-5)
        assert (folded - s0).abs().max() > 0.1  # the prediction moved: the comparison is not s0 against s0


@pytest.mark.parametrize("family", ["ant-vel", "humanoid-vel"])
def test_dynamics_virtual_batch_of_a_falling_policy_holds_every_asked_step(family):
    fam = tasks.get_family(family)
    s0 = torch.as_tensor(tasks.initial_states(fam, 50, seed=0), dtype=torch.float32)  # (50, obs_dim)
    model = _random_model(fam, s0, out_scale=1e-5)
    with torch.no_grad():
        model.diff_norm.mean[fam.z_index] = -0.1  # the torso sinks 0.1 per step: every episode falls within ~5
    env = VirtualEnv(model, fam, fam.goal_high, s0, n_envs=4)
    batch = rollout(env, GaussianPolicy(fam.obs_dim, fam.act_dim, obs_normalizer=model.obs_norm), fam.horizon, seed=0)
    assert batch["mask"].shape == (4, fam.horizon) and batch["mask"].eq(1).all()  # n_trpo = 4·H valid steps
    assert batch["terminal"].sum() >= 4 * fam.horizon / 10  # the body fell again and again
    assert 0 < episode_returns(batch).abs().max() < float("inf")


def test_dynamics_virtual_env_clips_and_counts_a_diverging_model():
    fam = tasks.get_family("cheetah-vel")
    s0 = torch.as_tensor(tasks.initial_states(fam, 30, seed=0), dtype=torch.float32)  # (30, obs_dim)
    model = _random_model(fam, s0, out_scale=1e6)  # predictions far outside any real state
    env = VirtualEnv(model, fam, [1.0], s0, n_envs=5, generator=torch.Generator().manual_seed(0))
    s, _ = env.reset()
    lo, hi = model.obs_norm.mean - 100 * model.obs_norm.std, model.obs_norm.mean + 100 * model.obs_norm.std
    expected = 0
    for t in range(5):
        a = torch.full((5, fam.act_dim), 0.5)
        with torch.no_grad():
            pred = model(s, a)  # (5, obs_dim)
        expected += int(((pred < lo) | (pred > hi) | ~torch.isfinite(pred)).any(-1).sum())
        s, r, _, _, _ = env.step(a)
        assert torch.isfinite(s).all() and torch.isfinite(r).all()
        assert ((s >= lo) & (s <= hi)).all()
    assert expected > 0 and env.n_clipped == expected
    # a NaN prediction (a broken weight) stops the run: nothing downstream may train on it
    with torch.no_grad():
        model.layers[-1].bias[3] = float("nan")
    env.reset()
    assert env.n_clipped == 0  # counted per rollout
    with pytest.raises(ModelDivergedError, match="non-finite"):
        env.step(torch.zeros(5, fam.act_dim))
    # a sane model is never clipped
    sane = VirtualEnv(_random_model(fam, s0, out_scale=1e-3), fam, [1.0], s0, n_envs=5)
    batch = rollout(sane, GaussianPolicy(fam.obs_dim, fam.act_dim), 50, seed=0)
    assert sane.n_clipped == 0 and torch.isfinite(batch["next_obs"]).all()


@pytest.mark.parametrize("out_scale,warned", [(1e6, True), (1e-5, False)])
def test_slbo_virtual_training_logs_clipped_states_and_warns_past_the_threshold(out_scale, warned):
    learner = slbo.Learner("cheetah-vel", slbo.SLBOConfig(n_trpo=400, n_model=0, n_policy=2, n_init_states=30),
                           DynamicsConfig(hidden=(64, 64)))
    s0 = learner.init_states  # (30, obs_dim)
    learner.model.update_normalizers(s0, s0 + 0.05 * torch.randn_like(s0))
    with torch.no_grad():
        learner.model.layers[-1].weight.normal_(0, out_scale)  # 1e6: predictions far outside any real state
    policy = learner.new_policy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = slbo.virtual_training(learner, policy, 1.0, n_inner=1)
    clipped = [w for w in caught if "left its box" in str(w.message)]
    predicted = 2 * 400  # n_policy rollouts of n_trpo states
    assert (stats["n_clipped"] > slbo.CLIP_WARN * predicted) == warned and len(clipped) == int(warned)
    assert warned or stats["n_clipped"] == 0


# =============================================================================================
# trpo.py
# =============================================================================================
class _TorchCountdown:
    """Torch vector env: obs = [step count], sub-env i terminates at step ends[i] (0 = never); reward = action.
    Resets itself in the step an episode ends (gymnasium's SAME_STEP autoreset, true last obs in info)."""

    single_observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    single_action_space = gym.spaces.Box(-0.5, 0.5, (1,), np.float32)

    def __init__(self, ends):
        self.ends = torch.tensor(ends)
        self.num_envs = len(ends)

    def reset(self, seed=None):
        self.t = torch.zeros(self.num_envs)
        return self.t[:, None].clone(), {}

    def step(self, a):
        self.t = self.t + 1
        term = self.t == self.ends
        info = {"final_obs": self.t[:, None].clone(), "_final_obs": term.clone()} if term.any() else {}
        self.t = torch.where(term, 0.0, self.t)
        return self.t[:, None].clone(), a[:, 0].clone(), term, torch.zeros(self.num_envs, dtype=bool), info


class _GymCountdown(gym.Env):
    """Single numpy env with the same dynamics, for gymnasium's SyncVectorEnv (SAME_STEP autoreset, as tasks.py)."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float64)
    action_space = gym.spaces.Box(-0.5, 0.5, (1,), np.float32)

    def __init__(self, end):
        self.end = end

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1), {}

    def step(self, a):
        self.t += 1
        return np.array([float(self.t)]), float(a[0]), self.t == self.end, False, {}


class _ConstNoise:
    def __init__(self, value, shape):
        self.value, self.shape, self.n_resets = value, shape, 0

    def reset(self):
        self.n_resets += 1

    def __call__(self):
        return np.full(self.shape, self.value)


def test_trpo_conjugate_gradient_solves_spd():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(8, 8, generator=g, dtype=torch.float64)
    A = M @ M.T + 8 * torch.eye(8, dtype=torch.float64)  # SPD, well conditioned
    b = torch.randn(8, generator=g, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, iters=20)
    torch.testing.assert_close(x, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_trpo_fisher_vector_product_is_kl_hessian(activation):
    torch.manual_seed(0)
    norm = Normalizer(3).double()
    norm.update(torch.randn(50, 3, dtype=torch.float64) * 2 + 1)
    policy = GaussianPolicy(3, 2, hidden=(5, 4), obs_normalizer=norm, activation=activation, slbo_init=False).double()
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.3, 0.4]))
    obs = torch.randn(10, 3, dtype=torch.float64) * 2
    with torch.no_grad():
        old = policy.dist(obs)
    names = [n for n, _ in policy.named_parameters()]
    shapes = [p.shape for p in policy.parameters()]
    theta = torch.nn.utils.parameters_to_vector(policy.parameters()).detach()

    def mean_kl(flat):
        params = dict(zip(names, [c.view(s) for c, s in zip(flat.split([s.numel() for s in shapes]), shapes)]))
        return kl_divergence(old, _dist_at(policy, params, obs)).mean()

    H = torch.autograd.functional.hessian(mean_kl, theta)  # (n_params, n_params)
    v = torch.randn_like(theta)
    kl, params = kl_divergence(old, policy.dist(obs)).mean(), list(policy.parameters())
    torch.testing.assert_close(fisher_vector_product(kl, params, 0.0)(v), H @ v, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(fisher_vector_product(kl, params, 0.1)(v), H @ v + 0.1 * v, rtol=1e-6, atol=1e-9)
    # TRPO's closed form (Gauss–Newton, activations cached) is the same matrix, damping included
    torch.testing.assert_close(policy_fisher_product(policy, obs, 0.1)(v), H @ v + 0.1 * v, rtol=1e-6, atol=1e-9)
    # and in float32 on a batch of a TRPO step's size it equals double backprop, without building a graph
    policy, obs = policy.float(), obs.float().repeat(400, 1)  # (4000, 3)
    norm.float()  # shared, not a submodule of the policy
    with torch.no_grad():
        old = policy.dist(obs)
    kl, params = kl_divergence(old, policy.dist(obs)).mean(), list(policy.parameters())
    Fv = policy_fisher_product(policy, obs, 0.1)(v.float())
    torch.testing.assert_close(Fv, fisher_vector_product(kl, params, 0.1)(v.float()), rtol=1e-5, atol=1e-6)
    assert Fv.grad_fn is None


def _dist_at(policy, params, obs):
    mean = functional_call(policy, params, (obs,))
    return torch.distributions.Independent(torch.distributions.Normal(mean, params["log_std"].exp()), 1)


def _gae_loop(rew, values, next_values, terminal, ep_end, gamma, lam):
    """GAE by a Python loop, one row at a time: δ_t bootstraps unless terminal; the λ-sum stops at an episode end."""
    n, H = len(rew), len(rew[0])
    adv = [[0.0] * H for _ in range(n)]
    for i in range(n):
        for t in reversed(range(H)):
            delta = rew[i][t] + gamma * (1 - terminal[i][t]) * next_values[i][t] - values[i][t]
            following = adv[i][t + 1] if t + 1 < H and not ep_end[i][t] else 0.0
            adv[i][t] = delta + gamma * lam * following
    return adv


def test_trpo_gae_matches_python_loop():
    g = torch.Generator().manual_seed(1)
    n, H = 5, 12
    rew, values, next_values = (torch.randn(n, H, generator=g, dtype=torch.float64) for _ in range(3))
    terminal, ep_end = torch.zeros(n, H, dtype=torch.float64), torch.zeros(n, H, dtype=torch.float64)
    terminal[1, 6], terminal[2, 0], terminal[2, 5], terminal[3, 11] = 1, 1, 1, 1  # falls, one right at the start
    ep_end[4, 3] = 1  # a time limit inside row 4: bootstrapped, but the λ-sum stops
    ep_end = torch.maximum(ep_end, terminal)
    ep_end[:, -1] = 1
    adv, ret = gae(rew, values, next_values, terminal, ep_end, 0.99, 0.95)
    adv_ref = _gae_loop(*(x.tolist() for x in (rew, values, next_values, terminal, ep_end)), 0.99, 0.95)
    torch.testing.assert_close(adv, torch.tensor(adv_ref, dtype=torch.float64))
    torch.testing.assert_close(ret, adv + values)
    # λ = 1, no terminal, full length: Â_0 + V(s_0) is the discounted return bootstrapped at the end
    r, v = rew[:1], values[:1]
    nv = torch.cat([v[:, 1:], next_values[:1, -1:]], 1)  # V(s_{t+1}) consistent along the trajectory
    end = torch.zeros(1, H, dtype=torch.float64)
    end[0, -1] = 1
    adv1, _ = gae(r, v, nv, torch.zeros(1, H, dtype=torch.float64), end, 0.9, 1.0)
    disc = sum(0.9 ** t * r[0, t] for t in range(H)) + 0.9 ** H * nv[0, -1]
    torch.testing.assert_close(adv1[0, 0] + v[0, 0], disc)


@pytest.mark.parametrize("terminated", [True, False])
def test_trpo_gae_across_an_in_row_reset_equals_the_two_episodes_apart(terminated):
    g = torch.Generator().manual_seed(2)
    H, cut = 10, 4  # the first episode ends at t = 3 (a fall, or a time limit), the second runs on from t = 4
    rew, values, next_values = (torch.randn(1, H, generator=g, dtype=torch.float64) for _ in range(3))
    terminal, ep_end = torch.zeros(1, H, dtype=torch.float64), torch.zeros(1, H, dtype=torch.float64)
    terminal[0, cut - 1], ep_end[0, cut - 1], ep_end[0, -1] = float(terminated), 1, 1
    adv, ret = gae(rew, values, next_values, terminal, ep_end, 0.99, 0.95)
    for lo, hi in ((0, cut), (cut, H)):  # each episode alone, as a row of its own
        end = torch.zeros(1, hi - lo, dtype=torch.float64)
        end[0, -1] = 1
        a, r = gae(rew[:, lo:hi], values[:, lo:hi], next_values[:, lo:hi], terminal[:, lo:hi], end, 0.99, 0.95)
        torch.testing.assert_close(adv[:, lo:hi], a)
        torch.testing.assert_close(ret[:, lo:hi], r)
    # the first episode's last step bootstraps from V(s_cut) only at a time limit, never through a fall
    delta = rew[0, cut - 1] + (0.0 if terminated else 0.99 * next_values[0, cut - 1]) - values[0, cut - 1]
    torch.testing.assert_close(adv[0, cut - 1], delta)


def test_trpo_limited_entropy_is_the_integral_and_stops_rewarding_wide_noise():
    u = np.linspace(-2, 2, 400_001)
    for mu, sigma in [(0.0, 0.3), (0.4, 1.0), (-1.5, 2.5)]:
        p = np.exp(-(u - mu) ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
        ref = np.trapezoid(-p * np.log(p), u)  # −∫_{−2}^{2} p log p
        got = limited_entropy(torch.tensor([mu], dtype=torch.float64), torch.tensor([sigma], dtype=torch.float64))
        assert abs(got.item() - ref) < 1e-6, (mu, sigma, got.item(), ref)
    # the bonus grows with σ while the noise is narrow, and shrinks once σ covers the box: d H / d σ changes sign
    sigma = torch.tensor([0.5, 3.0], requires_grad=True)
    limited_entropy(torch.zeros(2, 1), sigma[:, None]).sum().backward()
    assert sigma.grad[0] > 0 > sigma.grad[1]


def test_trpo_policy_starts_with_mean_actions_near_zero():
    torch.manual_seed(0)
    policy = GaussianPolicy(45, 17)  # the humanoid's sizes: its box is ±0.4, so mean actions of 0.3 would be most of it
    mu = policy(torch.randn(1000, 45))  # (1000, 17) on unit-scale (normalised) states
    assert mu.abs().max() < 0.05 and policy.log_std.exp().eq(1).all()
    norms = policy.mean_net[-1].weight.norm(dim=1)  # SLBO's normc: each output unit's weights have norm 0.01
    torch.testing.assert_close(norms, torch.full_like(norms, 0.01))
    assert GaussianPolicy(45, 17, slbo_init=False)(torch.randn(1000, 45)).abs().max() > 0.2  # MAML's: PyTorch's
    # the SLBO/SMTL learner's policies follow TRPOConfig.slbo_init (the quick preset turns it off)
    for slbo_init, small in ((True, True), (False, False)):
        learner = slbo.Learner("cheetah-vel", slbo.SLBOConfig(n_init_states=10), trpo=TRPOConfig(slbo_init=slbo_init))
        assert (learner.new_policy().mean_net[-1].weight.norm(dim=1) < 0.011).all() == small


def test_trpo_obs_normalizer_is_shared_not_a_parameter():
    norm = torch.nn.Linear(3, 3)  # stands in for the dynamics model's normaliser (has tensors of its own)
    policy, vf = GaussianPolicy(3, 2, obs_normalizer=norm), ValueFunction(3, obs_normalizer=norm)
    assert sum(p.numel() for p in policy.parameters()) == 3 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2 + 2
    assert not any(k.startswith("_") or "norm" in k for k in policy.state_dict())
    assert sum(p.numel() for p in vf.parameters()) == 3 * 64 + 64 + 64 * 64 + 64 + 64 + 1
    obs = torch.randn(5, 3)
    with torch.no_grad():
        plain = GaussianPolicy(3, 2)
        plain.load_state_dict(policy.state_dict())
        torch.testing.assert_close(policy(obs), plain(norm(obs)))


@pytest.mark.parametrize("backend", ["torch", "gymnasium"])
def test_trpo_rollout_resets_in_place_and_rescales_actions(backend):
    ends, horizon = [1, 3, 5, 0], 6
    if backend == "torch":
        env = _TorchCountdown(ends)
    else:
        env = gym.vector.SyncVectorEnv([lambda e=e: _GymCountdown(e) for e in ends],
                                       autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    torch.manual_seed(0)
    policy = GaussianPolicy(1, 1)
    with torch.no_grad():
        policy.log_std.fill_(np.log(3.0))  # wide: many samples beyond the policy's box [−1, 1]
    batch = rollout(env, policy, horizon, seed=0, generator=torch.Generator().manual_seed(0))
    assert batch["obs"].shape == (4, horizon, 1) and batch["act"].shape == (4, horizon, 1)
    assert set(batch) == {"obs", "act", "act_pi", "rew", "next_obs", "mask", "terminal", "ep_end"}
    assert all(v.dtype == torch.float32 and v.shape[:2] == (4, horizon) for v in batch.values())
    # every step is a sample: an env whose episode ends starts its next one in place
    assert batch["mask"].eq(1).all()
    terminal = torch.zeros(4, horizon)
    terminal[0, :], terminal[1, [2, 5]], terminal[2, 4] = 1, 1, 1
    torch.testing.assert_close(batch["terminal"], terminal)
    ep_end = terminal.clone()
    ep_end[:, -1] = 1  # the row's end ends its last episode
    torch.testing.assert_close(batch["ep_end"], ep_end)
    # obs = step count inside the episode; next_obs = that + 1, the true last state even where the env reset
    t_in_ep = torch.tensor([[0, 0, 0, 0, 0, 0], [0, 1, 2, 0, 1, 2], [0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 4, 5]]).float()
    torch.testing.assert_close(batch["obs"][..., 0], t_in_ep)
    torch.testing.assert_close(batch["next_obs"][..., 0], t_in_ep + 1)
    # the policy acts in [−1, 1]; the env gets a = 0.5·clip(u) on its box ±0.5; the reward sees env units
    act = batch["act"][..., 0]
    assert (batch["act_pi"].abs() > 1).any()  # act_pi: the unclipped sample, for TRPO's likelihood ratio
    torch.testing.assert_close(batch["act"], 0.5 * batch["act_pi"].clamp(-1, 1))
    assert (act.abs() == 0.5).any() and (act.abs() < 0.5).any()
    torch.testing.assert_close(batch["rew"], act)
    # exploration noise is added before clipping and reset once per rollout
    noise = _ConstNoise(10.0, (4, 1))
    batch = rollout(env, policy, horizon, noise=noise, seed=0)
    assert noise.n_resets == 1 and (batch["act"] == 0.5).all()
    # evaluation: one episode per row, the steps after its end masked out
    batch = rollout(env, policy, horizon, seed=0, one_episode=True)
    mask = torch.tensor([[1, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]).float()
    torch.testing.assert_close(batch["mask"], mask)
    torch.testing.assert_close(batch["terminal"], terminal * mask)
    assert batch["ep_end"].sum(1).eq(1).all()  # one episode end per row


@pytest.mark.parametrize("preset", ["paper", "quick"])  # quick: larger steps, F on every 5th state, one V pass
def test_trpo_learns_point_mass(preset):
    torch.manual_seed(0)
    env, cfg = PointMass(20), TRPOConfig(**config.PRESETS[preset].get("trpo", {}))
    policy, vf = GaussianPolicy(2, 2), ValueFunction(2)
    gen = torch.Generator().manual_seed(0)
    returns = []
    for it in range(20):
        old, batch = copy.deepcopy(policy), rollout(env, policy, 50, seed=it, generator=gen)
        stats = trpo_step(policy, vf, batch, cfg)
        returns.append(stats["ep_return"])
        assert set(stats) == {"kl", "surr_improve", "entropy", "vf_loss", "ls_accepted", "ep_return"}
        # the KL it reports is the one between the policies before and after the update, measured here anew
        s = batch["obs"].reshape(-1, 2)  # (n_envs·H, 2): every step is valid (no termination)
        with torch.no_grad():
            kl = kl_divergence(old.dist(s), policy.dist(s)).mean().item()
        assert kl == pytest.approx(stats["kl"], rel=1e-4, abs=1e-7) and (kl > 0) == stats["ls_accepted"]
        if it == 0:
            adam = vf.optimizer
    assert vf.optimizer is adam  # the value function's Adam persists across calls
    final_return = episode_returns(rollout(env, policy, 50, seed=1000, generator=gen)).mean().item()
    assert returns[0] < -50  # random policy wanders around
    assert final_return > -25, (returns, final_return)


# =============================================================================================
# slbo.py
# =============================================================================================
def _spy_on_adds(learner):
    batches, add = [], learner.data.add

    def spy(batch):
        batches.append(batch)
        return add(batch)

    learner.data.add = spy
    return batches


def test_slbo_collect_counts_exactly_the_real_samples():
    # the humanoid falls within tens of steps: each row restarts its episodes in place and still yields 200 samples
    learner = slbo.Learner("humanoid-vel", slbo.SLBOConfig(n_init_states=10), DynamicsConfig(hidden=(32, 32)), seed=0)
    policy = learner.new_policy()
    batches = _spy_on_adds(learner)
    _, taken = slbo.collect(learner, policy, 1.0, 400)  # 2 rows of 200 steps
    assert taken == 400 and len(learner.data) == 400 and learner.samples == 400
    _, taken = slbo.collect(learner, policy, 1.5, 400)
    assert taken == 400 and len(learner.data) == 800 and learner.samples == 800
    assert len(batches) == 2 and all(b["mask"].all() for b in batches)
    assert all(b["terminal"].sum() >= 4 for b in batches)  # falls happened, and their steps were all counted
    with pytest.raises(ValueError, match="multiple of the horizon 200"):  # 300 samples cannot be rows of 200
        slbo.collect(learner, policy, 1.0, 300)
    # the normalisers saw exactly D
    norm = learner.model.obs_norm
    assert norm.count.item() == 800 == learner.model.diff_norm.count.item()
    torch.testing.assert_close(norm.mean, learner.data.obs.mean(0), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(learner.model.diff_norm.mean, (learner.data.next_obs - learner.data.obs).mean(0),
                               rtol=1e-4, atol=1e-4)
    # exploration: OU noise makes stored actions differ from the policy's own samples, inside the bounds
    act, act_pi = batches[0]["act"], batches[0]["act_pi"]
    assert act.abs().max() <= 1 and not torch.allclose(act, act_pi.clamp(-1, 1))


@pytest.mark.parametrize("family", ["ant-vel", "humanoid-vel"])
def test_slbo_stage_on_a_falling_body_spends_exactly_n_collect(family):
    learner = slbo.Learner(family, slbo.SLBOConfig(n_init_states=10), seed=0)
    fam = learner.family
    batches = _spy_on_adds(learner)
    _, taken = slbo.collect(learner, learner.new_policy(), fam.goal_high, 1000)
    (b,) = batches
    term, end = b["terminal"] > 0, b["ep_end"] > 0  # (5, 200) each
    assert term.sum() > 0  # the body did fall: the case under test
    assert taken == 1000 == int(b["mask"].sum()) == len(learner.data) == learner.samples  # exactly n_collect
    # a fall ends an episode; its next_obs is the true fallen state, and the row goes on from a reset state
    assert fam.done(b["next_obs"][term]).all() and not fam.done(b["next_obs"][~term]).any()
    t_after = term[:, :-1]  # (5, 199)  steps right after a fall
    z0, (lo, hi) = b["obs"][:, 1:][t_after][:, fam.z_index], fam.healthy_z
    assert ((z0 > lo) & (z0 < hi)).all()
    assert not torch.allclose(b["obs"][:, 1:][t_after], b["next_obs"][:, :-1][t_after])
    # D marks every episode end (falls and row ends), and no model window runs past a fall
    assert learner.data.ep_end.sum().item() == int(end.sum()) == int((term[:, :-1]).sum()) + 5
    obs_seq, _ = learner.data.sample(2000, 2, torch.Generator().manual_seed(0))
    assert not fam.done(obs_seq[:, 1]).any()  # a fallen state is only ever a window's last state


@slow
def test_slbo_reduces_cheetah_velocity_error():
    # SLBO at the quick preset, as lab/bench.py measures it: the paper's 4000 real and 4000 virtual samples per
    # batch, 5 × (250 model + 20 TRPO) updates per stage instead of 20 × (100 + 40), a smaller model, larger steps
    quick = config.PRESETS["quick"]
    cfg = slbo.SLBOConfig(n_init_states=200, **quick["slbo"])
    dyn, trpo_cfg = DynamicsConfig(**quick["dyn"]), TRPOConfig(**quick["trpo"])
    learner = slbo.Learner("cheetah-vel", cfg, dyn, trpo_cfg, seed=0)
    policy = learner.new_policy()
    start = slbo.evaluate("cheetah-vel", policy, [[1.0]])["vel_err"][0]
    log = slbo.slbo(learner, policy, goal=1.0, n_slbo=3, n_inner=5, progress=False)
    assert [row["samples"] for row in log] == [4000, 8000, 12000]
    errs = [row["vel_err"] for row in log]
    assert start > 0.9  # the fresh policy barely moves: |v − g| ≈ g = 1 m/s
    assert errs[-1] < 0.5, (start, errs)  # seed 0 reached about 0.13 m/s (torch 2.13, CPU)
    assert log[-1]["model_loss"] < log[0]["model_loss"]


# =============================================================================================
# smtl.py
# =============================================================================================
def _tiny_smtl(**kw):
    """A config small enough for seconds: 400 real samples per task (2 episodes), tiny virtual training."""
    cfg = smtl.SMTLConfig(**{"n_tasks": 3, "n_warmup": 2, "n_inner_adapt": 1, "n_eval_episodes": 1, **kw})
    return dict(cfg=cfg, slbo_cfg=slbo.SLBOConfig(n_collect=400, n_trpo=400, n_model=10, n_policy=2, n_init_states=50),
                dyn=DynamicsConfig(hidden=(64, 64)), progress=False)


def _same_state(a, b):
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


def test_smtl_warm_up_only_after_first_task_and_samples_counted(monkeypatch):
    calls = []
    real_vt = smtl.virtual_training
    monkeypatch.setattr(smtl, "virtual_training", lambda learner, policy, goal, n_inner, **kw: (
        calls.append(len(learner.data)), real_vt(learner, policy, goal, n_inner, **kw))[1])
    out = smtl.train("cheetah-vel", seed=0, **_tiny_smtl())
    log, learner = out["log"], out["learner"]
    assert [row["warmup_return"] is None for row in log] == [True, False, False]  # skipped for the first task only
    assert calls == [400, 400, 800, 800]  # n_warmup = 2 rounds for tasks 2 and 3, never with an empty D
    # D grows by exactly the counted real samples: n_collect per task
    assert [row["samples"] for row in log] == [400, 800, 1200]
    assert len(learner.data) == learner.samples == out["samples"] == 1200
    assert learner.model.obs_norm.count.item() == 1200
    # task k's goal is the k-th draw of the run's own stream of tasks ψ ~ p(ψ)
    assert [row["goal"] for row in log] == tasks.sample_goals("cheetah-vel", 3, np.random.default_rng(0)).tolist()


def test_smtl_resume_equals_uninterrupted_run(tmp_path, monkeypatch):
    states = []  # checkpoints kept in memory, one per task
    full = smtl.train("cheetah-vel", seed=1, save=states.append, **_tiny_smtl())
    # from the checkpoint after task 2, kept in memory while task 3 trained: the same run; also when the checkpoint
    # predates a setting (made before carry_value existed: it counts as its default, which did what the code did)
    older = copy.deepcopy(states[1])
    del older["config"]["smtl"]["carry_value"], older["config"]["trpo"]["policy_activation"]
    again = smtl.train("cheetah-vel", seed=1, resume=older, **_tiny_smtl())
    assert [len(state["log"]) for state in states] == [1, 2, 3]  # each as it was after its task
    assert _strip(again["log"]) == _strip(full["log"])
    assert _same_state(full["learner"].model.state_dict(), again["learner"].model.state_dict())
    real_collect, n = smtl.collect, [0]

    def interrupted(*args, **kw):
        n[0] += 1
        if n[0] == 3:  # Ctrl-C in the middle of the third task
            raise KeyboardInterrupt
        return real_collect(*args, **kw)

    monkeypatch.setattr(smtl, "collect", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _train_smtl("cheetah-vel", str(tmp_path / "cut.pt"), seed=1, **_tiny_smtl())
    assert len(store.load_checkpoint(str(tmp_path / "cut.pt"), smtl.CHECKPOINT_FORMAT)["log"]) == 2  # tasks kept
    monkeypatch.setattr(smtl, "collect", real_collect)
    resumed = _train_smtl("cheetah-vel", str(tmp_path / "cut.pt"), seed=1, **_tiny_smtl())
    strip = [{k: v for k, v in row.items() if k != "wall_s"} for row in full["log"]]
    assert [{k: v for k, v in row.items() if k != "wall_s"} for row in resumed["log"]] == strip
    assert _same_state(full["learner"].model.state_dict(), resumed["learner"].model.state_dict())
    assert _same_state(full["learner"].data.state_dict(), resumed["learner"].data.state_dict())
    # a checkpoint with other settings or of another family is refused in one line
    with pytest.raises(ValueError, match="n_warmup"):
        _train_smtl("cheetah-vel", str(tmp_path / "cut.pt"), seed=1, **_tiny_smtl(n_warmup=5))
    with pytest.raises(ValueError, match="is for 'cheetah-vel'"):
        _train_smtl("cheetah-vel-full", str(tmp_path / "cut.pt"), seed=1, **_tiny_smtl())


def test_smtl_adapt_warm_up_then_stages_leaves_checkpoint_alone(monkeypatch):
    trained = smtl.train("cheetah-vel", seed=0, **_tiny_smtl(n_tasks=2, n_warmup=3, n_inner_adapt=2))["checkpoint"]
    before = copy.deepcopy(trained)
    rounds = []  # n_inner of every VirtualTraining call
    real_vt = smtl.virtual_training
    monkeypatch.setattr(smtl, "virtual_training", lambda learner, policy, goal, n_inner, **kw: (
        rounds.append(n_inner), real_vt(learner, policy, goal, n_inner, **kw))[1])
    goal = tasks.sample_goals("cheetah-vel", 1, np.random.default_rng(5))[0]
    curve, policy = smtl.adapt(trained, goal, n_stages=2, n_samples=400, seed=3, n_eval_episodes=1)
    # Eq. (6): n_warmup = 3 rounds of one, then n_inner_adapt = 2 rounds after each of the 2 real collections
    assert rounds == [1, 1, 1, 2, 2]
    assert [p["samples"] for p in curve] == [0, 400, 800]  # the warm-up point costs no real samples
    real = slbo.evaluate("cheetah-vel", policy, [goal], seed=3)
    assert curve[-1]["return"] == pytest.approx(float(real["return"][0]))
    assert smtl.adapt(trained, goal, n_stages=2, n_samples=400, seed=3, n_eval_episodes=1)[0] == curve  # same seed
    assert all(torch.equal(before["model"][k], trained["model"][k]) for k in before["model"])  # φ untouched
    assert all(torch.equal(before["data"][k], trained["data"][k]) for k in before["data"])  # D untouched
    neg, _ = smtl.adapt(trained, -goal, n_stages=0, n_samples=400, shift="pos2neg")  # positive -> negative (Fig. 2a)
    assert len(neg) == 1 and neg[0]["samples"] == 0
    with pytest.raises(ValueError, match="outside"):
        smtl.adapt(trained, -goal, n_stages=0, n_samples=400)


def test_smtl_skip_rule_on_synthetic_ratings():
    ratings = [1.0, 2.0, 3.0, 4.0, 5.0]
    # fewer than L tasks seen: never skip
    assert not smtl.skip_task(-100.0, ratings[:4], q=0.5, L=5)
    # quantile_0.5 of the last 5 ratings is 3.0: skip below it, keep at or above it
    assert smtl.skip_task(2.9, ratings, q=0.5, L=5) and not smtl.skip_task(3.0, ratings, q=0.5, L=5)
    # only the last L ratings count: with [10, 1, 2, 3, 4, 5] and L = 5 the median is still 3
    assert smtl.skip_task(2.9, [10.0] + ratings, q=0.5, L=5)
    assert not smtl.skip_task(1.0, ratings, q=0.0, L=5) and smtl.skip_task(0.9, ratings, q=0.0, L=5)
    # the default rule is the SMTL authors': below the median of the previous 10 ratings, so the 11th rated candidate
    # is the first that can be skipped (the first task has no warm-up and no rating)
    cfg = smtl.SMTLConfig()
    assert smtl.skip_task(4.4, list(range(10)), cfg.active_q, cfg.active_L)  # median of 0..9 is 4.5
    assert not smtl.skip_task(4.5, list(range(10)), cfg.active_q, cfg.active_L)
    assert not smtl.skip_task(-100.0, list(range(9)), cfg.active_q, cfg.active_L)  # too few ratings yet
    with pytest.raises(ValueError, match="snapshots"):  # one model cannot disagree with itself
        smtl.train("cheetah-vel", smtl.SMTLConfig(active="estimated", n_snapshots=1), progress=False)
    with pytest.raises(ValueError, match="unknown active"):
        smtl.train("cheetah-vel", smtl.SMTLConfig(active="sometimes"), progress=False)


def test_smtl_estimated_rating_is_the_mean_pairwise_disagreement_of_snapshots(monkeypatch):
    learner = slbo.Learner("cheetah-vel", slbo.SLBOConfig(n_collect=400, n_trpo=400, n_init_states=10),
                           DynamicsConfig(hidden=(8, 8)))
    etas = [1.0, 4.0, 10.0]  # η of θ in each snapshot, told apart by a marker in the output bias
    snapshots = []
    for k in range(3):
        snap = {n: v.clone() for n, v in learner.model.state_dict().items()}
        snap["layers.2.bias"][0] = k
        snapshots.append(snap)
    seen = []
    monkeypatch.setattr(smtl, "model_return", lambda learner, model, policy, goal, seed: (
        seen.append(seed), etas[int(model.layers[-1].bias[0])])[1])
    mu, spent = smtl.rating(learner, learner.new_policy(), [1.0], snapshots, smtl.SMTLConfig(active="estimated"),
                            np.random.default_rng(0))
    assert mu == pytest.approx((3 + 9 + 6) / 3) and spent == 0  # mean of |1 − 4|, |1 − 10|, |4 − 10|
    assert len(set(seen)) == 1  # every snapshot is scored from the same start states


@pytest.mark.parametrize("drift,sign", [(0.01, 1), (-0.01, -1)])
def test_smtl_true_rating_is_positive_for_a_model_that_over_predicts(drift, sign):
    # a model whose every step adds `drift` m/s to v_x (Δ̄, f_φ = 0), for θ that stands still (mean action 0) on the
    # goal 1 m/s: +0.01 runs towards the goal in the model (η^M̂ ≈ −100) while the real body stands (η^M* ≈ −200), so
    # μ = η^M̂ − η^M* > 0; −0.01 runs away from it (η^M̂ ≈ −400), so μ < 0
    learner = slbo.Learner("cheetah-vel", slbo.SLBOConfig(n_collect=400, n_trpo=400, n_init_states=10),
                           DynamicsConfig(hidden=(8, 8)))
    with torch.no_grad():
        for p in learner.model.layers[-1].parameters():
            p.zero_()
        learner.model.diff_norm.mean[learner.family.vel_index[0]] = drift
    policy = learner.new_policy()
    with torch.no_grad():
        for p in policy.mean_net[-1].parameters():
            p.zero_()
    mu, spent = smtl.rating(learner, policy, np.array([1.0]), [], smtl.SMTLConfig(active="true", n_rate_episodes=1),
                            np.random.default_rng(0))
    assert sign * mu > 50 and spent == 200 == learner.samples and len(learner.data) == 0  # counted, not added to D


@pytest.mark.parametrize("active", ["true", "estimated"])
def test_smtl_active_selection_ratings_and_sample_count(active):
    out = smtl.train("cheetah-vel", seed=0, **_tiny_smtl(n_tasks=4, active=active, active_L=1, active_q=0.5,
                                                         n_snapshots=2, n_rate_episodes=1))
    log, learner = out["log"], out["learner"]
    rated = [row for row in log if row["rating"] is not None]
    assert len(rated) == len(log) - 1 and all(np.isfinite(row["rating"]) for row in rated)
    assert sum(not row["skipped"] for row in log) == 4
    collected = 400 * 4
    spent = sum(row.get("rating_samples", 0) for row in log)
    if active == "estimated":
        assert spent == 0  # no real samples: model disagreement
    else:
        assert spent == 200 * len(rated)  # one real episode of the warm-up policy per rated task
    assert learner.samples == collected + spent and len(learner.data) == collected  # rating episodes stay out of D
    for prev, row in zip(rated, rated[1:]):  # L = 1, q = 0.5: skip exactly when below the previous rating
        assert row["skipped"] == (row["rating"] < prev["rating"])


def test_smtl_levers_value_per_task_and_policy_activation():
    """carry_value=False gives each task a fresh V (its Adam has counted one task's steps, not all tasks'); a relu
    policy is built with relu. Fails if the switch is ignored or the activation not passed on."""
    carried = smtl.train("cheetah-vel", seed=0, **_tiny_smtl(n_tasks=3))["checkpoint"]
    fresh = smtl.train("cheetah-vel", seed=0, **_tiny_smtl(n_tasks=3, carry_value=False))["checkpoint"]
    steps = lambda ck: int(ck["value_opt"]["state"][0]["step"])  # noqa: E731  Adam steps V has taken
    assert 0 < steps(fresh) < steps(carried)
    assert carried["log"][0] == {**fresh["log"][0], "wall_s": carried["log"][0]["wall_s"]}  # task 1 is the same
    learner = slbo.Learner("cheetah-vel", trpo=TRPOConfig(policy_activation="relu"))
    assert learner.new_policy().activation == "relu"
    with pytest.raises(ValueError, match="--trpo-policy-activation must be one of tanh, relu"):
        config.check("trpo", TRPOConfig(policy_activation="sigmoid"))


def test_probe_levers_pair_each_seed_with_its_control_and_apply_the_policy_overrides(tmp_path, monkeypatch):
    """The lever tables of lab.levers: a lever's difference is lever − control over the same (seed, goal), seeds with
    only one side on disk are left out, and the control is no row of its own; a warm-up lever's policy is built with
    its overrides, and with a fresh V where training gave each task one (as adaptation does); warm-up levers from a
    training lever's checkpoints pair with that lever's own control. Fails if the pairing mixes seeds or bases, flips
    the sign, ignores the overrides, or warms up v-per-task's policy with the last training task's V."""
    from lab import legged, levers, probes
    monkeypatch.setattr(legged, "OUT_DIR", str(tmp_path))
    monkeypatch.setattr(levers, "OUT_DIR", str(tmp_path))
    monkeypatch.setattr(probes, "RUNS_DIR", str(tmp_path / "published"))  # not the repository's published runs
    path = lambda v, s: os.path.join(str(tmp_path), f"{v}_s{s}.json")  # noqa: E731
    points = lambda errs: {"points": [{"vel_err": e, "ep_len": 10 * e, "virtual_return": 3 * e + 1, "return": e}
                                      for e in errs]}  # noqa: E731
    store.write_json(points([1.0, 2.0]), path("quick", 0))
    store.write_json(points([0.5, 1.0]), path("more", 0))  # 0.5 and 1.0 below the control
    store.write_json(points([9.0, 9.0]), path("more", 1))  # seed 1 has no control: left out
    rows = levers._paired_rows({"quick": "control", "more": "a lever"}, path)
    assert list(rows) == ["more"] and rows["more"]["seeds"] == 1
    assert rows["more"]["vel_err"][0] == pytest.approx(-0.75) and rows["more"]["ep_len"][0] == pytest.approx(-7.5)
    assert rows["more"]["vel_err_mean"] == pytest.approx(0.75)
    assert rows["more"]["virtual_minus_real_mean"] == pytest.approx(2.5)  # the lever's own (2e + 1), paired seeds only
    # warm-up levers from a training lever's checkpoints pair with that base's control, at the base's training samples
    fam = levers.LEVER_FAMILY
    for variant, samples in (("quick", 1), ("buffer-all", 2)):
        store.write_json({"samples": samples}, legged.tasks_path(variant, fam, 0, 30))
    store.write_json(points([1.0, 2.0]), levers._warmup_path("quick", fam, 0, 30, "buffer-all"))
    store.write_json(points([0.5, 1.5]), levers._warmup_path("warmup-80", fam, 0, 30, "buffer-all"))
    store.write_json(points([9.0, 9.0]), levers._warmup_path("quick", fam, 0, 30))  # the quick preset's: not paired
    row = levers._warmup_lever_rows(fam, 30, "buffer-all")["warmup-80"]
    assert row["vel_err"][0] == pytest.approx(-0.5) and row["samples"] == 2
    # another body's runs pair within that body only
    store.write_json({"samples": 3}, legged.tasks_path("quick", "humanoid-vel", 0, 30))
    store.write_json(points([0.2, 0.4]), levers._warmup_path("quick", "humanoid-vel", 0, 30))
    store.write_json(points([0.1, 0.2]), levers._warmup_path("warmup-80", "humanoid-vel", 0, 30))
    row = levers._warmup_lever_rows("humanoid-vel", 30)["warmup-80"]
    assert row["vel_err"][0] == pytest.approx(-0.15) and row["samples"] == 3
    assert "warmup-80" not in levers._warmup_lever_rows(fam, 30)  # the ant's quick warm-up has no lever beside it
    store.write_json({**points([0.2, 0.4]), "samples": 3}, legged.tasks_path("quick", "humanoid-vel", 1, 30))
    store.write_json({**points([0.3, 0.3]), "samples": 6}, legged.tasks_path("stages-2", "humanoid-vel", 1, 30))
    row = levers._lever_rows("humanoid-vel", 30)["stages-2"]  # a training lever, paired on the humanoid's seed 1
    assert row["seeds"] == 1 and row["vel_err"][0] == pytest.approx(0.0) and row["samples"] == 6
    # a fresh V with each task; its V is the second task's (a first task's V could equal a fresh draw from its seed)
    fresh = smtl.train("cheetah-vel", seed=0, **_tiny_smtl(n_tasks=2, carry_value=False))["checkpoint"]
    built = []
    monkeypatch.setattr(smtl, "warm_up", lambda learner, policy, goal, n: built.append((policy, n, learner.init_states,
                                                                                       learner.value_fn)))
    measured = []
    monkeypatch.setattr(legged, "diagnose_policy", lambda *a: {})
    monkeypatch.setattr(legged, "_measure_policy", lambda learner, *a: measured.append(learner.init_states) or {})
    ckpt = smtl.train("cheetah-vel", seed=0, **_tiny_smtl(n_tasks=1))["checkpoint"]
    legged.warm_up_points(ckpt, np.array([[0.5]]), 0, 3, {"policy_hidden": (16,), "policy_activation": "relu"})
    (policy, n, pool, _), = built
    assert n == 3 and policy.activation == "relu" and policy.mean_net[0].out_features == 16
    # the start-state levers: the warm-up starts from D's states or a fresh pool; the measurement from the checkpoint's
    data = smtl.restore(ckpt).data.obs
    for starts, size in [("data", len(data)), (7, 7)]:
        legged.warm_up_points(ckpt, np.array([[0.5]]), 0, 3, starts=starts)
        warmed, kept = built[-1][2], measured[-1]
        assert len(warmed) == size and torch.equal(kept, pool)
    assert torch.equal(built[-2][2], data)
    # V as at adaptation (smtl.adapt): the checkpoint's where it is carried, else a fresh one
    for ck, carried in ((ckpt, True), (fresh, False)):
        legged.warm_up_points(ck, np.array([[0.5]]), 0, 3)
        assert _same_state(built[-1][3].state_dict(), ck["value_fn"]) == carried


def test_probe_summaries_keep_what_they_published_when_its_runs_are_gone(tmp_path, monkeypatch, capsys):
    """The levers' and legged probes' summaries on a clone without bench_out: a finished run is published beside the
    summary and read back from there; a published row or point whose runs are gone altogether stays as it was, and
    one measured on seeds that the runs on disk lack is not replaced by fewer seeds. Fails if a summary drops or
    shrinks what it published before (a lever's row, SMTL's point, single-task SLBO's curves)."""
    from lab import legged, levers, probes
    out_dir, docs = tmp_path / "out", tmp_path / "docs"
    for module, name, value in ((legged, "OUT_DIR", out_dir), (levers, "OUT_DIR", out_dir), (legged, "DOCS_DIR", docs),
                                (levers, "DOCS_DIR", docs), (probes, "RUNS_DIR", docs / "runs")):
        monkeypatch.setattr(module, name, str(value))
    monkeypatch.setattr(levers, "_plot", lambda out: None)  # the figures are not what this test reads
    monkeypatch.setattr(legged, "_plot_legged", lambda out: None)
    fam = levers.LEVER_FAMILY
    point = lambda e: {"vel_err": e, "ep_len": 100 * e, "virtual_return": 1.0, "return": 0.0}  # noqa: E731
    run = lambda errs, seed: {"seed": seed, "samples": 80_000, "goals": [[1.0], [2.0]], "train_wall_s": 60.0,  # noqa
                              "data": {"falls": 0.1}, "points": [point(e) for e in errs]}
    for seed in levers.LEVER_SEEDS:
        store.write_json(run([1.0, 2.0], seed), legged.tasks_path("quick", fam, seed, 10))
        store.write_json(run([0.5, 1.0], seed), legged.tasks_path("stages-2", fam, seed, 10))
    store.write_json({"curve": [{"samples": 8000, "vel_err": 1.0, "ep_len": 50}]},
                     os.path.join(out_dir, f"slbo_curve_{fam}_g0_s0.json"))
    row = lambda: store.read_json(docs / "levers.json")["levers"][0]["rows"]["stages-2"]  # noqa: E731
    smtl_point = lambda: store.read_json(docs / "legged.json")["smtl"][fam]["10"]  # noqa: E731
    summaries = lambda: (levers.summary(), legged.summary())  # noqa: E731
    summaries()
    first, first_point = row(), smtl_point()
    assert first["seeds"] == 2 and first["vel_err"][0] == pytest.approx(-0.75) and first_point["seeds"] == [0, 1]
    assert os.path.exists(docs / "runs" / os.path.basename(legged.tasks_path("stages-2", fam, 1, 10)))
    for f in out_dir.iterdir():  # a fresh clone: only the published runs
        f.unlink()
    summaries()
    assert row() == first and smtl_point() == first_point
    for f in (docs / "runs").iterdir():  # the runs are gone altogether: the summaries keep what they published
        f.unlink()
    store.write_json(run([9.0, 9.0], 2), legged.tasks_path("quick", fam, 2, 10))  # a new seed alone does not replace
    summaries()
    assert row() == first and smtl_point() == first_point
    assert "SMTL at 10 tasks on ant-vel stays as published" in capsys.readouterr().out
    assert store.read_json(docs / "legged.json")["slbo"][fam]["runs"]["0"]["0"][0]["vel_err"] == 1.0
    published = {"seeds": [0, 1]}  # keep_published on seed lists and on seed counts
    assert probes.keep_published({"k": {"seeds": [0, 1, 2]}}, {"k": published}, "k", "") == {"seeds": [0, 1, 2]}
    assert probes.keep_published({}, {"k": published}, "k", "") is published
    assert probes.keep_published({"k": {"seeds": 2}}, {"k": {"seeds": 2}}, "k", "") == {"seeds": 2}
    assert probes.keep_published({"k": {"seeds": 1}}, {"k": {"seeds": 2}}, "k", "") == {"seeds": 2}


def test_probe_pool_runs_calls_of_any_length_in_order():
    """cluster.run_all: each run's arguments reach fn whole, in the order given, whatever their number. Fails if the
    runs are zipped into columns (the legged probes' SLBO runs carry one argument more than its SMTL runs, and zip cut
    them short)."""
    assert cluster.run_all(max, [(1, 2), (3, 4, 5), (0, 1)], 1, "test") == [2, 5, 1]  # zipped: [2, 4, 1]
    assert cluster.run_all(max, [(1, 2), (3, 4, 5), (0, 1)], 2, "test") == [2, 5, 1]  # in worker processes


def test_cluster_parallel_runs_the_jobs_a_finished_job_brings():
    """cluster.parallel: the jobs that on_done returns run too, here and in workers (how a seed's adaptations start
    once its trainings are done). Fails if they are dropped, or run in place of the jobs still queued."""
    # here; in workers; one job that brings two more, in workers when n_total says they will come
    for workers, todo, n_total in ((1, [(0, 0), (10, 10)], None), (2, [(0, 0), (10, 10)], None), (2, [(0, 0)], 3)):
        finished = []

        def done(job, result):  # max(x, x) = x; 0 brings 1, 1 brings 2; 10 brings nothing
            finished.append(result)
            return [(result + 1, result + 1)] if result < 2 else None
        cluster.parallel(max, todo, workers, done, n_total=n_total)
        assert sorted(finished) == [0, 1, 2] + [10] * (len(todo) - 1)
        assert finished.index(0) < finished.index(1) < finished.index(2)


def test_experiment_starts_a_seeds_adaptations_once_its_trainings_are_done(tmp_path, monkeypatch):
    """experiment.train(then_adapt): when a seed's last training finishes, exactly its adaptations not yet on disk
    join the workers, once; nothing before. Fails if a seed's adaptations start after its first training, twice, or
    repeat a goal already adapted."""
    from lab import experiment
    argv = ["--preset", "smoke", "--algos", "smtl,maml", "--seeds", "0,1", "--root", str(tmp_path), "--workers", "2"]
    args = run.check_args(run._parser().parse_args(argv))
    store.write_json({}, jobs.goal_file(args, "smtl", 1, 0))  # seed 1's first SMTL goal is adapted already
    n, brought = args.n_goals, []

    def workers(fn, todo, n_workers, done, tick=None, n_total=None):  # the trainings finish in this order:
        assert n_total == len(todo) + 2 * 2 * n - 1  # the pool is sized for the adaptations to come
        for job in (todo[0], todo[2], todo[1], todo[3]):  # SMTL s0, SMTL s1, MAML s0, MAML s1
            brought.append([j[2:] for j in done(job, {"samples": 0})])
        assert done((jobs.adapt_to_file, args, "maml", 1, 0), {"curve": [{"return": 0}]}) is None  # its bar moves

    monkeypatch.setattr(cluster, "parallel", workers)
    experiment.train(args, then_adapt=True)
    assert brought == [[], [], [(a, 0, i) for a in ("smtl", "maml") for i in range(n)],
                       [(a, 1, i) for a in ("smtl", "maml") for i in range(n) if (a, i) != ("smtl", 0)]]
    # a rerun where train.json records seed 0's trainings (their checkpoints on disk) and seed 1's SMTL: only seed 1's
    # MAML trains, in a worker, and seed 0's adaptations run beside it from the start (not after it, one core idle)
    for algo, seed in (("smtl", 0), ("maml", 0), ("smtl", 1)):
        path = jobs.model_path(args, algo, seed)
        store.write_json({}, path)
        records = store.read_json(os.path.join(args.out, f"s{seed}", "train.json"))
        store.write_json({**records, algo: {**records[algo], "checkpoint": path}},
                         os.path.join(args.out, f"s{seed}", "train.json"))
    started = []
    monkeypatch.setattr(cluster, "parallel", lambda fn, todo, *a, **k: started.extend(j[2:4] for j in todo))
    experiment.train(args, then_adapt=True)
    assert started == [("maml", 1)] + [(a, 0) for a in ("smtl", "maml") for _ in range(n)]


def test_legged_and_lever_probe_command_lines(tmp_path, monkeypatch, capsys):
    """`python -m lab.levers`: a warm-up lever given to `levers` (or a training lever to `warmup_levers`) is a one-line
    usage error before anything runs; warm-up levers at a task count with no checkpoint (the quick preset's or a
    training lever's, --base) name the command that makes it. `python -m lab.legged bodies --tasks 30` stops SMTL at
    30 tasks, and `--kind slbo` runs only single-task SLBO's curves. Fails if a wrong name reaches a worker (a KeyError
    there), --tasks or --kind is ignored, a missing checkpoint starts a pool, or two bases share their warm-ups' files.
    """
    from lab import legged, levers
    for argv, other in ((["levers", "--lever", "warmup-160"], "warmup-160"), (["warmup_levers", "--lever", "stages-2"],
                                                                             "stages-2")):
        with pytest.raises(SystemExit) as e:
            levers.main(argv)
        assert e.value.code == 2 and f"has no lever {other}" in capsys.readouterr().err
    monkeypatch.setattr(legged, "OUT_DIR", str(tmp_path))
    submitted = []  # `bodies --tasks 30` grows SMTL to 30 tasks only, measured at 10 and 30
    monkeypatch.setattr(legged, "run_all", lambda fn, runs, *a: submitted.extend(runs))
    monkeypatch.setattr(legged, "summary", lambda: None)
    legged.main(["bodies", "--family", "humanoid-vel", "--seed", "1", "--tasks", "30"])
    assert [r for r in submitted if r[0] == "smtl"] == [("smtl", "humanoid-vel", 1, "quick", None, (10, 30))]
    assert len(submitted) == 3  # and single-task SLBO on its two goals
    submitted.clear()  # `--kind slbo`: single-task SLBO's curves alone, on both goals of each seed named
    legged.main(["bodies", "--family", "humanoid-vel", "--seed", "0", "--seed", "1", "--kind", "slbo"])
    assert sorted(submitted) == [("slbo", "humanoid-vel", g, s) for g in (0, 1) for s in (0, 1)]
    monkeypatch.setattr(levers, "run_all", lambda *a: pytest.fail("a pool started without its checkpoints"))
    with pytest.raises(FileNotFoundError, match="at 100 tasks for seed 0: python -m lab.legged bodies"):
        levers.warmup_levers(n_tasks=100)
    with pytest.raises(FileNotFoundError, match="python -m lab.levers levers --lever buffer-all --tasks 30"):
        levers.warmup_levers(base="buffer-all")  # a training lever's checkpoints: its own command
    with pytest.raises(FileNotFoundError, match="lab.legged bodies --family humanoid-vel --seed 0 --tasks 30"):
        levers.main(["warmup_levers", "--family", "humanoid-vel", "--lever", "warmup-80"])  # --family reaches it
    # each base keeps its own warm-ups: a base left out of the path would pair one lever's warm-ups with another's
    assert len({levers._warmup_path("quick", "ant-vel", 0, 30, base) for base in ("quick", *levers.LEVERS)}) == \
        1 + len(levers.LEVERS)


@pytest.mark.parametrize("active", ["estimated", "true"])
def test_smtl_rating_that_skips_nothing_is_plain_smtl_to_the_digit(active):
    """The ratings draw from their own stream and leave φ and D alone: a rated run whose window never fills (L > tasks)
    trains the very tasks, models and policies of plain SMTL, so Figure 3's differences measure selection, not noise.
    Fails if rating consumes the training's torch or numpy streams (the env seed, a fresh model's init) or if the true
    rating's real episodes join D."""
    plain = smtl.train("cheetah-vel", seed=1, **_tiny_smtl(n_tasks=3))
    active = smtl.train("cheetah-vel", seed=1, **_tiny_smtl(n_tasks=3, active=active, active_L=10, n_snapshots=2,
                                                             n_rate_episodes=1))
    assert all(row["rating"] is not None for row in active["log"][1:]) and not any(r["skipped"] for r in active["log"])
    for a, b in zip(plain["log"], active["log"]):
        assert (a["goal"], a["return"], a["warmup_return"], a["model_loss"]) == \
            (b["goal"], b["return"], b["warmup_return"], b["model_loss"])
    assert _same_state(plain["checkpoint"]["model"], active["checkpoint"]["model"])


# =============================================================================================
# maml.py
# =============================================================================================
def _random_batch(n_envs, H, obs_dim, act_dim, seed, lengths=None):
    """A rollout-layout batch of float64 random data, every step valid; in row i the first episode terminates after
    lengths[i] steps and the next one runs to the row's end (an in-row reset)."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n_envs, H, obs_dim, generator=g, dtype=torch.float64) * 4  # some |s| > 10: the clip matters
    act = torch.randn(n_envs, H, act_dim, generator=g, dtype=torch.float64)
    rew = torch.randn(n_envs, H, generator=g, dtype=torch.float64)
    mask, term = torch.ones(n_envs, H, dtype=torch.float64), torch.zeros(n_envs, H, dtype=torch.float64)
    for i, n in enumerate(lengths or []):
        term[i, n - 1] = 1
    ep_end = term.clone()
    ep_end[:, -1] = 1
    return {"obs": obs, "act": act.clamp(-1, 1), "act_pi": act, "rew": rew, "next_obs": obs, "mask": mask,
            "terminal": term, "ep_end": ep_end}


def _np_features(obs, t=None):
    """rllab's LinearFeatureBaseline features by hand: (H, obs_dim) -> (H, 2·obs_dim + 4); t the steps inside
    their episodes (default 0 … H−1)."""
    o = np.clip(obs, -10, 10)
    t = (np.arange(len(obs)) if t is None else np.asarray(t))[:, None] / 100.0
    return np.concatenate([o, o ** 2, t, t ** 2, t ** 3, np.ones_like(t)], 1)


def test_maml_linear_baseline_is_ridge_least_squares():
    n_tasks, n_rollouts, H, obs_dim, ridge = 2, 3, 6, 3, 1e-3
    b = _random_batch(n_tasks * n_rollouts, H, obs_dim, 1, seed=0, lengths=[6, 4, 6, 2, 6, 5])
    shape = (n_tasks, n_rollouts, H)
    steps = torch.arange(shape[-1], dtype=torch.float64).expand(shape)  # (n_tasks, n_rollouts, H)
    out = maml.linear_baseline(b["obs"].view(*shape, obs_dim), steps, b["rew"].view(shape), b["mask"].view(shape),
                                ridge)
    for i in range(n_tasks):
        envs = range(i * n_rollouts, (i + 1) * n_rollouts)
        Phi = np.concatenate([_np_features(b["obs"][e].numpy()) for e in envs])  # (n_rollouts·H, n_feat)
        R, m = b["rew"][list(envs)].numpy().ravel(), b["mask"][list(envs)].numpy().ravel() > 0
        # ridge regression as an augmented least-squares problem: [Φ; √ridge·I] w ≈ [R; 0], valid steps only
        A = np.concatenate([Phi[m], np.sqrt(ridge) * np.eye(Phi.shape[1])])
        w = np.linalg.lstsq(A, np.concatenate([R[m], np.zeros(Phi.shape[1])]), rcond=None)[0]
        np.testing.assert_allclose(out[i].numpy().ravel(), Phi @ w, rtol=1e-6, atol=1e-6)


def test_maml_inner_step_is_sgd_on_policy_gradient_loss():
    torch.manual_seed(0)
    n_tasks, n_rollouts, H, gamma, alpha = 2, 3, 5, 0.9, 0.1
    cfg = maml.MAMLConfig(gamma=gamma, alpha=alpha, baseline_ridge=1e-4)
    policy = GaussianPolicy(3, 2, hidden=(8, 8), activation="relu").double()
    batch = _random_batch(n_tasks * n_rollouts, H, 3, 2, seed=1, lengths=[5, 3, 5, 5, 1, 4])
    adapted = maml.inner_step(policy, maml.task_advantages(batch, n_tasks, cfg), alpha)
    for i in range(n_tasks):
        envs = list(range(i * n_rollouts, (i + 1) * n_rollouts))
        rew, mask, end = (batch[k][envs].numpy() for k in ("rew", "mask", "ep_end"))
        R = np.zeros_like(rew)  # discounted reward-to-go within each episode, by a Python loop
        t_ep = np.zeros_like(rew)  # each step's time inside its own episode
        for e in range(n_rollouts):
            for t in reversed(range(H)):
                R[e, t] = rew[e, t] + (gamma * R[e, t + 1] if t + 1 < H and not end[e, t] else 0.0)
            for t in range(1, H):
                t_ep[e, t] = 0 if end[e, t - 1] else t_ep[e, t - 1] + 1
        # (n_rollouts, H, n_feat)
        Phi = np.stack([_np_features(batch["obs"][e].numpy(), t_ep[j]) for j, e in enumerate(envs)])
        m = mask > 0
        w = np.linalg.solve(Phi[m].T @ Phi[m] + 1e-4 * np.eye(Phi.shape[-1]), Phi[m].T @ R[m])
        adv = (R - Phi @ w)[m]  # λ = 1: Â = R − b
        adv = torch.as_tensor((adv - adv.mean()) / (adv.std(ddof=1) + 1e-8))
        # one plain SGD step on the REINFORCE loss −mean log π(a|s) Â
        ref = copy.deepcopy(policy)
        opt = torch.optim.SGD(ref.parameters(), lr=alpha)
        s, a = batch["obs"][envs][torch.as_tensor(m)], batch["act_pi"][envs][torch.as_tensor(m)]
        (-(ref.dist(s).log_prob(a) * adv).mean()).backward()
        opt.step()
        for name, p in ref.named_parameters():
            torch.testing.assert_close(adapted[name][i], p, rtol=1e-9, atol=1e-10)
        assert not torch.allclose(adapted["log_std"][i], policy.log_std)  # the step did move θ


def _meta_problem(seed=0):
    """A tiny float64 meta-update problem: 2 tasks, pre- and post-adaptation batches, θ'_old and π_old."""
    torch.manual_seed(seed)
    cfg = maml.MAMLConfig(alpha=0.5, gamma=0.9)
    policy = GaussianPolicy(3, 2, hidden=(5,), activation="relu").double()
    pre = maml.task_advantages(_random_batch(4, 6, 3, 2, seed=seed + 1, lengths=[6, 4, 6, 5]), 2, cfg)
    post = maml.task_advantages(_random_batch(4, 6, 3, 2, seed=seed + 2, lengths=[6, 6, 3, 6]), 2, cfg)
    theta_post = maml.inner_step(policy, pre, cfg.alpha)
    with torch.no_grad():
        pi_old = maml.task_dist(policy, {n: p.detach() for n, p in theta_post.items()}, post["obs"])
    return policy, cfg, pre, post, pi_old


def test_maml_meta_gradient_matches_finite_differences():
    policy, cfg, pre, post, pi_old = _meta_problem()
    params = list(policy.parameters())
    theta0 = parameters_to_vector(params).detach().clone()

    def J(theta, create_graph=False):  # the post-adaptation surrogate as a function of θ (through Eq. 3)
        set_flat_params(params, theta)
        return maml.meta_objective(policy, pre, post, cfg.alpha, pi_old, create_graph)[0]

    grad = parameters_to_vector(torch.autograd.grad(J(theta0, create_graph=True), params))
    eps, fd = 1e-6, torch.zeros_like(theta0)
    with torch.no_grad():
        for k in range(len(theta0)):
            e = torch.zeros_like(theta0)
            e[k] = eps
            fd[k] = (J(theta0 + e) - J(theta0 - e)) / (2 * eps)
    torch.testing.assert_close(grad, fd, rtol=1e-5, atol=1e-7)
    # the second-order term matters here: the first-order gradient (θ' = θ − α·stop_grad(∇ℓ)) is far from it
    first_order = parameters_to_vector(torch.autograd.grad(J(theta0, create_graph=False), params))
    assert (first_order - fd).norm() > 1e-2 * fd.norm()


def test_maml_fisher_vector_product_is_hessian_of_post_adaptation_kl():
    policy, cfg, pre, post, pi_old = _meta_problem(seed=3)
    params = list(policy.parameters())
    theta0 = parameters_to_vector(params).detach().clone()

    def grad_kl(theta):
        set_flat_params(params, theta)
        kl = maml.meta_objective(policy, pre, post, cfg.alpha, pi_old, create_graph=True)[1]
        return parameters_to_vector(torch.autograd.grad(kl, params))

    set_flat_params(params, theta0)
    v = torch.randn(len(theta0), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kl = maml.meta_objective(policy, pre, post, cfg.alpha, pi_old, create_graph=True)[1]
    fvp = fisher_vector_product(kl, params, cfg.cg_damping)(v)
    eps = 1e-5
    fd = (grad_kl(theta0 + eps * v) - grad_kl(theta0 - eps * v)) / (2 * eps)  # H v by central differences of ∇KL
    torch.testing.assert_close(fvp, fd + cfg.cg_damping * v, rtol=1e-4, atol=1e-7)


def test_maml_oracle_input_includes_goal():
    torch.manual_seed(0)
    fam = tasks.get_family("cheetah-vel")
    policy = GaussianPolicy(fam.obs_dim + 1, fam.act_dim, (100, 100), activation="relu")
    obs = torch.randn(2, fam.obs_dim)
    a1 = maml.GoalConditionedPolicy(policy, [[0.5], [0.5]])(obs)
    a2 = maml.GoalConditionedPolicy(policy, [[0.5], [1.5]])(obs)
    torch.testing.assert_close(a1[0], a2[0])  # same goal, same action
    assert (a1[1] - a2[1]).abs().max() > 1e-4  # another goal, another action
    torch.testing.assert_close(a2, policy(torch.cat([obs, torch.tensor([[0.5], [1.5]])], 1)))
    ev = maml.evaluate_oracle(fam, policy, [[0.5], [1.5]])
    assert ev["return"].shape == (2,) and ev["vel_err"].shape == (2,)
    for i, g in enumerate([0.5, 1.5]):  # row i's episode is the one of the policy bound to row i's goal (same start)
        same = slbo.evaluate(fam, maml.GoalConditionedPolicy(policy, [[g], [g]]), [[g], [g]])
        assert ev["return"][i] == pytest.approx(same["return"][i], rel=1e-5)
    with pytest.raises(ValueError, match="outside"):
        maml.evaluate_oracle(fam, policy, [[0.5], [1.5]], shift="pos2neg")


def test_maml_adapt_counts_samples_and_leaves_policy_alone(toy_envs):
    trained = maml.meta_train(_TOY, maml.MAMLConfig(n_iters=1, meta_batch=2, n_rollouts=2, hidden=(16, 16)),
                              progress=False)["checkpoint"]
    before = copy.deepcopy(trained["policy"])
    curve, adapted = maml.adapt(trained, [0.3, -0.2], n_stages=2, n_samples=100, seed=1, n_eval_episodes=1)
    assert [c["stage"] for c in curve] == [0, 1, 2] and [c["samples"] for c in curve] == [0, 100, 200]
    assert all(c["vel_err"] is None for c in curve)
    # the last point scores the policy it returns, with the same evaluation episodes as step 0
    assert curve[2]["return"] == pytest.approx(float(slbo.evaluate(_TOY, adapted, [[0.3, -0.2]], seed=1)["return"][0]))
    ev = slbo.evaluate(_TOY, maml.policy_from(trained), np.array([[0.3, -0.2]]), seed=1)  # step 0: θ0 itself
    assert curve[0]["return"] == pytest.approx(float(ev["return"][0]))
    for k, v in trained["policy"].items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert maml.adapt(trained, [0.3, -0.2], n_stages=2, n_samples=100, seed=1, n_eval_episodes=1)[0] == curve


@slow
def test_maml_learns_toy_point_goals(toy_envs):
    cfg = maml.MAMLConfig(n_iters=30, meta_batch=20, n_rollouts=10, hidden=(32, 32))
    out = maml.meta_train(_TOY, cfg, seed=0, progress=False)
    assert out["samples"] == 30 * 2 * 20 * 10 * _TOY.horizon  # pre- and post-adaptation rollouts both counted
    assert sum(r["ls_accepted"] for r in out["log"]) > 20 and all(r["kl"] > 0 for r in out["log"] if r["ls_accepted"])
    goals = tasks.sample_goals(_TOY, 20, np.random.default_rng(123))
    curves = [maml.adapt(out["checkpoint"], g, n_stages=1, n_samples=10 * _TOY.horizon, seed=i, n_eval_episodes=1)[0]
              for i, g in enumerate(goals)]
    pre, post = np.mean([c[0]["return"] for c in curves]), np.mean([c[1]["return"] for c in curves])
    # staying at the start scores about −20·E‖g‖ ≈ −5.5; after one step the meta-learned policy heads for the goal
    assert post > pre + 1.0, (pre, post)
    first = np.mean([r["return_post"] for r in out["log"][:5]])
    last = np.mean([r["return_post"] for r in out["log"][-5:]])
    assert last > first + 1.0, (first, last)  # meta-training improved the post-adaptation return


def _strip(log):
    return [{k: v for k, v in row.items() if k != "wall_s"} for row in log]


def test_maml_checkpoint_resume_equals_uninterrupted(toy_envs, tmp_path):
    cfg = maml.MAMLConfig(n_iters=3, meta_batch=4, n_rollouts=3, hidden=(8, 8))
    full = maml.meta_train(_TOY, cfg, seed=5, progress=False)
    path = str(tmp_path / "run" / "maml.pt")
    part = maml.MAMLConfig(**{**cfg.__dict__, "n_iters": 2})
    maml.meta_train(_TOY, part, seed=5, save=store.checkpointing(path, maml.CHECKPOINT_FORMAT)[1], progress=False)
    resume, save = store.checkpointing(path, maml.CHECKPOINT_FORMAT, "maml")
    resumed = maml.meta_train(_TOY, cfg, seed=5, resume=resume, save=save, progress=False)
    for k, v in full["policy"].state_dict().items():
        torch.testing.assert_close(resumed["policy"].state_dict()[k], v, rtol=0, atol=0)
    assert resumed["samples"] == full["samples"] and _strip(resumed["log"]) == _strip(full["log"])
    assert os.listdir(tmp_path / "run") == ["maml.pt"]  # no temporary file left behind
    with pytest.raises(ValueError, match="another config"):
        maml.meta_train(_TOY, maml.MAMLConfig(**{**cfg.__dict__, "alpha": 0.2}), seed=5, resume=resume)
    with pytest.raises(ValueError, match="toy-point"):
        maml.meta_train("cheetah-vel", cfg, seed=5, resume=resume)
    with pytest.raises(ValueError, match="a maml checkpoint, not an? oracle"):
        maml.train_oracle(_TOY, maml.OracleConfig(n_iters=1), seed=5, resume=resume)


@slow
def test_maml_oracle_checkpoint_resume_and_learning(toy_envs, tmp_path):
    cfg = maml.OracleConfig(n_iters=30, n_samples=400, hidden=(32, 32), trpo=TRPOConfig(max_kl=0.02))
    full = maml.train_oracle(_TOY, cfg, seed=2, progress=False)
    assert full["samples"] == 30 * 400
    path = str(tmp_path / "oracle.pt")
    part = maml.OracleConfig(**{**cfg.__dict__, "n_iters": 12})
    maml.train_oracle(_TOY, part, seed=2, save=store.checkpointing(path, maml.CHECKPOINT_FORMAT)[1], progress=False)
    resume, _ = store.checkpointing(path, maml.CHECKPOINT_FORMAT, "oracle")
    resumed = maml.train_oracle(_TOY, cfg, seed=2, resume=resume, progress=False)
    for k, v in full["policy"].state_dict().items():
        torch.testing.assert_close(resumed["policy"].state_dict()[k], v, rtol=0, atol=0)
    assert _strip(resumed["log"]) == _strip(full["log"])
    # the oracle sees ψ: trained, it heads for each goal with no adaptation (untrained: random drift)
    goals = tasks.sample_goals(_TOY, 20, np.random.default_rng(7))
    torch.manual_seed(2)
    untrained = GaussianPolicy(4, 2, (32, 32), activation="relu")
    ret, ret0 = (maml.evaluate_oracle(_TOY, p, goals)["return"].mean() for p in (full["policy"], untrained))
    assert ret > ret0 + 1.0, (ret0, ret)


# =============================================================================================
# lab/figures.py, lab/summaries.py, lab/video.py
# =============================================================================================
def test_figures_bootstrap_resamples_seeds_then_goals():
    # two seeds that disagree completely: the interval spans both (resampling only goals would give [5, 5])
    mean, lo, hi = figures.bootstrap([[0.0] * 4, [10.0] * 4])
    assert mean == 5.0 and lo == 0.0 and hi == 10.0
    # one seed: the bootstrap over goals; its interval narrows with more goals of the same spread
    x = np.random.default_rng(0).normal(size=400)
    _, lo1, hi1 = figures.bootstrap([x[:40]])
    _, lo2, hi2 = figures.bootstrap([x])
    assert hi2 - lo2 < 0.5 * (hi1 - lo1) and lo2 < x.mean() < hi2


def test_figures_difference_pairs_goals():
    plain = np.random.default_rng(1).normal(0, 100, size=(2, 5, 2))  # (seeds, goals, stages): goals differ a lot
    points = [{"samples": 0.0}, {"samples": 400.0}]
    results = {"algos": {"smtl": {"returns": plain.tolist(), "points": points},
                         "smtl-active-true": {"returns": (plain + 1).tolist(), "points": points}}}
    d = figures.difference(results, "smtl-active-true")
    # paired by (seed, goal): exactly +1 with no spread; an unpaired difference would carry the goals' spread
    assert [(p["samples"], p["mean"], p["ci_low"], p["ci_high"]) for p in d] == [
        (0.0, pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0)),
        (400.0, pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0))]


def _machine(cpu):
    """A machine record as store.machine writes it (the fields the report reads)."""
    return {"cpu": cpu, "torch": "2.13.0", "numpy": "2.4.6", "mujoco": "4.0.0", "torch_threads": 1}


def _fake_experiment(out, algos, seeds, n_goals):
    """An experiment folder as experiment.train and .adapt leave it: random 3-stage curves per (seed, algorithm,
    goal), adapted on machine 'cpu <seed>', trained on 'trainer'."""
    rng = np.random.default_rng(3)
    for s in seeds:
        for a in algos:
            for i in range(n_goals):
                curve = [{"samples": 4000.0 * k + s, "return": float(rng.normal(0, 50)), "vel_err": float(rng.random()),
                          "ep_len": float(rng.integers(10, 201))} for k in range(3)]
                goal = {"goal": [0.5 * i], "curve": curve, "wall_s": 1.0 + s, "machine": _machine(f"cpu {s}")}
                store.write_json(goal, str(out / f"s{s}" / "adapt" / a / f"goal{i:02d}.json"))
        store.write_json({a: {"samples": 10 * s, "wall_s": 60.0, "n_clipped": 0, "machine": _machine("trainer")}
                          for a in algos}, str(out / f"s{s}" / "train.json"))


def test_summaries_pool_of_seeds_run_apart_is_the_summary_of_all_seeds(tmp_path):
    """Seeds run on different machines or days and pooled (run.py pool) give what one run over all of them writes:
    the same intervals (drawn from the per-goal returns) and the same means of samples, |v − g| and episode length,
    though the parts hold different numbers of seeds."""
    algos, seeds, n_goals = ("smtl", "maml"), (0, 1, 2), 4
    _fake_experiment(tmp_path, algos, seeds, n_goals)
    whole = summaries.summarise(str(tmp_path), algos, seeds, n_goals, {"preset": "quick"})
    part = [summaries.summarise(str(tmp_path), algos, ss, n_goals, {"preset": "quick"}) for ss in ((0,), (1, 2))]
    pooled = summaries.pool(part)
    assert pooled["seeds"] == [0, 1, 2] and pooled["goals"] == whole["goals"]
    # each machine that trained or adapted once, in order: the results say what made them
    assert whole["machines"] == [_machine(c) for c in ("trainer", "cpu 0", "cpu 1", "cpu 2")]
    assert sorted(pooled["machines"], key=str) == sorted(whole["machines"], key=str)
    for a in algos:
        assert pooled["algos"][a]["returns"] == whole["algos"][a]["returns"]
        assert pooled["algos"][a]["points"] == [pytest.approx(p) for p in whole["algos"][a]["points"]]
        assert pooled["algos"][a]["train_samples"] == [0, 10, 20]
        assert pooled["algos"][a]["adapt_wall_s"] == pytest.approx(whole["algos"][a]["adapt_wall_s"])
        assert pooled["algos"][a]["machines"] == whole["algos"][a]["machines"]
    # a part written before per-algorithm machine records lends its rows the part's machines: none is lost
    older = {**part[0], "algos": {a: {k: v for k, v in r.items() if k != "machines"}
                                  for a, r in part[0]["algos"].items()}}
    assert summaries.pool([older, part[1]])["algos"]["smtl"]["machines"] == whole["algos"]["smtl"]["machines"]
    # through the command line, into one of its own inputs; a seed in two parts is refused with one line
    for p, name in zip(part, ("a.json", "b.json")):
        store.write_json(p, str(tmp_path / name))
    run.main(["pool", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "a.json")])
    assert store.read_json(str(tmp_path / "a.json"))["seeds"] == [0, 1, 2]
    with pytest.raises(SystemExit, match="share a seed"):
        run.main(["pool", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "c.json")])
    other = {**part[1], "goals": [[9.0]] * n_goals}
    with pytest.raises(ValueError, match="different goals"):
        summaries.pool([part[0], other])
    # settings the algorithms never read do not part them (plain SMTL has no skip rule; a field added since counts
    # as its default); a setting they read does
    cfg = lambda **smtl: {"preset": "quick", "configs": {"smtl": {"n_warmup": 20, **smtl}}}  # noqa: E731
    a, b = ({**p, "experiment": cfg(**kw)}
            for p, kw in zip(part, ({"active_q": 0.3}, {"active_q": 0.5, "n_tasks": 100})))
    assert summaries.settings_that_differ(a["experiment"], b["experiment"], ["smtl", "maml"]) == []
    assert summaries.pool([a, b])["seeds"] == [0, 1, 2]
    b["experiment"]["configs"]["smtl"]["n_tasks"] = 10
    with pytest.raises(ValueError, match="smtl.n_tasks"):
        summaries.pool([a, b])
    assert summaries.settings_that_differ(a["experiment"], b["experiment"], ["smtl-active-true"]) == ["smtl.active_q",
                                                                                                    "smtl.n_tasks"]
    # in a nested group (the oracle's TRPO) too: a field one side lacks is its default, another value parts them
    old_trpo = {k: v for k, v in json.loads(json.dumps(dataclasses.asdict(TRPOConfig()))).items()
                if k != "policy_activation"}
    a["experiment"]["configs"]["oracle"] = {"trpo": old_trpo}
    b["experiment"]["configs"]["oracle"] = {"trpo": {**old_trpo, "policy_activation": "tanh"}}
    assert summaries.settings_that_differ(a["experiment"], b["experiment"], ["oracle"]) == []
    b["experiment"]["configs"]["oracle"]["trpo"]["policy_activation"] = "relu"
    assert summaries.settings_that_differ(a["experiment"], b["experiment"], ["oracle"]) == ["oracle.trpo"]


def test_summaries_pool_joins_an_algorithm_rerun_beside_the_others(tmp_path):
    """SMTL rerun at new settings, joined (run.py pool) with MAML's and the oracle's earlier run on the same seeds and
    goals, is what one run of all three writes: every row as its own, in the tables' order, each algorithm's settings
    from the run that read them. Parts that share an algorithm or differ in what their algorithms read are refused."""
    algos, seeds, n_goals = ("smtl", "maml", "oracle"), (0, 1), 3
    _fake_experiment(tmp_path, algos, seeds, n_goals)
    whole = summaries.summarise(str(tmp_path), algos, seeds, n_goals)
    cfg = lambda n_tasks, n_iters: {"env": "ant", "preset": "quick", "configs": {  # noqa: E731
        "smtl": {"n_tasks": n_tasks}, "maml": {"n_iters": n_iters}, "oracle": {"n_iters": 1500}}}
    new = {**summaries.summarise(str(tmp_path), ["smtl"], seeds, n_goals), "experiment": cfg(30, 999)}
    old = {**summaries.summarise(str(tmp_path), ["maml", "oracle"], seeds, n_goals), "experiment": cfg(10, 300)}
    joined = summaries.pool([old, new])
    assert list(joined["algos"]) == list(algos) and joined["seeds"] == [0, 1]
    assert joined["algos"] == whole["algos"]  # points, per-goal returns, training records and machines, untouched
    assert joined["experiment"]["configs"] == {"smtl": {"n_tasks": 30}, "maml": {"n_iters": 300},
                                               "oracle": {"n_iters": 1500}}
    with pytest.raises(ValueError, match="share a seed"):  # the same algorithm twice on the same seeds
        summaries.pool([new, new])
    with pytest.raises(ValueError, match="different algorithms on different seeds"):
        summaries.pool([old, {**new, "seeds": [2, 3]}])
    with pytest.raises(ValueError, match="cannot join results of smtl: settings .*: env"):
        summaries.pool([old, {**new, "experiment": {**cfg(30, 300), "env": "humanoid"}}])
    with pytest.raises(ValueError, match="different goals"):
        summaries.pool([old, {**new, "goals": [[9.0]] * n_goals}])
    with pytest.raises(ValueError, match=r"one order: maml, oracle on seeds \[0, 1\]; smtl on seeds \[1, 0\]"):
        summaries.pool([old, {**new, "seeds": [1, 0]}])
    # MAML's rows spend SLBO's real samples per stage at adaptation: a rerun that changed them is refused, in
    # either order of the parts
    for parts in ([old, new], [new, old]):
        collect = [{**p, "experiment": {**p["experiment"], "configs": {**p["experiment"]["configs"], "slbo": {
            "n_collect": 4000 if p is old else 8000}}}} for p in parts]
        with pytest.raises(ValueError, match="slbo.n_collect"):
            summaries.pool(collect)
    # active selection's settings are read by the active variants alone: whichever part comes first, the joined
    # experiment holds the active part's
    plain = {**new, "experiment": {"configs": {"smtl": {"n_tasks": 30, "active_q": 0.3}}}}
    active = {**new, "algos": {"smtl-active-true": new["algos"]["smtl"]},
              "experiment": {"configs": {"smtl": {"n_tasks": 30, "active_q": 0.9}}}}
    for parts in ([plain, active], [active, plain]):
        assert summaries.pool(parts)["experiment"]["configs"]["smtl"] == {"n_tasks": 30, "active_q": 0.9}
    # through the command line: the published panel (all three, SMTL at old settings) gives MAML's and the oracle's rows
    published = {k: v for k, v in whole.items() if k != "machines"}  # as written before machines were recorded
    published["algos"] = {a: {k: x for k, x in v.items() if k != "machines"} for a, v in whole["algos"].items()}
    store.write_json({**published, "experiment": cfg(10, 300)}, str(tmp_path / "panel.json"))
    store.write_json(new, str(tmp_path / "smtl.json"))
    panel = str(tmp_path / "panel.json")
    run.main(["pool", str(tmp_path / "smtl.json"), f"{panel}:maml,oracle", "--out", panel])
    assert store.read_json(panel)["experiment"]["configs"]["smtl"] == {"n_tasks": 30}
    # a part without per-algorithm machine records lends its algorithms its own (none here): the report can tell
    assert store.read_json(panel)["algos"] == {"smtl": whole["algos"]["smtl"], **{
        a: {**published["algos"][a], "machines": []} for a in ("maml", "oracle")}}
    assert store.read_json(panel)["machines"] == whole["algos"]["smtl"]["machines"]
    assert "MAML / oracle: not recorded" in report._machines(store.read_json(panel))
    smtl_only = {**new, "algos": {"smtl": {k: x for k, x in new["algos"]["smtl"].items() if k != "machines"}}}
    assert summaries.pool([smtl_only, old])["algos"]["smtl"]["machines"] == new["machines"]
    with pytest.raises(SystemExit, match="no results of smtl-active-true in this file; it holds smtl, maml, oracle"):
        run.main(["pool", str(tmp_path / "smtl.json"), f"{panel}:smtl-active-true", "--out", panel])
    for bad, why in ((f"{panel}:", "not ''"), (f"{panel}:maml,mamll", "not 'mamll'"),
                     (str(tmp_path / "s0" / "train.json"), "is not a results file"), (str(tmp_path), "Is a directory")):
        with pytest.raises(SystemExit, match=why):  # one line, never a traceback
            run.main(["pool", str(tmp_path / "smtl.json"), bad, "--out", panel])
    # a part taken by algorithm keeps only their machines, not those of the algorithms left out
    elsewhere = {**whole, "algos": {**whole["algos"], "maml": {**whole["algos"]["maml"], "machines": [{"cpu": "x"}]}},
                 "machines": whole["machines"] + [{"cpu": "x"}]}
    assert summaries.select(elsewhere, ["smtl", "oracle"])["machines"] == whole["machines"]
    assert summaries.select(elsewhere, ["maml"])["machines"] == [{"cpu": "x"}]


def test_report_says_which_verdicts_rest_on_one_seed():
    """A verdict carried by one seed is flagged with the seed and what the verdict becomes without it; one that every
    seed supports holds. Fails if the leave-one-out drops the wrong row or never recomputes."""
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.1, (3, 8))
    robust = report._without_one_seed(noise + 10, np.zeros((3, 8)), [0, 1, 2], "above")
    carried = noise + np.array([[-2.0], [-2.0], [0.3]])  # seed 7 alone keeps the interval across zero
    m = figures.paired(carried, np.zeros((3, 8)))
    cell = report._without_one_seed(carried, np.zeros((3, 8)), [5, 6, 7], figures.verdict(m[1], m[2]))
    assert robust == "holds" and cell == "without seed 7: below"
    assert report._without_one_seed(noise[:1], noise[:1], [0], "not separated") == "one seed"
    for none in ([], None):  # files written before machines were recorded hold None
        assert report._machines({"machines": none, "algos": {"smtl": {}}}) == "Made on: not recorded in this " \
                                                                             "results file."
    m = _machine("Some CPU")
    one = "Some CPU, torch 2.13.0, numpy 2.4.6, mujoco 4.0.0, 1 torch thread"
    assert report._machines({"machines": [m], "algos": {"smtl": {}, "maml": {}}}) == f"Made on: {one}."
    # rows joined from two runs (summaries.pool): each algorithm says where it was made, or that it was not recorded
    joined = {"machines": [m], "algos": {"smtl": {"machines": [m]}, "maml": {}, "oracle": {"machines": []}}}
    assert report._machines(joined) == f"Made on: SMTL: {one}. MAML / oracle: not recorded in this results file."


def test_figures_record_renders_an_episode_offscreen(tmp_path):
    import imageio.v2 as imageio
    fam = tasks.get_family("cheetah-vel")
    torch.manual_seed(0)
    policy = GaussianPolicy(fam.obs_dim, fam.act_dim, slbo_init=False)  # PyTorch's init: actions far from 0
    path = str(tmp_path / "cheetah.mp4")
    ep = video.record(fam, policy, [1.0], path, n_steps=5)
    # the recorded episode is the one a hand-written loop of mean actions gets from the same seed
    env = tasks.make_env(fam, [1.0], seed=0)
    obs, _ = env.reset(seed=0)
    ret = 0.0
    for _ in range(5):
        with torch.no_grad():
            obs, r, *_ = env.step(policy(torch.as_tensor(obs, dtype=torch.float32)[None])[0].clamp(-1, 1).numpy())
        ret += r
    assert ep == {"return": pytest.approx(ret), "steps": 5}
    frames = [f for f in imageio.get_reader(path)]
    assert len(frames) == 6 and frames[0].shape == (tasks.VIDEO_SIZE[1], tasks.VIDEO_SIZE[0], 3)
    assert np.abs(frames[-1].astype(float) - frames[0]).mean() > 1.0  # the body moved in the picture


def _hand_made(smtl, maml, oracle, seeds=(0, 1)):
    """Results of a panel whose returns are given per (seed, goal, stage): (n_seeds, n_goals, n_stages) lists."""
    def algo(returns):
        r = np.array(returns, dtype=float)
        return {"points": figures.stage_points(r, np.zeros_like(r)), "returns": r.tolist(),
                "train_samples": [1] * len(r), "train_wall_s": [60.0] * len(r), "adapt_wall_s": 60.0}
    return {"experiment": {"preset": "quick"}, "seeds": list(seeds), "n_goals": len(smtl[0]), "goals": None,
            "algos": {"smtl": algo(smtl), "maml": algo(maml), "oracle": algo(oracle)}}


def test_report_paired_differences_and_verdicts_on_hand_made_results():
    # SMTL at 0 samples is −100 on every goal; MAML after its step −100 + 5 on half the goals and −100 − 5 on the
    # other half, which pairs to a difference of exactly 0 ± 5 (not separated), though unpaired means alone say nothing
    rng = np.random.default_rng(0)
    level = rng.normal(0, 50, size=(2, 6))  # (seeds, goals): goals differ a lot, SMTL and the oracle alike
    smtl = np.stack([level - 100, level - 90], -1)  # (2, 6, 2): 0 samples, 1 stage
    maml = np.stack([level - 200, level - 100 + np.tile([5.0, -5.0], (2, 3))], -1)
    oracle = (level - 95)[..., None]  # the oracle is 5 above SMTL at 0 samples on every pair
    r = _hand_made(smtl.tolist(), maml.tolist(), oracle.tolist())
    d = dict(report.differences("fig1a", r, {"fig1a": r}))
    assert d["SMTL at 0 samples − MAML after 1 step"][0] == pytest.approx(0.0)
    assert figures.verdict(*d["SMTL at 0 samples − MAML after 1 step"][1:]) == "not separated"
    assert d["SMTL at 0 samples − oracle"] == pytest.approx((-5.0, -5.0, -5.0))  # paired: no spread at all
    assert figures.verdict(*d["SMTL at 0 samples − oracle"][1:]) == "below"
    assert figures.verdict(*d["SMTL after 1 stage − oracle"][1:]) == "above"  # +5 on every pair
    # a shifted panel is paired with its unshifted one on the seeds both ran
    shifted = _hand_made((smtl[:1] + 7).tolist(), maml[:1].tolist(), oracle[:1].tolist(), seeds=(1,))
    d2 = dict(report.differences("fig2a", shifted, {"fig1a": r, "fig2a": shifted}))
    assert d2["SMTL at 0 samples: shifted − unshifted (fig1a)"][0] == pytest.approx(
        float((smtl[0, :, 0] + 7 - smtl[1, :, 0]).mean()))
    # ... but not with an unshifted panel from other trainings (one panel rerun, not the other): that difference
    # would mix the shift with the change of training
    rerun = {**r, "experiment": {"preset": "quick", "configs": {"maml": {"n_iters": 300}}}}
    d3 = dict(report.differences("fig2a", shifted, {"fig1a": rerun, "fig2a": shifted}))
    assert "SMTL at 0 samples − oracle" in d3 and not any("shifted" in what for what in d3)
    assert report.unshifted("fig2a", shifted, {"fig1a": rerun}) == (None, ["maml.n_iters"])
    assert [figures.verdict(lo, hi) for lo, hi in ((1, 2), (-2, -1), (-1, 1))] == ["above", "below", "not separated"]


def test_report_keeps_notes_and_refuses_numbers_they_do_not_share_with_their_block():
    r = _hand_made([[[-100.0, -90.0]] * 2], [[[-200.0, -150.0]] * 2], [[[-95.0]] * 2], seeds=(0,))
    text = report.results_markdown({"fig1a": r})
    assert "<!-- generated fig1a -->" in text and pages.unbacked_numbers(text) == []
    noted = text.replace("<!-- end fig1a -->\n", "<!-- end fig1a -->\nSMTL beats MAML by −100.0 after 1 stage.\n")
    again = report.results_markdown({"fig1a": r}, old=noted)
    assert again == noted  # the note survives a rebuild, in place
    assert pages.unbacked_numbers(again) == []  # −100.0 and 1 are in the block
    wrong = noted.replace("by −100.0", "by −42.5")
    assert pages.unbacked_numbers(wrong) == [("fig1a", "−42.5")]


def test_committed_results_md_is_what_run_py_results_writes_from_the_committed_json():
    """A fresh clone rebuilds docs/results.md from docs/results/*.json alone, to the byte; and every number in its
    hand-written notes appears in the generated block it follows."""
    committed = open(report.RESULTS_MD).read()
    assert report.results_markdown(report.load(), committed, report.probes_block()) == committed
    assert pages.unbacked_numbers(committed) == []
    exercises = open(pages.EXERCISES_MD).read()
    assert pages.exercises_markdown(exercises) == exercises and pages.unbacked_numbers(exercises) == []
    readme = open(report.README).read()
    assert "\n".join(report.verdict_rows(report.load())) in readme
    assert "\n".join(report.cost_rows(report.load())) in readme
    probes = [os.path.join(report.RESULTS_DIR, "probes", f"{name}.json") for name in ("legged", "levers")]
    learns = report.learns_lines(report.load(), *(store.read_json(p) if os.path.exists(p) else None for p in probes))
    assert "\n".join(learns) in readme and "| [1a](docs/results.md#fig1a) Cheetah [0, 2] |" in learns[4]
    assert learns[0].startswith("**At the quick preset SMTL's warm-up learns its tasks on the half-cheetah (1a, 1e)")


def test_figure_3_blocks_name_the_skip_rule_their_runs_read():
    """A Figure 3 block's first line names the skip rule its results file ran (q and L as recorded), a Figure 1 block
    none. Fails if q and L are swapped, read from today's config.py instead of the run's, or shown on Figure 1."""
    everything = report.load()
    r = copy.deepcopy(everything["fig3a"])
    r["experiment"]["configs"]["smtl"].update(active_q=0.25, active_L=7)
    (panel,) = [p for p in figures.panels(3, "quick") if p.name == "fig3a"]
    assert "; the skip rule: a rating below the 0.25-quantile of the last 7 ratings skips its task. Compute" in \
        report.panel_block(panel, r, everything)
    (panel,) = [p for p in figures.panels(1, "quick") if p.name == "fig1a"]
    assert "skip rule" not in report.panel_block(panel, everything["fig1a"], everything)


def test_readme_quick_preset_budgets_are_config_s():
    """The README's "quick preset is small" paragraph states each body's SMTL tasks, real samples and warm-up rounds
    at adaptation, and the baselines' real samples, as config.py gives them (MAML counting pre- and post-adaptation
    rollouts). Fails when a preset's value changes and the README still states the old one."""
    readme = " ".join(open(report.README).read().split())
    c = {body: jobs.resolve(f"{body}-vel", "quick", {}) for body in ("cheetah", "ant", "humanoid")}
    smtl_samples = lambda b: c[b]["smtl"].n_tasks * c[b]["slbo"].n_collect  # noqa: E731
    maml_samples = lambda b: c[b]["maml"].n_iters * c[b]["maml"].meta_batch * c[b]["maml"].n_rollouts * 2 * 200  # noqa
    oracle_samples = lambda b: c[b]["oracle"].n_iters * c[b]["oracle"].n_samples  # noqa: E731
    assert smtl_samples("ant") == smtl_samples("humanoid") and c["ant"]["smtl"].n_tasks == c["humanoid"]["smtl"].n_tasks
    assert (f"SMTL trains on {c['cheetah']['smtl'].n_tasks} tasks and {smtl_samples('cheetah'):,} real samples on the "
            f"half-cheetah and on {c['ant']['smtl'].n_tasks} tasks and {smtl_samples('ant'):,} on the legged") in readme
    warm = {b: c[b]["smtl"].n_warmup_adapt or c[b]["smtl"].n_warmup for b in c}
    assert (f"on the ant it warms up {warm['ant']} rounds at adaptation rather than {c['ant']['smtl'].n_warmup}"
            in readme and f"while the humanoid keeps {warm['humanoid']}," in readme)
    for b in ("cheetah", "ant"):
        assert maml_samples(b) == oracle_samples(b)
    assert (f"MAML and the oracle get {maml_samples('cheetah') / 1e6:g}M real samples each on the half-cheetah and "
            f"{maml_samples('ant') / 1e6:g}M on the legged bodies") in readme
    assert maml_samples("humanoid") == maml_samples("ant") == oracle_samples("humanoid")


def test_readme_learns_table_names_the_best_setting_the_legged_probes_tried():
    """The README's "does it learn" row of the ant [0, 3] names the best lever of the legged probes (the smallest mean
    |v − g|, of training and warm-up levers alike) beside the quick preset at its most tasks; the ant [−3, 3], whose
    goals were not probed, points to that row, the learning half-cheetah does not. Fails if it names another lever, a
    lever of another family, drops the task count, or points a panel to a row of another body or of its own."""
    point = lambda err, n: {"goals": [[1.0], [2.0]], "algos": {"smtl": {"points": [{"vel_err": err,  # noqa: E731
                                                                                     "ep_len": n}]}}}
    everything = {**{f"fig1{x}": point(1.3, 120) for x in "bfg"}, "fig1e": point(0.1, 200)}
    row = lambda what, err: {"what": what, "vel_err_mean": err, "ep_len_mean": 150.0}  # noqa: E731
    legged = {"smtl": {"ant-vel": {"100": {"vel_err": [1.2, 1.0, 1.4], "ep_len": [120, 100, 140], "still": 1.5,
                                           "samples": 800_000}}}}
    levers = {"levers": [{"family": "ant-vel", "tasks": 30, "rows": {"a": row("lever a", 1.0)}},
                         {"family": "humanoid-vel", "tasks": 30, "rows": {"h": row("lever h", 0.1)}}],
              "warmup_levers": [{"family": "ant-vel", "tasks": 100, "rows": {"b": row("lever b", 0.9)}}]}
    lines = report.learns_lines(everything, legged, levers)
    (line,) = [r for r in lines if "Ant [0, 3]" in r]
    assert "not by 100 tasks" in line and "nor with the lowest \\|v − g\\| probed, lever b at 100 tasks: 0.900, " \
                                          "episodes 150" in line
    rows = {r.split("]")[0][3:]: r.split(" | ")[-1] for r in lines if r.startswith("| [")}
    assert rows["1f"] == "probed on 1b's goals (the same body): see that row |" and "1d" not in rows
    assert not any(r.startswith("Not in the table") for r in lines)  # no direction panel in this run
    everything["fig1d"] = point(None, 130)
    assert report.learns_lines(everything, legged, levers)[-1].startswith("Not in the table: 1d (goals that are")
    assert rows["1g"] == rows["1e"] == "– |"
    assert lines[0] == ("**At the quick preset SMTL's warm-up learns its tasks on the half-cheetah (1e), and not on "
                        "the ant (1b, 1f) or the humanoid (1g).** Nor does it on the tuning goals of the legged "
                        "probes: not the ant's by 100 training tasks (800,000 real samples, the paper's budget).")
    levers["warmup_levers"][0]["rows"]["b"].update(vel_err_mean=0.5, ep_len_mean=190.0)  # half of 1.5, no fall
    legged["smtl"]["ant-vel"] = {"10": {**legged["smtl"]["ant-vel"]["100"], "vel_err": [0.7], "ep_len": [180],
                                        "samples": 80_000}, **legged["smtl"]["ant-vel"]}
    lines = report.learns_lines(everything, legged, levers)
    (line,) = [r for r in lines if "Ant [0, 3]" in r]
    assert line.endswith("| learns at 10 tasks (80,000 samples); it learns with the lowest \\|v − g\\| probed, lever "
                         "b at 100 tasks: 0.500, episodes 190 |")
    assert lines[0].endswith("On the tuning goals of the legged probes it learns the ant's by 10 training tasks "
                             "(80,000 real samples; the paper's: 800,000).")


def test_terminal_table_says_whether_each_algorithm_learns_its_task():
    """Below the returns, the terminal table says per algorithm, at its first and last stage, whether it learns its
    task by the README's measure, against standing still's |v − g| of the run's goals (a direction task: episode
    lengths only). Fails if the verdict, the stages shown or standing still's error are wrong."""
    point = lambda k, err, n: {"stage": k, "samples": 8000.0 * k, "mean": 0.0, "ci_low": 0.0,  # noqa: E731
                               "ci_high": 0.0, "vel_err": err, "ep_len": n}
    algos = {"smtl": {"points": [point(0, 1.5, 200), point(1, 0.1, 200), point(2, 0.2, 190)]},
             "oracle": {"points": [point(0, 0.3, 150)]}}
    results = {"goals": [[1.0], [3.0]], "algos": {a: {**v, "train_samples": [1], "train_wall_s": [60]}
                                                 for a, v in algos.items()}}
    lines = figures.table(results).splitlines()[-3:]
    assert "standing still's (2.000 m/s) with episodes of at least 180 steps" in lines[0]
    assert " ".join(lines[1].split()) == ("smtl stage 0: |v − g| 1.500, 200 steps, does not learn stage 2: |v − g| "
                                          "0.200, 190 steps, learns")
    assert " ".join(lines[2].split()) == "oracle stage 0: |v − g| 0.300, 150 steps, does not learn"
    for p in (*algos["smtl"]["points"], *algos["oracle"]["points"]):
        p["vel_err"] = None
    assert figures.table(results).splitlines()[-2:] == [
        "smtl    stage 0: 200 steps  stage 2: 190 steps", "oracle  stage 0: 150 steps"]


def test_legged_per_goal_table_heads_each_body_with_its_own_goals():
    """The probes block's per-goal tables: one per body, its columns that body's tuning goals, slowest first. Fails if
    a body's row sits under another body's goals (the humanoid's under the ant's)."""
    from lab import legged

    def counts(goals, errs):
        return {"10": {"goals": [[g] for g in goals], "vel_err_per_goal": errs, "ep_len_per_goal": [200.0] * 2,
                       "data": {k: 0.5 for k in ("upright", "moving", "falls")}, "falls_predicted": None,
                       "samples": 80_000, "seeds": [0], "vel_err": [1.0, 0.9, 1.1], "still": 1.5,
                       "ep_len": [200.0] * 3, "virtual_minus_real": [1.0] * 3, "train_minutes": 1.0,
                       "kstep_error": {}}}
    doc = {"stop": 0.5, "min_len": 180, "slbo": {},
           "smtl": {"ant-vel": counts([2.5, 0.4], [2.0, 0.2]), "humanoid-vel": counts([1.2, 0.3], [0.9, 0.1])}}
    lines = legged.markdown(doc)
    ant, humanoid = lines.index("| tasks | goal 0.40 | goal 2.50 |"), lines.index("| tasks | goal 0.30 | goal 1.20 |")
    assert lines[ant + 2] == "| 10 | 0.20 (200) | 2.00 (200) |" and "ant-vel" in lines[ant - 2]
    assert lines[humanoid + 2] == "| 10 | 0.10 (200) | 0.90 (200) |" and "humanoid-vel" in lines[humanoid - 2]


def test_readme_names_the_panels_published_with_earlier_settings():
    """A panel whose algorithms read other settings than config.py gives them now at its preset (the body's own
    included) is listed under the README's learns table with what differs, SMTL's warm-up rounds at adaptation counted
    as run (unset: the training's); a panel at today's settings, or one whose results record none, is not. Fails if
    the body's settings (config.py's "bodies") or a Figure 3 panel's own task count are not the ones compared."""
    def result(family, **smtl_changes):
        configs = {g: json.loads(json.dumps(dataclasses.asdict(c))) for g, c in jobs.resolve(family, "quick").items()}
        configs["smtl"].update(smtl_changes)
        return {"goals": [[1.0, 0.0]], "experiment": {"preset": "quick", "configs": configs},
                "algos": {"smtl": {"points": [{"vel_err": 0.3, "ep_len": 200}]}}}
    ant = jobs.resolve("ant-vel", "quick")["smtl"]
    everything = {"fig1a": result("cheetah-vel"), "fig1b": result("ant-vel", n_tasks=ant.n_tasks + 1,
                                                                    n_warmup_adapt=None),
                  "fig1h": result("ant-vel2d"), "fig3a": result("ant-vel2d", n_tasks=5),
                  "fig1c": {"goals": [[1.0]], "algos": {"smtl": {"points": [{"vel_err": 0.3, "ep_len": 200}]}}}}
    (line,) = [r for r in report.learns_lines(everything) if r.startswith("Published with earlier")]
    assert line == (f"Published with earlier settings than config.py's, not yet rerun: 1b ({ant.n_tasks + 1} training "
                    f"tasks (now {ant.n_tasks}), {ant.n_warmup} warm-up rounds at adaptation (now "
                    f"{ant.n_warmup_adapt})).")
    assert [p.name for p, _ in report.stale_panels(everything)] == ["fig1b"]


def test_tracks_goal_is_the_targets_closed_bounds_on_standing_stills_error():
    """figures.tracks_goal: |v − g| at most LEARNS_STOP × standing still's and episodes of at least LEARNS_MIN_LEN
    steps, both bounds closed; standing still's |v − g| is ‖g‖ for 1-D and 2-D goals. Fails on < for ≤, on one bound
    dropped, or on standing still's error taken as |g₀| or summed over a 2-D goal's axes."""
    np.testing.assert_allclose(figures.standing_still([[3.0, 4.0], [-1.0, 0.0]]), [5.0, 1.0])
    np.testing.assert_allclose(figures.standing_still([[-2.0], [0.5]]), [2.0, 0.5])
    still, stop, n = 1.5, figures.LEARNS_STOP, figures.LEARNS_MIN_LEN
    assert figures.tracks_goal(stop * still, n, still)
    assert not figures.tracks_goal(stop * still + 1e-6, 200, still) and not figures.tracks_goal(0.0, n - 1, still)


def test_every_committed_panel_pools_three_seeds_or_more():
    """Every published panel of Figures 1–3 pools seeds 0, 1, 2 at least (1a: 0–9), each scored on the preset's
    8 held-out goals; a panel re-plotted from one seed, or from seeds whose runs did not all finish, fails here."""
    committed = report.load()
    for figure in (1, 2, 3):
        for panel in figures.panels(figure, "quick"):
            r = committed[panel.name]
            n = 10 if panel.name == "fig1a" else 3
            assert r["seeds"][:n] == list(range(n)), (panel.name, r["seeds"])
            assert r["n_goals"] == config.PRESETS["quick"]["n_goals"], panel.name


def test_video_camera_follows_the_body(tmp_path):
    # the half-cheetah teleported 8 m down the track: a fixed camera would film empty floor, a tracking camera the
    # body as at its start (8 m is a whole number of the floor's checker periods, so the floor looks the same too)
    os.environ.setdefault("MUJOCO_GL", "egl")
    env = tasks.make_env("cheetah-vel", [1.0], seed=0, render_mode="rgb_array")
    mj = env.unwrapped.mj
    env.reset(seed=0)
    start = env.render().astype(float)  # (height, width, 3)
    mj.data.qpos[0] += 8.0
    mujoco.mj_forward(mj.model, mj.data)
    away = env.render().astype(float)
    env.close()
    moved = (np.abs(away - start).max(-1) > 40).mean()  # the share of pixels that changed clearly
    assert moved < 0.01, moved


# =============================================================================================
# run.py
# =============================================================================================
def _is_plot(path):
    """A drawn figure: an image of a figure's size with lines on it, not a blank canvas."""
    import matplotlib.image
    img = matplotlib.image.imread(str(path))  # (height, width, channels) floats in [0, 1]
    return img.shape[0] >= 300 and img.shape[1] >= 400 and (img[..., :3] < 0.5).mean() > 0.005


def _run(*argv, cwd=None):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "run.py", *argv], capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(os.path.abspath(__file__)))


@slow
def test_run_smoke_preset_end_to_end(tmp_path):
    out, root = tmp_path / "smoke", str(tmp_path)
    res = _run("--env", "cheetah", "--preset", "smoke", "--seeds", "0,1", "--root", root, "--out", str(out),
               "--workers", "2")
    assert res.returncode == 0, res.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results["algos"]) == {"smtl", "maml", "oracle"} and results["seeds"] == [0, 1]
    for algo, r in results["algos"].items():
        assert all(n > 0 for n in r["train_samples"]) and len(r["train_samples"]) == 2  # one training per seed
        assert np.array(r["returns"]).shape == (2, 2, len(r["points"]))  # (seeds, goals, stages)
        for k, p in enumerate(r["points"]):  # each point pools both seeds' goals
            assert p["mean"] == pytest.approx(np.array(r["returns"])[..., k].mean())
    for algo in ("smtl", "maml"):  # stage k spends the same real samples whatever the algorithm
        assert [(p["stage"], p["samples"]) for p in results["algos"][algo]["points"]] == [(0, 0), (1, 400)]
    assert "stage 0" in res.stdout and "@ 400" in res.stdout  # the table aligns them by stage
    assert _is_plot(out / "figure.png")
    # each training wrote its checkpoint and its log, one CSV row per task or iteration
    logs = sorted((tmp_path / "models" / "cheetah-vel" / "s1").glob("*.csv"))
    assert [p.name.split("-")[0] for p in logs] == ["maml", "oracle", "smtl"]
    assert [len(p.read_text().splitlines()) for p in logs] == [3, 3, 3]  # a header, then 2 iterations or tasks
    # the experiment's folder holds a copy of each log and draws them, with the columns a reader needs
    for path in logs:
        assert (out / "s1" / f"{path.name.split('-')[0]}.csv").read_text() == path.read_text()
    columns = {algo: set(next(csv.DictReader((out / "s1" / f"{algo}.csv").open()))) for algo in ("smtl", "maml",
                                                                                                    "oracle")}
    assert {"model_loss", "virtual_return", "kl", "warmup_return", "return", "vel_err", "samples",
            "wall_s"} <= columns["smtl"]
    assert {"return_pre", "return_post", "vel_err_post", "kl", "samples", "wall_s"} <= columns["maml"]
    assert {"ep_return", "vel_err", "kl", "samples", "wall_s"} <= columns["oracle"]
    assert _is_plot(out / "training.png")
    # seed 1's SMTL trained on seed 1's stream of tasks ψ ~ p(ψ)
    first = next(csv.DictReader(logs[2].open()))
    assert json.loads(first["goal"]) == tasks.sample_goals(tasks.get_family("cheetah-vel"), 1,
                                                           np.random.default_rng(1))[0].tolist()
    # a second run finds every stage done and reproduces the same results from the cache, without loading a
    # training that train.json records again (no training's bar)
    again = _run("--env", "cheetah", "--preset", "smoke", "--seeds", "0,1", "--root", root, "--out", str(out))
    assert again.returncode == 0 and json.loads((out / "results.json").read_text()) == results
    assert "train " not in again.stderr and "MAML cheetah" not in again.stderr
    # without --seeds, `plot` (and a run, which does seed 0) pools every seed finished on disk
    for stage in ("plot", "all"):
        again = _run(stage, "--env", "cheetah", "--preset", "smoke", "--root", root, "--out", str(out))
        assert again.returncode == 0 and json.loads((out / "results.json").read_text()) == results
    # a recorded training whose checkpoint is gone is trained again (the same numbers), the others are not
    logs[0].with_suffix(".pt").unlink()  # seed 1's MAML
    again = _run("--env", "cheetah", "--preset", "smoke", "--seeds", "1", "--root", root, "--out", str(out))
    assert again.returncode == 0 and json.loads((out / "results.json").read_text())["seeds"] == [1]
    assert "MAML cheetah" in again.stderr and "SMTL train" not in again.stderr and "oracle cheetah" not in again.stderr
    assert logs[0].with_suffix(".pt").exists() and (out / "s1" / "maml.csv").read_text() == logs[0].read_text()
    # a video of SMTL adapted to held-out goal 1: the same episode the adapt stage scored
    video = _run("video", "--env", "cheetah", "--preset", "smoke", "--algos", "smtl", "--video-goal", "1", "--root",
                 root, "--out", str(out))
    assert video.returncode == 0, video.stderr[-2000:]
    goal1 = json.loads((out / "s0" / "adapt" / "smtl" / "goal01.json").read_text())["curve"][-1]["return"]
    assert f"real return {goal1:.1f} over 200 steps" in video.stdout
    assert (out / "video" / "smtl-s0-goal01.mp4").stat().st_size > 10_000
    # the same output directory for another experiment is refused
    other = _run("--env", "cheetah", "--preset", "smoke", "--slbo-n-model", "5", "--root", root, "--out", str(out))
    assert other.returncode != 0 and "holds another experiment" in other.stderr


@slow
def test_run_figure_2_smoke_adapts_figure_1s_trainings(tmp_path):
    # one worker: at the smoke preset starting worker processes costs more than the work (the parallel path is the
    # end-to-end run's above, and Ray's below)
    res = _run("--figure", "2", "--preset", "smoke", "--root", str(tmp_path), "--workers", "1")
    assert res.returncode == 0, res.stderr[-2000:]
    folder = tmp_path / "figures" / "smoke"
    assert _is_plot(folder / "figure2.png")
    for letter in "abcd":  # four panels, each with SMTL, MAML and the oracle
        assert set(json.loads((folder / f"fig2{letter}.json").read_text())["algos"]) == {"smtl", "maml", "oracle"}
    summary = [line for line in res.stdout.splitlines() if re.match(r"\([a-d]\) .*goals × 1 seed", line)]
    assert len(summary) == 4 and "SMTL at 0 samples − MAML after 1 step: " in res.stdout  # per panel, its verdicts
    # one training per family and algorithm: the low-friction and crippled panels share ant forward/backward's
    models = {p.relative_to(tmp_path / "models").as_posix() for p in (tmp_path / "models").rglob("*.pt")}
    assert len(models) == 9 and {m.split("/")[0] for m in models} == {"cheetah-vel", "ant-vel", "ant-fwd-back"}
    trained = [json.loads((tmp_path / f"ant-fwd-back-{s}-smoke" / "s0" / "train.json").read_text())
               for s in ("low-friction", "crippled")]
    assert [t["smtl"]["checkpoint"] for t in trained][0] == [t["smtl"]["checkpoint"] for t in trained][1]
    # `plot --figure 2` composes from disk without training or adapting anything
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.pt")}
    again = _run("plot", "--figure", "2", "--preset", "smoke", "--root", str(tmp_path))
    assert again.returncode == 0 and "train " not in again.stderr and "adapt to" not in again.stderr
    assert stamps == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.pt")}


def test_run_grown_smtl_run_equals_a_fresh_one(tmp_path, monkeypatch):
    argv = ["--preset", "smoke", "--algos", "smtl", "--root", str(tmp_path), "--workers", "1"]
    short = run.check_args(run._parser().parse_args([*argv, "--smtl-n-tasks", "2"]))
    long = run.check_args(run._parser().parse_args([*argv, "--smtl-n-tasks", "3"]))
    jobs.train_one(short, "smtl", 0)
    collected, real_collect = [], smtl.collect
    monkeypatch.setattr(smtl, "collect", lambda *a, **k: (collected.append(1), real_collect(*a, **k))[1])
    jobs.train_one(long, "smtl", 0)  # starts from a copy of the 2-task run
    assert len(collected) == 1  # and trains the third task only (one collection per task)
    fresh = copy.copy(long)
    fresh.models = str(tmp_path / "fresh")
    jobs.train_one(fresh, "smtl", 0)
    grown, new, shorter = (store.load_checkpoint(jobs.model_path(a, "smtl", 0), smtl.CHECKPOINT_FORMAT)
                           for a in (long, fresh, short))
    assert len(grown["log"]) == 3 and len(shorter["log"]) == 2
    strip = [{k: v for k, v in row.items() if k != "wall_s"} for row in new["log"]]
    assert [{k: v for k, v in row.items() if k != "wall_s"} for row in grown["log"]] == strip
    assert _same_state(grown["model"], new["model"]) and _same_state(grown["data"], new["data"])
    # a run of other settings is never grown from: another digest
    other = run.check_args(run._parser().parse_args([*argv, "--smtl-n-tasks", "3", "--slbo-n-model", "5"]))
    assert os.path.basename(jobs.model_path(other, "smtl", 0)) != os.path.basename(jobs.model_path(long, "smtl", 0))


def test_adaptation_warm_up_of_its_own_and_the_names_of_older_models(tmp_path, monkeypatch):
    """n_warmup_adapt: Eq. (6) warms up that many rounds where it is set and n_warmup where it is not; a model trained
    with it unset keeps the name it had before the setting existed (the committed results' models), one with it set
    gets another. Fails if adapt ignores it, or if its unset value enters the model's digest."""
    argv = ["--preset", "smoke", "--algos", "smtl", "--root", str(tmp_path)]
    plain, own = (run.check_args(run._parser().parse_args(argv + extra)) for extra in ([], ["--smtl-n-warmup-adapt",
                                                                                           "5"]))
    before = {"smtl": {**{k: v for k, v in dataclasses.asdict(jobs.smtl_config(plain, "smtl")).items()
                          if k != "n_warmup_adapt"}, "n_tasks": None},
              **{g: dataclasses.asdict(plain.configs[g]) for g in ("slbo", "dyn", "trpo")}}  # the key without it
    assert jobs.model_path(plain, "smtl", 0).endswith(f"-{store.digest(before)}.pt")
    assert jobs.model_path(own, "smtl", 0) != jobs.model_path(plain, "smtl", 0)
    rounds = []
    monkeypatch.setattr(smtl, "warm_up", lambda learner, policy, goal, n, **kw: (rounds.append(n), ({}, []))[1])
    trained = smtl.train("cheetah-vel", seed=0, **_tiny_smtl(n_tasks=1))["checkpoint"]
    for n_warmup_adapt in (None, 5, 0):
        cfg = {**trained["config"]["smtl"], "n_warmup_adapt": n_warmup_adapt}
        smtl.adapt({**trained, "config": {**trained["config"], "smtl": cfg}}, np.array([0.5]), 0, 400,
                   n_eval_episodes=1)
    assert rounds == [2, 5, 0]  # n_warmup of _tiny_smtl, then n_warmup_adapt


# The values the paper itself gives, with its words (Section 5.1 and Appendix 7.1): a field whose source says "paper"
# must be one of these and default to this value.
PAPER_VALUES = {
    ("smtl", "n_tasks"): (100, "We ran our algorithm for ntasks = 100 iterations"),
    ("smtl", "n_warmup"): (40, "nwarmup = 40"),
    ("smtl", "n_warmup_adapt"): (None, "A(φ, ψ) = SLBO(VT(θ̃0, φ, D, nwarmup), φ, D, nslbo)"),  # Eq. (6): training's
    ("smtl", "n_slbo_train"): (1, "nslbo = 1 (i.e., we only collected samples once for each task after warm-up)"),
    ("smtl", "n_slbo_adapt"): (3, "train on nitr = 3 stages of SLBO"),
    ("smtl", "active"): ("off", "Algorithm 1: Sequential Multi-task Training (Section 4.4 extends line 3)"),
    ("slbo", "n_collect"): (4000, "On half cheetah environment we collected 4000 samples"),
    ("slbo", "n_trpo"): (4000, "ntrpo = 4000 or 8000 respectively"),
    ("slbo", "n_model"): (100, "nmodel = 100"),
    ("slbo", "n_policy"): (40, "npolicy = 40"),
    ("dyn", "hidden"): ((500, 500), "a simple feedforward neural network with two hidden layers of width 500"),
    ("dyn", "lr"): (1e-3, "a learning rate of 0.001"),
    ("dyn", "batch_size"): (128, "a training bath size of 128"),
    ("trpo", "policy_hidden"): ((32, 32), "two hidden layers of width 32"),
    ("maml", "n_iters"): (500, "We performed 500 iterations of MAML training"),
    ("maml", "meta_batch"): (40, "The meta-batch size ... is 40 in all cases"),
    ("maml", "n_rollouts"): (20, "The batch size ... is 20"),
    ("maml", "alpha"): (0.1, "set to 0.1 during the meta-train phase; ... α = 0.1 for the first step"),
    ("maml", "alpha_test"): (0.05, "α = 0.05 for subsequent steps"),
    ("maml", "max_kl"): (0.01, "The meta-learning rate (referred to as β ...) is set to 0.01"),
    ("maml", "hidden"): ((100, 100), "two hidden layers of 100 units each, using the ReLU activation"),
    ("oracle", "hidden"): ((100, 100), "two hidden layers of 100 units each, using the ReLU activation"),
}


def test_config_every_hyperparameter_says_where_its_default_comes_from():
    """Every field of every settings group names its source, one of config.SOURCES, and a field that names the paper
    is one whose value the paper gives (PAPER_VALUES, with its words). Fails on a field without a source, and on a
    "paper" label on a value the paper does not give (the model loss's k, the OU noise, the pool of start states)."""
    labelled = set()
    for group, cls in jobs.CONFIGS.items():
        for f in dataclasses.fields(cls):
            source = f.metadata.get("source")
            assert source and source.startswith(config.SOURCES), (group, f.name, source)
            if source.startswith("paper"):
                assert (group, f.name) in PAPER_VALUES, f"{group}.{f.name} is labelled the paper's: {source}"
                assert f.default == PAPER_VALUES[(group, f.name)][0], (group, f.name)
                labelled.add((group, f.name))
    assert labelled == set(PAPER_VALUES)  # and every value the paper gives is labelled so
    with pytest.raises(TypeError):  # no source: not a hyperparameter
        config.hp(1, "a count")
    for bad in ("the paper", "paper,", "ours: ", "a blog post"):
        with pytest.raises(ValueError, match="hp source"):
            config.hp(1, "a count", source=bad)
    help_text = " ".join(run._parser(["--env", "ant"]).format_help().split())  # argparse wraps lines
    assert "[8000; default 8000, paper, Appendix 7.1; >= 1]" in help_text  # --slbo-n-collect: used, default, source
    assert "default 2, SLBO's code" in help_text  # --dyn-k: SLBO's, not the paper's


def test_departures_and_hyperparameters_in_the_docs_are_the_codes():
    """docs/departures.md lists every NOTE of the method files in its own words, and docs/reference.md every
    hyperparameter with its source, as `python run.py results` writes them: a NOTE added, changed or dropped in the
    code without the docs, or the other way round, fails here."""
    departures, reference = open(pages.DEPARTURES_MD).read(), open(pages.REFERENCE_MD).read()
    assert pages.departures_block() in departures and pages.hyperparameters_block() in reference
    notes = pages.code_notes()
    assert len(notes) >= 25 and all(text for *_, text in notes)
    where = {(name, w) for name, w, *_ in notes}
    for expected in [("slbo.py", "Learner.__init__"), ("trpo.py", "TRPOConfig"), ("dynamics.py", "multi_step_loss"),
                     ("smtl.py", "train"), ("slbo.py", "collect")]:
        assert expected in where  # V carried over, the start-state pool, the policy net, Eq. (4), skipped fits, ...


def test_config_preset_overrides_for_one_body_reach_only_that_body(monkeypatch):
    quick = copy.deepcopy(config.PRESETS["quick"])
    quick["bodies"] = {"ant": {"oracle": {"n_samples": 2000, "trpo": {"max_kl": 0.02}}},
                       "ant-fwd-back": {"maml": {"n_iters": 7}}}
    monkeypatch.setitem(config.PRESETS, "quick", quick)
    ant, cheetah, fwd = (config.values(f, "quick") for f in ("ant-vel", "cheetah-vel", "ant-fwd-back"))
    assert ant["oracle"]["n_samples"] == 2000 and cheetah["oracle"].get("n_samples") is None
    # the oracle's nested TRPO settings merge: the preset's vf_epochs stays beside the body's max_kl
    assert ant["oracle"]["trpo"] == {**quick["oracle"]["trpo"], "max_kl": 0.02}
    assert fwd["maml"]["n_iters"] == 7 and fwd["oracle"]["n_samples"] == 2000 and ant["maml"]["n_iters"] == 80
    assert ant["slbo"] == {**config.BODY["ant"]["slbo"], **quick["slbo"]}  # the body's Appendix values, then the preset


def test_run_configs_layer_paper_preset_and_flags():
    quick = config.values("cheetah-vel", "quick")
    c = run.check_args(run._parser().parse_args(["--env", "cheetah"])).configs  # the quick preset by default
    assert c["slbo"] == slbo.SLBOConfig(**quick["slbo"]) and c["dyn"] == DynamicsConfig(**quick["dyn"])
    assert c["smtl"] == smtl.SMTLConfig(**quick["smtl"]) and c["maml"] == maml.MAMLConfig(**quick["maml"])
    # SMTL's virtual training takes the preset's TRPO; the oracle, trained on real samples, its own
    assert c["trpo"] == TRPOConfig(**quick["trpo"]) and c["oracle"].trpo == TRPOConfig(**quick["oracle"]["trpo"])
    # MAML and the oracle get the same real samples: meta-updates × tasks × rollouts × (pre + post) × H
    m = c["maml"]
    assert m.n_iters * m.meta_batch * m.n_rollouts * 2 * 200 == c["oracle"].n_iters * c["oracle"].n_samples
    for env in ("ant", "humanoid"):  # the legged bodies' larger budget, the same for both baselines
        c = run.check_args(run._parser().parse_args(["--env", env])).configs
        m, o = c["maml"], c["oracle"]
        assert m.n_iters * m.meta_batch * m.n_rollouts * 2 * 200 == o.n_iters * o.n_samples == 6_000_000
        assert o.obs_norm and o.trpo == TRPOConfig(**quick["oracle"]["trpo"])
    c = run.check_args(run._parser().parse_args(["--env", "ant", "--trpo-max-kl", "0.02", "--preset", "paper"])).configs
    assert c["slbo"] == slbo.SLBOConfig(**config.BODY["ant"]["slbo"])  # the ant's batch, the Appendix otherwise
    assert c["smtl"] == smtl.SMTLConfig() and c["dyn"] == DynamicsConfig()
    assert c["trpo"] == TRPOConfig(max_kl=0.02) == c["oracle"].trpo  # a --trpo-* flag reaches both


@pytest.mark.parametrize("argv,match", [
    (["--env", "walker"], "invalid choice"),
    (["--env", "humanoid", "--task", "vel2d"], "not defined for --env humanoid"),
    (["--env", "cheetah", "--shift", "crippled"], "ant only"),
    (["--n-goals", "-1"], "count >= 0"),
    (["--smtl-n-tasks", "-3"], "count >= 0"),
    (["--n-goals", "0"], "between 1 and 40"),
    (["--algos", "smtl,ppo"], "unknown algorithm"),
    (["--algos", "smtl-active"], "unknown algorithm"),
    (["--algos", "smtl-active-estimated", "--smtl-n-snapshots", "1"], "compares 2 to n_warmup"),
    (["--seeds", "x"], "expected seeds"),
    (["--seeds", "3-1"], "expected seeds >= 0"),
    (["--figure", "4"], "invalid choice"),
    (["--figure", "1", "--env", "ant"], "--figure 1 sets --env per panel"),
    (["--figure", "3", "--smtl-n-tasks", "7"], "sets --smtl-n-tasks per panel"),
    (["--trpo-max-kl", "-1"], "--trpo-max-kl must be a finite number > 0"),
    (["--trpo-max-kl", "nan"], "--trpo-max-kl must be a finite number > 0, got nan"),
    (["--dyn-lr", "inf"], "--dyn-lr must be a finite number > 0, got inf"),
    (["--dyn-hidden", "0,0"], "--dyn-hidden must be layer widths >= 1"),
    (["--dyn-hidden", "64,x"], "layer widths"),
    (["--smtl-active-q", "1.5"], "--smtl-active-q must be a finite number [0, 1]"),
    (["--maml-ls-backtrack", "1"], "--maml-ls-backtrack must be a finite number (0, 1)"),
    (["--dyn-k", "0"], "--dyn-k must be a finite number >= 1"),
    (["--trpo-slbo-init", "maybe"], "expected true or false"),
    (["--slbo-n-collect", "300"], "must be a positive multiple of the horizon 200"),
    (["--slbo-n-inner=3"], "unrecognized arguments"),  # SMTL reads --smtl-n-inner and --smtl-n-inner-adapt
    (["video", "--figure", "1"], "video renders one experiment"),
    (["video", "--preset", "smoke", "--video-goal", "2"], "--video-goal must be below --n-goals (2)"),
    (["plot", "--ray"], "--ray runs the train and adapt stages, not plot"),
    (["--figure", "1", "--env", "ant", "--ray"], "--figure 1 sets --env per panel"),  # before any Ray job or folder
    (["--device", "tpu9"], "--device tpu9: torch"),
    (["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "cuda:99"], "cannot use it here"),
])
def test_run_bad_flags_exit_with_one_line(argv, match, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run.main([*argv, "--root", str(tmp_path / "x")])
    code = e.value.code  # argparse: 2 with the line on stderr; run.py's own checks: the line itself
    message = capsys.readouterr().err if code == 2 else code
    assert code not in (0, None) and match in message
    assert len(message.strip().splitlines()) == 1, message
    assert not (tmp_path / "x").exists()


def _exit_line(argv, capsys):
    """run.main's exit: (code, its one-line message)."""
    with pytest.raises(SystemExit) as e:
        run.main(argv)
    code = e.value.code
    return code, capsys.readouterr().err if code == 2 else str(code)


def _kill_first_ray_job(prefixes=(b"ray::train", b"ray::adapt"), timeout=600):
    """SIGKILL the first Ray worker found running a job (its process title is ray::<job name>): a worker that dies."""
    import signal
    import time
    end = time.time() + timeout
    while time.time() < end:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read()
            except OSError:
                continue
            if title.startswith(prefixes):
                os.kill(int(pid), signal.SIGKILL)
                return title.split(b"\0")[0].decode()
        time.sleep(0.05)
    return None


def test_run_ray_without_ray_installed_is_one_line(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(SystemExit) as e:
        run.main(["--preset", "smoke", "--ray", "--root", str(tmp_path / "x")])
    assert e.value.code == "run.py: error: --ray needs Ray: pip install -r lab/requirements-ray.txt"
    assert not (tmp_path / "x").exists()


@slow
def test_run_on_ray_equals_the_local_path_and_survives_a_killed_worker(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ray")
    import threading
    # a grid of two panels (the second adapts the first's trainings) × two seeds, as a figure of its own
    two = [figures.Panel(2, "a", "cheetah", "vel", "Cheetah [0, 2]"),
           figures.Panel(2, "b", "cheetah", "vel", "Cheetah pos-to-neg", "pos2neg")]
    monkeypatch.setitem(figures.PANELS, 2, two)
    argv = ["--figure", "2", "--preset", "smoke", "--seeds", "0,1", "--n-goals", "1"]
    run.main([*argv, "--root", str(tmp_path / "local"), "--workers", "2"])
    # on Ray (a local instance) with no retries, one job's worker killed mid-run: the run fails in one line ...
    killed = []
    killer = threading.Thread(target=lambda: killed.append(_kill_first_ray_job()))
    killer.start()
    with pytest.raises(SystemExit) as e:
        run.main([*argv, "--root", str(tmp_path / "ray"), "--ray", "--ray-retries", "0"])
    killer.join()
    assert killed[0] is not None
    assert "Ray jobs failed" in str(e.value.code) and "run the same command" in str(e.value.code)
    # ... and the same command finishes the grid, with the local path's results to the number (not its clock)
    run.main([*argv, "--root", str(tmp_path / "ray"), "--ray"])

    def numbers(path):
        def strip(o):
            if isinstance(o, dict):
                return {k: strip(v) for k, v in o.items() if "wall" not in k and k != "checkpoint"}
            return [strip(v) for v in o] if isinstance(o, list) else o
        return strip(json.loads(path.read_text()))

    for panel in ("fig2a", "fig2b"):
        local, ray = (tmp_path / root / "figures" / "smoke" / f"{panel}.json" for root in ("local", "ray"))
        assert numbers(ray) == numbers(local) and numbers(local)["seeds"] == [0, 1]


def test_run_adapt_never_trains_an_unfinished_baseline(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "d")
    flags = ["--preset", "smoke", "--algos", "maml", "--maml-n-iters", "3", "--root", str(tmp_path), "--out", out]
    run.main(["train", *flags])  # returns normally once trained
    # replace the finished checkpoint by one interrupted after 1 of its 3 iterations
    args = run.check_args(run._parser().parse_args(flags))
    path = jobs.model_path(args, "maml", 0)
    os.remove(path)
    maml.meta_train(args.family, dataclasses.replace(args.configs["maml"], n_iters=1),
                    save=store.checkpointing(path, maml.CHECKPOINT_FORMAT)[1], progress=False)
    trained = []
    monkeypatch.setattr(maml, "meta_train", lambda *a, **k: trained.append(1))  # adapt must not call it
    code, message = _exit_line(["adapt", *flags], capsys)
    assert code not in (0, None) and "unfinished (1 of 3 iterations)" in message and not trained
    assert len(message.strip().splitlines()) == 1 and "Traceback" not in message
    assert not os.path.exists(os.path.join(out, "s0", "adapt"))
    assert not os.path.exists(os.path.join(out, "results.json"))


@slow
def test_run_diverging_model_stops_with_one_line_and_writes_no_results(tmp_path):
    out = tmp_path / "nan"
    res = _run("--preset", "smoke", "--algos", "smtl", "--dyn-lr", "1e30", "--root", str(tmp_path), "--out", str(out))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("run.py: error: SMTL training, task 2") and "diverged" in last and "nan" in last
    assert not (out / "results.json").exists()


# ---------------------------------------------------------------------------------------------
# lab/bench.py (its targets are measured there, not here; this checks what it builds)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["smoke", "quick"])
def test_bench_round_learner_has_the_presets_settings(preset):
    learner, _ = bench.round_learner("cheetah-vel", "cpu", preset)
    c = config.values("cheetah-vel", preset)
    assert learner.cfg == slbo.SLBOConfig(**c["slbo"]) and learner.dyn == DynamicsConfig(**c.get("dyn", {}))
    assert learner.trpo == TRPOConfig(**c.get("trpo", {})) and len(learner.data) == learner.cfg.n_collect


# ---------------------------------------------------------------------------------------------
# The layout: the method files explain the paper and never reach into the lab
# ---------------------------------------------------------------------------------------------
def test_method_files_import_nothing_from_the_lab():
    import ast
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("tasks", "dynamics", "trpo", "slbo", "smtl", "maml", "config"):
        tree = ast.parse(open(os.path.join(here, f"{name}.py")).read())
        for node in ast.walk(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for module in modules:
                assert module.split(".")[0] not in ("lab", "exercises"), f"{name}.py imports {module}"
            if isinstance(node, ast.ImportFrom) and node.module in ("tasks", "dynamics", "trpo", "slbo", "smtl",
                                                                     "maml", "config"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name}.py imports private names {private} from {node.module}"


def test_no_cycle_of_top_level_imports_among_the_projects_modules():
    """`python -m lab.probes`, `-m lab.legged`, … start whichever module comes first: no cycle runs through the
    module-level imports of the project's own files (an import inside a function is run later, and breaks none).
    Fails on a cycle such as lab.pages → exercises.bugs → lab.legged → lab.pages, which once stopped `python -m
    lab.probes` with a partially initialised module while the test session, importing run.py first, hid it."""
    import ast
    here = os.path.dirname(os.path.abspath(__file__))
    files = {f[:-3]: f for f in os.listdir(here) if f.endswith(".py")}
    files.update({f"{d}.{f[:-3]}": os.path.join(d, f) for d in ("lab", "exercises")
                  for f in os.listdir(os.path.join(here, d)) if f.endswith(".py") and f != "__init__.py"})
    graph = {}
    for name, path in files.items():
        tree, deps = ast.parse(open(os.path.join(here, path)).read()), set()
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                deps |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        graph[name] = deps & set(files)
    state = {}  # 1: on the current path, 2: done

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph[m]):
            assert state.get(d) != 1, "import cycle: " + " → ".join(path[path.index(d):] + [d])
            if d not in state:
                visit(d, path + [d])
        state[m] = 2
    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_evaluation_goals_are_read_only_by_the_adaptation_stage():
    """The 40 evaluation goals are for adaptation only: no benchmark, probe, exercise, preset or method file reads
    them. Fails if any file but run.py (which hands them to the adapt stage) names tasks.eval_goals, or if run.py reads
    them anywhere but the one line that picks a panel's goals."""
    import ast
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(d, f) for d in ("", "lab", "exercises")  # os.path.join("", f) is f
             for f in sorted(os.listdir(os.path.join(here, d))) if f.endswith(".py")]
    readers = {}
    for f in files:
        if f in ("tasks.py", "test_all.py"):
            continue
        tree = ast.parse(open(os.path.join(here, f)).read())
        lines = [n.lineno for n in ast.walk(tree) if (isinstance(n, ast.Name) and n.id == "eval_goals")
                 or (isinstance(n, ast.Attribute) and n.attr == "eval_goals")
                 or (isinstance(n, ast.alias) and n.name == "eval_goals")]
        if lines:
            readers[f] = lines
    assert list(readers) == ["run.py"] and len(readers["run.py"]) == 1, f"eval_goals read by {readers}"
    line = open(os.path.join(here, "run.py")).read().splitlines()[readers["run.py"][0] - 1]
    assert line.strip().startswith("args.goals = tasks.eval_goals("), line


# =============================================================================================
# exercises/: each check fails on its untouched stub, passes on the reference, names the cause of a known mistake,
# passes a right answer written differently, and refuses a copy of the reference
# =============================================================================================
@pytest.mark.parametrize("name", list(exercise_checks.EXERCISES))
def test_exercise_check_fails_on_the_stub_and_passes_on_the_reference(name):
    ok, message = exercise_check.run(name, learn=False)
    assert not ok and "not written yet" in message and f"exercises/{name}.py" in message, message
    ok, message = exercise_check.run(name, solution=True, learn=False)
    assert ok and "passed" in message, message


def _verdict(name, fns):
    """What `python run.py exercise NAME` says of these functions, the learning run left out: (passed, message)."""
    return exercise_check.run(name, learn=False, fns=fns)


# Wrong answers as students write them: (exercise, the mistake, the words of its cause in the check's message)
def _loss_rollout(model, obs_seq, act_seq, feed="model", error="rms"):
    """A student's Eq. (4), right (feed="model", error="rms") or with one mistake: feed the true state back (teacher),
    or a detached prediction; the error squared (mse), summed over coordinates (sum), or in the state's units
    (state)."""
    k, d = act_seq.shape[1], obs_seq.shape[-1]
    total, s_hat = 0.0, obs_seq[:, 0]
    for i in range(k):
        s_next_hat = model(s_hat, act_seq[:, i])  # M̂_φ(ŝ, a): s + Δ̄ + σ_Δ f_φ
        if error == "state":
            e = s_next_hat - obs_seq[:, i + 1]
        else:
            e = ((s_next_hat - s_hat) - (obs_seq[:, i + 1] - obs_seq[:, i])) / model.diff_norm.std
        per = {"rms": e.norm(dim=-1) / math.sqrt(d), "mse": (e ** 2).mean(-1), "sum": e.norm(dim=-1),
               "state": e.norm(dim=-1) / math.sqrt(d)}[error]
        total = total + per.mean()
        s_hat = {"model": s_next_hat, "teacher": obs_seq[:, i + 1], "detached": s_next_hat.detach()}[feed]
    return total / k


def _loss_delta_student(model, obs_seq, act_seq, step="right", target="true"):
    """A student's Eq. (4) on f_φ and normalised targets, looping over the batch: right, or with the rollout's Δ̄ or
    σ_Δ left out (step "no mean", "no std"), or the target change measured from the prediction (target "predicted")."""
    B, k, d = act_seq.shape[0], act_seq.shape[1], obs_seq.shape[-1]
    mean, std = model.diff_norm.mean, model.diff_norm.std
    losses = []
    for b in range(B):
        s_hat, total = obs_seq[b, :1], 0.0
        for i in range(k):
            f = model.delta(s_hat, act_seq[b, i:i + 1])
            start = s_hat if target == "predicted" else obs_seq[b, i:i + 1]
            total = total + torch.sqrt(((f - (obs_seq[b, i + 1:i + 2] - start - mean) / std) ** 2).sum()) / d ** 0.5
            s_hat = s_hat + {"right": mean + std * f, "no mean": std * f, "no std": mean + f}[step]
        losses.append(total / k)
    return torch.stack(losses).mean()


def _gae_student(rew, values, next_values, terminal, ep_end, gamma, lam, through_ends=False, bootstrap="d",
                 next_v="true", one_step=False, late=False, normalise=False, returns="adv+V", cut="e"):
    """A student's GAE as a Python loop over rows and steps, right by default or with one mistake."""
    n, H = rew.shape
    adv = torch.zeros(n, H)
    for i in range(n):
        a = 0.0
        for t in reversed(range(H)):
            v_next = next_values[i, t] if next_v == "true" else (values[i, t + 1] if t + 1 < H else next_values[i, t])
            stop = {"d": terminal[i, t], "none": 0.0, "e": ep_end[i, t]}[bootstrap]
            delta = rew[i, t] + gamma * (1 - stop) * v_next - values[i, t]
            end = 0.0 if through_ends else (ep_end[i, t + 1] if late and t + 1 < H else 1.0 if late else
                                            terminal[i, t] if cut == "d" else ep_end[i, t])
            a = delta if one_step else delta + gamma * lam * (1 - end) * a
            adv[i, t] = a
    if normalise:
        adv = (adv - adv.mean()) / adv.std()
    return adv, adv if returns == "adv" else adv + values


def _gae_by_step(rew, values, next_values, terminal, ep_end, gamma, lam):
    """A student's right GAE as a loop over steps in float64: other float rounding than trpo.gae (so other learning
    runs), at about its speed (the loop over rows and steps, _gae_student, makes a learning run about 4× as long)."""
    delta = rew.double() + gamma * (1 - terminal.double()) * next_values.double() - values.double()  # (n, H)
    adv, a = torch.zeros_like(delta), torch.zeros(len(delta), dtype=torch.float64)  # (n, H), (n,)
    for t in reversed(range(delta.shape[1])):
        a = delta[:, t] + gamma * lam * (1 - ep_end[:, t].double()) * a
        adv[:, t] = a
    adv = adv.to(values.dtype)
    return adv, adv + values


def _cg_student(Avp, b, iters, residual_tol=1e-10, stop=True, direction="conjugate"):
    """A student's conjugate gradient, in other words than the reference's: right, or without the residual's stop,
    or with the steepest-descent direction."""
    x = torch.zeros_like(b)
    r = b - Avp(x)
    p = r.clone()
    for _ in range(iters):
        Ap = Avp(p)
        step = torch.dot(r, r) / torch.dot(p, Ap)
        x = x + step * p
        r_new = r - step * Ap
        if stop and torch.dot(r_new, r_new) < residual_tol:
            break
        p = r_new + (torch.dot(r_new, r_new) / torch.dot(r, r)) * p if direction == "conjugate" else r_new.clone()
        r = r_new
    return x


def _fvp_student(kl, params, damping, damp="vector", flat=True):
    """A student's Fisher-vector product with grad_outputs (a vector-Jacobian product, not a dot then a gradient):
    right, or with the damping left out or added as a number, or returned per parameter."""
    grads = torch.autograd.grad(kl, params, create_graph=True)

    def fvp(v):
        pieces, start = [], 0
        for p in params:
            pieces.append(v[start:start + p.numel()].view_as(p))
            start += p.numel()
        Fv = torch.autograd.grad(grads, params, grad_outputs=pieces, retain_graph=True)
        if not flat:
            return list(Fv)
        out = torch.cat([x.reshape(-1) for x in Fv])
        return out + damping * v if damp == "vector" else out + damping if damp == "number" else out
    return fvp


def _skip_student(mu, ratings, q, L, compare="<", window="last", which="q", stat="quantile"):
    """A student's skip rule: right, or with ≤, every rating, the first L, the last L − 1 or L + 1, the
    (1 − q)-quantile, the median or the mean."""
    if len(ratings) < L:
        return False
    w = {"last": ratings[-L:], "all": ratings, "first": ratings[:L], "L-1": ratings[-L + 1:],
         "L+1": ratings[-L - 1:]}[window]
    bar = (float(np.mean(w)) if stat == "mean" else float(np.median(w)) if stat == "median" else
           float(np.percentile(w, 100 * (q if which == "q" else 1 - q))))
    return mu < bar if compare == "<" else mu <= bar


def _ratings(**kw):
    return {"true_rating": smtl.true_rating, "model_disagreement": smtl.model_disagreement, "skip_task": smtl.skip_task,
            **kw}


def _inner_student(policy, pre, alpha, create_graph=False, sign=1.0, scale=True, masked=True):
    """A student's Eq. (3), task by task in a loop: right, or descending, unscaled by α, or averaging over every
    step."""
    out = {name: [] for name, _ in policy.named_parameters()}
    for i in range(pre["obs"].shape[0]):
        dist = policy.dist(pre["obs"][i])
        m = pre["mask"][i] if masked else torch.ones_like(pre["mask"][i])
        loss = -(dist.log_prob(pre["act"][i]) * pre["adv"][i] * m).sum() / m.sum()
        grads = torch.autograd.grad(loss, list(policy.parameters()), create_graph=create_graph)
        for (name, p), gr in zip(policy.named_parameters(), grads):
            out[name].append(p - sign * (alpha if scale else 1.0) * gr)
    return {name: torch.stack(v) for name, v in out.items()}


def _meta_student(policy, pre, post, alpha, pi_old, create_graph, inner=maml.inner_step, first_order=False,
                  detached=False, pooled=False, kl_reversed=False):
    """A student's meta-objective on top of an inner step: right, or first-order (θ' moves with θ one for one, the
    inner step's own dependence on θ dropped), θ' detached, J pooled over every task's steps, or KL(π_θ' ‖ π_old)."""
    theta = inner(policy, pre, alpha, create_graph=create_graph and not first_order)
    if first_order:
        base = maml.task_params(policy, pre["obs"].shape[0])
        theta = {n: base[n] + (theta[n] - base[n]).detach() for n in theta}
    theta = {n: v.detach() for n, v in theta.items()} if detached else theta
    pi = maml.task_dist(policy, theta, post["obs"])
    ratio = torch.exp(pi.log_prob(post["act"]) - pi_old.log_prob(post["act"]))
    J = ((ratio * post["adv"] * post["mask"]).sum() / post["mask"].sum() if pooled else
         maml.masked_mean(ratio * post["adv"], post["mask"]).mean())
    kl = kl_divergence(pi, pi_old) if kl_reversed else kl_divergence(pi_old, pi)
    return J, maml.masked_mean(kl, post["mask"]).mean()


def _adapt_student(trained, goal, n_stages, n_samples, seed=0, n_eval_episodes=5, warmup="adapt", one_call=False,
                   samples="from start", inner="adapt", score="real", episodes="argument", measure_seed=True,
                   restore_seed=True, fresh_each_stage=False, vt_first=False, score_before_vt=False,
                   score_before_warmup=False):
    """A student's Eq. (6), the warm-up as single rounds (or one call of n rounds): right, or with one mistake: the
    warm-up's rounds (none, the training's n_warmup, n_inner_adapt, n_warmup_adapt without its fallback, or `or`),
    the samples counted (per stage, learner.samples as is, before the collection), the training's n_inner or none,
    the virtual return, the training's or 5 evaluation episodes, measure's or restore's own seed, a fresh policy every
    stage, VirtualTraining before the collection, each stage scored before its VirtualTraining, the first point scored
    before the warm-up."""
    cfg = smtl.SMTLConfig(**trained["config"]["smtl"])
    learner = smtl.restore(trained, seed=seed) if restore_seed else smtl.restore(trained)
    policy, start = learner.new_policy(), learner.samples
    n_warmup = {"adapt": cfg.n_warmup if cfg.n_warmup_adapt is None else cfg.n_warmup_adapt, "none": 0,
                "train": cfg.n_warmup, "inner": cfg.n_inner_adapt, "no fallback": cfg.n_warmup_adapt,
                "or": cfg.n_warmup_adapt or cfg.n_warmup}[warmup]
    n_episodes = {"argument": n_eval_episodes, "cfg": cfg.n_eval_episodes, "five": 5}[episodes]
    n_inner = {"adapt": cfg.n_inner_adapt, "train": cfg.n_inner_train, "none": 0}[inner]

    def point(spent, vt):
        real = slbo.measure(learner.family, policy, goal, n_episodes, seed=seed if measure_seed else 0)["return"]
        return {"samples": spent, "return": real if score == "real" else vt["virtual_return"]}

    fresh = point(0, {}) if score_before_warmup else None
    if one_call:
        vt = slbo.virtual_training(learner, policy, goal, n_warmup, warn=False)
    else:
        vt = [slbo.virtual_training(learner, policy, goal, 1, warn=False) for _ in range(n_warmup)][-1:] or [{}]
        vt = vt[0]
    points = [fresh or point(0, vt)]
    for _ in range(n_stages):
        policy = learner.new_policy() if fresh_each_stage else policy
        before = learner.samples
        if vt_first:
            vt = slbo.virtual_training(learner, policy, goal, n_inner)
        slbo.collect(learner, policy, goal, n_samples)
        spent = {"from start": learner.samples - start, "per stage": learner.samples - before,
                 "as is": learner.samples, "before collect": before - start}[samples]
        scored = point(spent, vt) if score_before_vt else None
        if not vt_first and n_inner:
            vt = slbo.virtual_training(learner, policy, goal, n_inner)
        points.append(scored or point(spent, vt))
    return points


def _vt_student(learner, policy, goal, n_inner, order="fit first", batches="fresh", real=False, n_envs=None,
                generator=True, fit_steps=None, clipped_by="sum", stats_over="last round"):
    """A student's VirtualTraining: right, or stepping θ before the fit, reusing one batch, collecting real data,
    n_trpo envs, the global random stream, n_inner fit steps, the clipped count overwritten, the stats of all rounds."""
    cfg, f = learner.cfg, learner.family
    env = VirtualEnv(learner.model, f, goal, learner.init_states, n_envs=n_envs or cfg.n_trpo // f.horizon,
                     generator=learner.generator, cfg=learner.dyn)
    gen = learner.generator if generator else None
    clipped, stats, every, loss = 0, [], [], None
    if real:
        slbo.collect(learner, policy, goal, cfg.n_trpo)
    for _ in range(n_inner):
        if order == "fit first":
            loss = fit(learner.model, learner.data, fit_steps or cfg.n_model, learner.dyn, generator=learner.generator)
        stats = []
        batch = rollout(env, policy, f.horizon, generator=gen) if batches == "one" else None
        for _ in range(cfg.n_policy):
            if batches == "fresh":
                batch = rollout(env, policy, f.horizon, generator=gen)
                clipped = clipped + env.n_clipped if clipped_by == "sum" else env.n_clipped
            stats.append(trpo_step(policy, learner.value_fn, batch, learner.trpo))
        every += stats
        if order == "policy first":
            loss = fit(learner.model, learner.data, cfg.n_model, learner.dyn, generator=learner.generator)
    stats = stats if stats_over == "last round" else every
    return {"model_loss": loss, "virtual_return": float(np.mean([s["ep_return"] for s in stats])),
            "kl": float(np.mean([s["kl"] for s in stats])), "n_clipped": clipped}


def _loop_student(family, cfg, slbo_cfg, dyn, trpo_cfg, seed, fresh=True, first_warmup=False, line8="each",
                  warm_with="virtual_training", samples="n_collect", goals="one stream", warmup_rounds="n_warmup"):
    """A student's Algorithm 1: right (with either warm-up tool), or one θ for all tasks, a warm-up on the first
    task, line 8 left out or once per task, n_trpo samples per collection, every task's goal from a new stream, or
    n_inner_train warm-up rounds."""
    learner = slbo.Learner(family, slbo_cfg, dyn, trpo_cfg, seed=seed)
    rng, policy = np.random.default_rng(seed), None
    for _ in range(cfg.n_tasks):
        rng = np.random.default_rng(seed) if goals == "new stream" else rng
        psi = tasks.sample_goals(family, 1, rng)[0]
        policy = learner.new_policy() if fresh or policy is None else policy
        if len(learner.data) > 0 or first_warmup:
            if warm_with == "warm_up":
                smtl.warm_up(learner, policy, psi, getattr(cfg, warmup_rounds))
            else:
                slbo.virtual_training(learner, policy, psi, getattr(cfg, warmup_rounds), warn=False)
        for _ in range(cfg.n_slbo_train):
            slbo.collect(learner, policy, psi, getattr(slbo_cfg, samples))
            if line8 == "each" and cfg.n_inner_train > 0:
                slbo.virtual_training(learner, policy, psi, cfg.n_inner_train, warn=False)
        if line8 == "once":
            slbo.virtual_training(learner, policy, psi, cfg.n_inner_train * cfg.n_slbo_train, warn=False)
    return learner


WRONG = [
    ("model_loss", {"multi_step_loss": partial(_loss_rollout, feed="teacher")}, "teacher forcing"),
    ("model_loss", {"multi_step_loss": partial(_loss_rollout, feed="detached")}, "is ŝ detached"),
    ("model_loss", {"multi_step_loss": partial(_loss_rollout, error="mse")}, "is squared"),
    ("model_loss", {"multi_step_loss": partial(_loss_rollout, error="sum")}, "not divided by √obs_dim"),
    ("model_loss", {"multi_step_loss": partial(_loss_rollout, error="state")}, "state's own units"),
    ("model_loss", {"multi_step_loss": partial(_loss_delta_student, step="no mean")}, "leaves out Δ̄"),
    ("model_loss", {"multi_step_loss": partial(_loss_delta_student, step="no std")}, "leaves out σ_Δ"),
    ("model_loss", {"multi_step_loss": partial(_loss_delta_student, target="predicted")}, "from the predicted"),
    ("gae", {"gae": partial(_gae_student, through_ends=True)}, "runs on across episode ends"),
    ("gae", {"gae": partial(_gae_student, bootstrap="none")}, "after a termination"),
    ("gae", {"gae": partial(_gae_student, bootstrap="e")}, "a time limit does not"),
    ("gae", {"gae": partial(_gae_student, next_v="row")}, "use next_values"),
    ("gae", {"gae": partial(_gae_student, one_step=True)}, "one-step δ_t"),
    ("gae", {"gae": partial(_gae_student, late=True)}, "one step late"),
    ("gae", {"gae": partial(_gae_student, normalise=True)}, "returns them raw"),
    ("gae", {"gae": partial(_gae_student, returns="adv")}, "add values to the advantages"),
    ("natural_gradient", {"conjugate_gradient": partial(_cg_student, stop=False),
                          "fisher_vector_product": fisher_vector_product}, "stop as soon as"),
    ("natural_gradient", {"conjugate_gradient": partial(_cg_student, direction="steepest"),
                          "fisher_vector_product": fisher_vector_product}, "not updated"),
    ("natural_gradient", {"conjugate_gradient": conjugate_gradient,
                          "fisher_vector_product": partial(_fvp_student, damp="none")}, "damping is missing"),
    ("natural_gradient", {"conjugate_gradient": conjugate_gradient,
                          "fisher_vector_product": partial(_fvp_student, damp="number")}, "added as a number"),
    ("natural_gradient", {"conjugate_gradient": conjugate_gradient,
                          "fisher_vector_product": partial(_fvp_student, flat=False)}, "one flat vector"),
    ("virtual_training", {"virtual_training": partial(_vt_student, order="policy first")}, "before the round's model"),
    ("virtual_training", {"virtual_training": partial(_vt_student, batches="one")}, "reuses one batch"),
    ("virtual_training", {"virtual_training": partial(_vt_student, real=True)}, "takes none"),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, fresh=False)}, "initialised once for all tasks"),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, first_warmup=True)}, "no warm-up while D is empty"),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, line8="none")}, "line 8 is missing"),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, line8="once")}, "inside line 6's loop"),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, samples="n_trpo")}, "not n_trpo"),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, goals="new stream")}, "the same goal"),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, warmup_rounds="n_inner_train")}, "line 5 runs n_warmup (here"),
    ("virtual_training", {"virtual_training": partial(_vt_student, clipped_by="last")}, "n_clipped"),
    ("virtual_training", {"virtual_training": partial(_vt_student, stats_over="all rounds")}, "only the last round's"),
    ("virtual_training", {"virtual_training": partial(_vt_student, n_envs=400)}, "envs_for"),
    ("virtual_training", {"virtual_training": partial(_vt_student, generator=False)}, "learner.generator"),
    ("virtual_training", {"virtual_training": partial(_vt_student, fit_steps=2)}, "cfg.n_model"),
    ("gae", {"gae": partial(_gae_student, bootstrap="d", cut="d")}, "only at terminations"),
    ("adaptation", {"adapt": partial(_adapt_student, warmup="none")}, "a fresh policy's"),
    ("adaptation", {"adapt": partial(_adapt_student, warmup="train")}, "runs the training's n_warmup"),
    ("adaptation", {"adapt": partial(_adapt_student, score_before_warmup=True)}, "before its warm-up"),
    ("adaptation", {"adapt": partial(_adapt_student, warmup="inner")}, "the warm-up runs n_inner_adapt rounds"),
    ("adaptation", {"adapt": partial(_adapt_student, warmup="no fallback")}, "(with n_warmup_adapt = None: unset"),
    ("adaptation", {"adapt": partial(_adapt_student, warmup="or")}, "test `is None`"),
    ("adaptation", {"adapt": partial(_adapt_student, samples="per stage")}, "spent so far"),
    ("adaptation", {"adapt": partial(_adapt_student, samples="as is")}, "the training's real samples too"),
    ("adaptation", {"adapt": partial(_adapt_student, samples="before collect")}, "read before its stage collects"),
    ("adaptation", {"adapt": partial(_adapt_student, inner="train")}, "runs n_inner_train rounds"),
    ("adaptation", {"adapt": partial(_adapt_student, inner="none")}, "a stage runs no VirtualTraining"),
    ("adaptation", {"adapt": partial(_adapt_student, score_before_vt=True)}, "before its VirtualTraining"),
    ("adaptation", {"adapt": partial(_adapt_student, score="virtual")}, "virtual_return"),
    ("adaptation", {"adapt": partial(_adapt_student, episodes="cfg")}, "cfg.n_eval_episodes = 2"),
    ("adaptation", {"adapt": partial(_adapt_student, episodes="five")}, "over 5 episodes"),
    ("adaptation", {"adapt": partial(_adapt_student, measure_seed=False)}, "its own default seed"),
    ("adaptation", {"adapt": partial(_adapt_student, restore_seed=False)}, "keeps the checkpoint's random streams"),
    ("adaptation", {"adapt": partial(_adapt_student, fresh_each_stage=True)}, "every stage starts from a fresh"),
    ("adaptation", {"adapt": partial(_adapt_student, vt_first=True)}, "before it collects"),
    ("ratings", _ratings(true_rating=lambda virtual, real: real - virtual), "virtual minus the real return"),
    ("ratings", _ratings(model_disagreement=lambda etas: float(np.std(etas))), "not their standard deviation"),
    ("ratings", _ratings(model_disagreement=lambda etas: float(np.mean([abs(a - b) for a in etas for b in etas]))),
     "never with itself"),
    ("ratings", _ratings(skip_task=partial(_skip_student, compare="<=")), "not ≤"),
    ("ratings", _ratings(skip_task=partial(_skip_student, window="all")), "only the last L ratings count"),
    ("ratings", _ratings(skip_task=partial(_skip_student, window="first")), "not the first"),
    ("ratings", _ratings(skip_task=partial(_skip_student, which="1-q")), "(1 − q)-quantile"),
    ("ratings", _ratings(skip_task=partial(_skip_student, stat="mean")), "not its mean"),
    ("ratings", _ratings(skip_task=partial(_skip_student, stat="median")), "not its median whatever q is"),
    ("ratings", _ratings(skip_task=partial(_skip_student, window="L-1")), "holds L − 1 ratings"),
    ("ratings", _ratings(skip_task=partial(_skip_student, window="L+1")), "holds L + 1 ratings"),
    ("ratings", _ratings(skip_task=lambda mu, ratings, q, L: bool(ratings) and
                         mu < float(np.quantile(ratings[-L:], q))), "never skip"),
    ("ratings", _ratings(skip_task=lambda mu, ratings, q, L: len(ratings) > L and mu < np.quantile(ratings[-L:], q)),
     "exactly L ratings"),
    ("ratings", _ratings(skip_task=lambda mu, ratings, q, L: len(ratings) >= L and mu > np.quantile(ratings[-L:], q)),
     "inverted"),
    ("ratings", _ratings(model_disagreement=lambda etas: float(np.mean(np.abs(np.diff(etas))))), "neighbouring"),
    ("maml_step", {"inner_step": partial(_inner_student, sign=-1.0), "meta_objective": _meta_student},
     "the step descends"),
    ("maml_step", {"inner_step": partial(_inner_student, scale=False), "meta_objective": _meta_student},
     "not scaled by α"),
    ("maml_step", {"inner_step": partial(_inner_student, masked=False), "meta_objective": _meta_student},
     "invalid steps"),
    ("maml_step", {"inner_step": _inner_student, "meta_objective": partial(_meta_student, inner=_inner_student,
                                                                          first_order=True)}, "create_graph"),
    ("maml_step", {"inner_step": maml.inner_step, "meta_objective": partial(_meta_student, kl_reversed=True)},
     "the KL runs the other way"),
    ("maml_step", {"inner_step": maml.inner_step, "meta_objective": partial(_meta_student, pooled=True)},
     "J pools every task's valid steps"),
    ("maml_step", {"inner_step": maml.inner_step, "meta_objective": partial(_meta_student, detached=True)},
     "is θ' detached"),
]


# The mistakes whose diagnosis trains several small runs go to the full suite; the fast subset keeps one of each kind
# (or, for the adaptation, several small adaptations)
_SLOW_MISTAKES = {"inside line 6's loop", "line 5 runs n_warmup (here", "the same goal", "line 8 is missing",
                  "envs_for", "learner.generator", "cfg.n_model", "only the last round's", "its own default seed",
                  "every stage starts from a fresh",
                  "keeps the checkpoint's random streams", "before it collects", "over 5 episodes",
                  "cfg.n_eval_episodes = 2", "test `is None`", "the warm-up runs n_inner_adapt rounds",
                  "a stage runs no VirtualTraining", "before its VirtualTraining"}


@pytest.mark.parametrize("name,fns,cause", [pytest.param(*w, marks=slow) if w[2] in _SLOW_MISTAKES else w
                                            for w in WRONG], ids=[f"{n}: {c}" for n, _, c in WRONG])
def test_exercise_check_fails_a_known_mistake_and_names_its_cause(name, fns, cause):
    ok, message = _verdict(name, fns)
    assert not ok and cause in message, message


RIGHT = [  # right answers written otherwise than the reference (loops, other ops): float rounding apart, the same
    ("model_loss", {"multi_step_loss": _loss_rollout}),
    ("model_loss", {"multi_step_loss": _loss_delta_student}),
    ("gae", {"gae": _gae_student}),
    ("natural_gradient", {"conjugate_gradient": _cg_student, "fisher_vector_product": _fvp_student}),
    ("virtual_training", {"virtual_training": _vt_student}),
    ("smtl_loop", {"smtl_loop": _loop_student}),
    ("smtl_loop", {"smtl_loop": partial(_loop_student, warm_with="warm_up")}),
    ("adaptation", {"adapt": _adapt_student}),
    ("adaptation", {"adapt": partial(_adapt_student, one_call=True)}),
    ("ratings", _ratings(skip_task=_skip_student)),
    ("maml_step", {"inner_step": _inner_student, "meta_objective": partial(_meta_student, inner=_inner_student)}),
]


def test_exercise_check_computes_the_references_side_once_and_hands_out_copies():
    """The checks of many answers share the reference's runs (once_per_process); an answer that changes what it was
    given (a checkpoint, a learner) must not change what the next answer is compared with."""
    calls = []
    run = exercise_grade.once_per_process(lambda kind=None: calls.append(kind) or {"curve": [1.0, 2.0]})
    first = run("a")
    first["curve"].append(99.0)
    assert run("a") == {"curve": [1.0, 2.0]} and run() == {"curve": [1.0, 2.0]} and calls == ["a", None]


@pytest.mark.parametrize("name,fns", RIGHT, ids=[n for n, _ in RIGHT])
def test_exercise_check_passes_a_right_answer_written_otherwise(name, fns):
    ok, message = _verdict(name, fns)
    assert ok, message


def test_exercise_check_refuses_a_copy_of_the_reference(tmp_path, monkeypatch):
    """A student's file that imports the function it is to write, binds it, calls it from inside, or imports the
    checks (which hold the reference's runs), fails in one line, never with a traceback (before, a GAE calling trpo.gae
    recursed into itself in the learning run)."""
    import types
    for source, words in [("from trpo import gae as _g\n\ndef gae(*a):\n    return _g(*a)\n", "binds _g to trpo.gae"),
                          ("import trpo\n\ndef gae(*a):\n    return trpo.gae(*a)\n", "line 4 uses trpo.gae"),
                          ("def gae(*a):\n    from trpo import gae\n    return gae(*a)\n", "line 2 imports trpo.gae"),
                          ("import trpo\n\ndef gae(*a, _g=trpo.gae):\n    return _g(*a)\n", "a default argument"),
                          ("from exercises.checks_slbo import _gae_forwards\n\ndef gae(*a):\n    return 0\n",
                           "line 1 imports the exercises' own modules"),
                          ("def gae(*a):\n    import exercises.checks as c\n    return c\n", "line 2 imports the")]:
        path = tmp_path / "copied.py"
        path.write_text(source)
        module = types.ModuleType("exercises.gae")
        module.__file__ = str(path)
        exec(compile(source, str(path), "exec"), module.__dict__)
        monkeypatch.setitem(sys.modules, "exercises.gae", module)
        ok, message = exercise_check.run("gae", learn=False)
        assert not ok and words in message and "copying the reference is not an answer" in message, message
        assert "\n" not in message
    # a call from inside the function, hidden from the source (a getattr), trips when it runs, in one line
    sneaky = {"gae": lambda *a: getattr(__import__("trpo"), "g" + "ae")(*a)}
    ok, message = exercise_check.run("gae", learn=False, fns=sneaky)
    assert not ok and "calls trpo.gae" in message and "copying" in message, message


@slow
def test_exercise_learning_verdict_passes_a_right_answer_written_otherwise():
    """The learning verdict on this machine, over the check's 3 seeds in 2 processes: a GAE written as a loop over
    steps in float64 (other float rounding than trpo.gae, so other runs) learns. The bar rests on many more seeds and
    on the loop over rows and steps too (the next test)."""
    runs, best, ok = exercise_check.learns("gae", {"gae": _gae_by_step})
    assert ok and 1 <= len(runs) <= len(exercise_check.LEARN_SEEDS) and best <= exercise_check.LEARN_BAR, runs


def test_exercise_learning_bar_separates_the_measured_right_and_wrong_answers():
    """The committed measurement (python -m lab.probes exercise_bar) of the reference, a right answer with other
    rounding and two wrong ones on 12 seeds, read with the check's own stages and bar: any 3 seeds of a right answer
    hold one that learns, no seed of a wrong one learns."""
    m = store.read_json(os.path.join(pages.EXERCISES_DIR, "learning.json"))
    assert m["bar"] == exercise_check.LEARN_BAR and m["stages"] == exercise_check.LEARN_STAGES
    assert m["n_seeds_per_verdict"] == len(exercise_check.LEARN_SEEDS) and len(m["seeds"]) >= 12
    right, wrong = (m["ratio"]["reference"] + m["ratio"]["loop"]), (m["ratio"]["one-step"] + m["ratio"]["none"])
    assert sorted(right)[-len(exercise_check.LEARN_SEEDS)] <= m["bar"] < min(wrong) and m["separated"]


# exercises/experiments.py: the answers are computed from the runs' files, paired as the runs are
def test_experiment_exercise_replays_the_skip_rule_from_a_training_log():
    rng, q, L = np.random.default_rng(0), 0.4, 3
    log, ratings = [{"task": 0, "rating": None, "skipped": False}], []  # the first task has no warm-up to rate
    for task in range(1, 30):  # as smtl.train: rate, decide against the ratings before, then remember the rating
        mu = float(rng.normal())
        log.append({"task": task, "rating": mu, "skipped": smtl.skip_task(mu, ratings, q, L)})
        ratings.append(mu)
    replay = experiments.thresholds(log, q, L)
    assert [t for t, *_ in replay] == list(range(1, 30)) and any(s for *_, s in replay)
    assert all(thr is None for _, _, thr, _ in replay[:L])  # no threshold before L ratings
    assert all(skipped == (mu < thr) for _, mu, thr, skipped in replay[L:])


def _adapted(tmp_path, name, returns, goals):
    """An experiment folder with SMTL adapted to goals: returns (n_seeds, n_goals, n_stages); its checked arguments."""
    out = tmp_path / name
    for s, by_goal in enumerate(returns):
        store.write_json({}, str(out / f"s{s}" / "train.json"))
        for i, curve in enumerate(by_goal):
            store.write_json({"goal": goals[i], "wall_s": 1.0, "curve": [
                {"samples": 4000 * k, "return": r, "ep_len": 200, "vel_err": 0.5} for k, r in enumerate(curve)]},
                str(out / f"s{s}" / "adapt" / "smtl" / f"goal{i:02d}.json"))
    return argparse.Namespace(out=str(out), seeds=list(range(len(returns))), n_goals=len(goals))


def test_experiment_exercise_pairs_two_runs_by_seed_and_goal(tmp_path):
    """The adaptation answer's differences are paired over (seed, goal). Fails if pairing is lost (the intervals would
    overlap), if runs on other goals are paired goal by goal, or if runs from other seeds are compared at all."""
    rng, goals = np.random.default_rng(1), [[0.5], [1.0], [1.5]]
    a = rng.normal(-100, 30, size=(2, 3, 2))  # goals far apart, the runs a small step apart: pairing matters
    b = a + 2.0 + rng.normal(0, 0.1, size=a.shape)
    rows, _ = experiments.adaptation({"a": _adapted(tmp_path, "a", a.tolist(), goals),
                                      "b": _adapted(tmp_path, "b", b.tolist(), goals)})
    for stage in (0, 1):
        row = next(r for r in rows if r["run"] == "b" and r["stage"] == stage)
        assert row["difference"] == pytest.approx((b - a)[..., stage].mean())
        assert row["verdict"] == "above" and row["difference_ci"][0] > 1.5  # unpaired, the intervals would overlap
    # other goals (a shift of Ψ) are shown but never paired; other seeds are refused
    rows, _ = experiments.adaptation({"a": _adapted(tmp_path, "a", a.tolist(), goals),
                                      "c": _adapted(tmp_path, "c", b.tolist(), [[-0.5], [-1.0], [-1.5]])})
    assert all(r["difference"] is None and r["verdict"] == "other goals: not paired" for r in rows if r["run"] == "c")
    with pytest.raises(ValueError, match="different seeds"):
        experiments.adaptation({"a": _adapted(tmp_path, "a", a.tolist(), goals),
                                "d": _adapted(tmp_path, "d", b[:1].tolist(), goals)})


def test_exercise_course_order_lists_every_exercise_once():
    from exercises import bugs
    assert sorted(exercise_check.COURSE) == sorted([*exercise_checks.EXERCISES, *experiments.EXPERIMENTS, *bugs.BUGS])
    answers = open(os.path.join(os.path.dirname(pages.EXERCISES_MD), "exercise-answers.md")).read()
    for name in bugs.BUGS:  # each find-the-bug problem has its answer, apart from the question, naming a line
        listing = bugs.listing(name).split("\n")
        line = int(re.search(rf'<a id="{name}"></a>\n## `{name}`\n\n\*\*Line (\d+)\*\*', answers).group(1))
        assert 1 <= line <= len(listing) and f"{line:2d}  " in listing[line - 1]


def test_every_experiment_exercise_has_its_committed_answer_and_figure():
    for name in experiments.EXPERIMENTS:
        answer = store.read_json(os.path.join(pages.EXERCISES_DIR, f"{name}.json"))
        assert answer["preset"] == "quick" and answer["answer"], name  # run once at the stated preset
        assert os.path.exists(os.path.join(pages.EXERCISES_DIR, f"{name}.png")), name
        # today's runs (the same options, in any order) from the seeds the answer names
        seeds = re.search(r"--seeds (\S+)", next(iter(answer["runs"].values()))).group(1)
        options = lambda command: sorted(re.split(r" (?=--)", command))  # noqa: E731
        assert {k: options(v) for k, v in answer["runs"].items()} == \
            {k: options(f"python run.py {v}") for k, v in experiments.commands(name, seeds).items()}, name


@slow
def test_experiment_exercises_run_and_answer_from_their_files(tmp_path):
    for name in ("warmup", "selection"):
        with pytest.raises(SystemExit) as e:
            run.main(["exercise", name, "--preset", "smoke", "--root", str(tmp_path), "--workers", "1", "--seeds", "0"])
        assert e.value.code == 0
        answer = store.read_json(str(tmp_path / "exercises" / f"{name}.json"))
        assert os.path.exists(tmp_path / "exercises" / f"{name}.png") and len(answer["folders"]) == 2
    rows = store.read_json(str(tmp_path / "exercises" / "selection.json"))["answer"]
    for row, folder in zip(rows, store.read_json(str(tmp_path / "exercises" / "selection.json"))["folders"].values()):
        log = store.read_csv(os.path.join(folder, "s0", "smtl-active-estimated.csv"))
        assert (row["seen"], row["skipped"]) == (len(log), sum(r["skipped"] for r in log))
