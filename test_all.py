"""The test suite: known answers and small learning problems for every concept, CPU only.

Each section tests one file (tasks, dynamics, trpo, slbo). Learning tests assert that learning
happened on a problem small enough to run in seconds; speed targets live in bench.py, never here.

    pip install -r requirements.txt && python -m pytest -q test_all.py
    python -m pytest -q test_all.py -k tasks       # one section
    python -m pytest -q test_all.py -x --durations=10
"""
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import tasks

ALL_FAMILIES = list(tasks.FAMILIES)
FAMILY_SHIFTS = [(f, s) for f in ALL_FAMILIES for s in tasks.applicable_shifts(f)]


# =============================================================================================
# tasks.py
# =============================================================================================
@pytest.mark.parametrize("family,shift", FAMILY_SHIFTS)
def test_tasks_reward_done_velocity_match_real_env(family, shift):
    err = tasks.consistency_errors(family, shift, n_steps=1000, seed=0)
    assert err["reward"] <= 1e-6 and err["done"] == 0 and err["torch"] <= 1e-6
    assert err["velocity"] <= 1e-6  # the obs velocity is MuJoCo's root velocity
    if tasks.get_family(family).healthy_z is not None:
        assert err["n_done"] > 0  # random steps do reach termination, so done was really compared


def test_tasks_reward_values_by_hand():
    obs, nxt = np.zeros((2, 27)), np.zeros((2, 27))
    nxt[:, 13], nxt[:, 14], nxt[:, 0] = [1.0, 2.5], [0.5, -1.0], [0.5, 0.1]
    act = np.ones((2, 8))
    ant2d = tasks.get_family("ant-vel2d")
    r = ant2d.reward(obs, act, nxt, np.array([1.0, 0.0]))
    # −|v_x − g_x| − |v_y − g_y| + 1 + 0.05 − 0.005 · 8
    np.testing.assert_allclose(r, [-0.5 + 1.05 - 0.04, -1.5 - 1.0 + 1.05 - 0.04])
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


def test_tasks_vec_env_final_obs_and_seeding():
    goals = tasks.eval_goals("ant-vel", 3)
    a = tasks.make_vec_env("ant-vel", goals, seed=3)
    b = tasks.make_vec_env("ant-vel", goals, seed=3)
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    act = np.ones((3, 8))
    for _ in range(tasks.HORIZON):
        obs, r, term, trunc, info = a.step(act)
        if (term | trunc).any():
            ended = info["_final_obs"]
            assert np.array_equal(ended, term | trunc)
            assert not np.array_equal(info["final_obs"][ended][0], obs[ended][0])  # obs is the reset state
            return
    pytest.fail("no episode ended within the horizon")


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
        if fam.kind == "direction":
            assert (ev == 1).sum() == (ev == -1).sum() == tasks.N_EVAL // 2
        else:
            assert not np.isin(ev, train).any()  # held out: no evaluation goal is a training goal
    neg = tasks.eval_goals("cheetah-vel", shift="pos2neg")
    assert (neg <= 0).all() and (neg >= -2).all()
    s0 = tasks.initial_states("ant-vel", 5, seed=1)
    assert s0.shape == (5, 27) and len(np.unique(s0[:, 0])) == 5
