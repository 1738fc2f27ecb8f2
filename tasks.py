"""Task families of the paper's Section 5: MuJoCo tasks that share dynamics and differ in reward.

A family (e.g. "cheetah-vel": half-cheetah, goal velocity ψ ~ U[0, 2]) fixes the body, the goal space
Ψ and two pure, batched functions `reward(obs, act, next_obs, goal)` and `done(next_obs)`. The real
environment (a wrapper over gymnasium's v5 MuJoCo env) and the learned-model environment
(dynamics.VirtualEnv) score transitions with these same functions, so a policy trained in the model
is judged by exactly the reward it will get in reality (paper footnote 4: contact cost is dropped so
the reward is a function of the state). Also here: the test-time shifts of Section 5.3 / Figure 2
(positive→negative goals, low friction, crippled ant) and the fixed 40 held-out evaluation goals.

    fam = get_family("cheetah-vel")
    env = make_env(fam, goal=1.0, seed=0)                  # gymnasium env, horizon 200
    r = fam.reward(obs, act, next_obs, goal=np.array([1.0]))  # numpy or torch, batch first
"""
import warnings
import zlib
from dataclasses import dataclass

import gymnasium as gym
import mujoco
import numpy as np
import torch

HORIZON = 200  # H: every task is a 200-step episode (Section 5)
N_EVAL = 40  # held-out evaluation tasks per family (Section 5.1)
EVAL_SEED = 1907_04964  # seed of the fixed evaluation split (the paper's arXiv number)
GOAL_BLOCK = 8  # goal splits come in blocks of 8 (the quick preset's panel) that each cover the goal space
TUNING_SEED = 2019_0706  # seed of the tuning split: every benchmark, probe and preset choice uses these goals instead
VIDEO_SIZE = (400, 300)  # rendered frames, width × height


# ---------------------------------------------------------------------------------------------
# Bodies: what the reward needs to know about each MuJoCo model. Observation layouts, time steps and healthy ranges
# are gymnasium 1.4's v5 envs (gymnasium/envs/mujoco/*_v5.py); reward constants and goal ranges are the SMTL
# authors' (their multi-task SLBO code, github.com/nlandolfi/slbo); tests check all of them against MuJoCo and
# gymnasium.
# NOTE (differs from paper): gymnasium's v5 MuJoCo models replace rllab's, because rllab and mujoco-py are unmaintained;
# their time steps differ (half-cheetah and ant 0.05 s, humanoid 0.015 s), so absolute returns are not the paper's.
# ---------------------------------------------------------------------------------------------
_BODIES = {
    "cheetah": dict(
        env_id="HalfCheetah-v5", env_kwargs={}, obs_dim=17, act_dim=6, act_bound=1.0, dt=0.05, qpos_skip=1,
        reset_noise=0.1, qvel_noise="normal",  # reset: qpos + U(±0.1), qvel + 0.1·N(0, 1)
        vel_index=(8, None),  # obs = qpos[1:] (8) + qvel (9): v_x = qvel[0] = obs[8]
        z_index=None, healthy_z=None, healthy_open=False,  # never terminates
        ctrl_cost=0.05, alive_bonus=0.0, track_offset=0.0,
    ),
    "ant": dict(
        env_id="Ant-v5", env_kwargs=dict(include_cfrc_ext_in_observation=False),
        obs_dim=27, act_dim=8, act_bound=1.0, dt=0.05, qpos_skip=2, reset_noise=0.1, qvel_noise="normal",
        vel_index=(13, 14),  # obs = qpos[2:] (13) + qvel (14): v_x, v_y = obs[13], obs[14]
        z_index=0, healthy_z=(0.2, 1.0), healthy_open=False,  # healthy iff 0.2 ≤ z ≤ 1.0, z = qpos[2] = obs[0]
        ctrl_cost=0.005, alive_bonus=0.05, track_offset=1.0,
    ),
    "humanoid": dict(
        env_id="Humanoid-v5",
        env_kwargs=dict(include_cinert_in_observation=False, include_cvel_in_observation=False,
                        include_qfrc_actuator_in_observation=False, include_cfrc_ext_in_observation=False),
        obs_dim=45, act_dim=17, act_bound=0.4, dt=0.015, qpos_skip=2,
        reset_noise=0.01, qvel_noise="uniform",  # reset: qpos + U(±0.01), qvel + U(±0.01)
        vel_index=(22, 23),  # obs = qpos[2:] (22) + qvel (23): v_x = obs[22]
        z_index=0, healthy_z=(1.0, 2.0), healthy_open=True,  # healthy iff 1.0 < z < 2.0 (strict, as v5)
        # NOTE (differs from paper): gymnasium's Humanoid-v5 replaces rllab's "simple humanoid",
        # because rllab's model has no gymnasium equivalent. Reward as the authors' code: no ctrl cost.
        ctrl_cost=0.0, alive_bonus=0.2, track_offset=0.8,
    ),
}

# Task families: (env, task) -> goal kind and goal space Ψ (Section 5, Figure 1; MAML's classic tasks).
_TASKS = {
    ("cheetah", "vel"): ("velocity", [0.0], [2.0]),
    ("cheetah", "vel-full"): ("velocity", [-2.0], [2.0]),
    ("cheetah", "fwd-back"): ("direction", [-1.0], [1.0]),
    ("ant", "vel"): ("velocity", [0.0], [3.0]),
    ("ant", "vel-full"): ("velocity", [-3.0], [3.0]),
    ("ant", "fwd-back"): ("direction", [-1.0], [1.0]),
    ("ant", "vel2d"): ("velocity", [-3.0, -3.0], [3.0, 3.0]),
    ("humanoid", "vel"): ("velocity", [0.0], [1.5]),
    ("humanoid", "vel-full"): ("velocity", [-1.5], [1.5]),
}

# Test-time shifts of Section 5.3 (Figure 2): a goal shift changes Ψ only, a dynamics shift the MuJoCo model only.
SHIFTS = {
    "pos2neg": "goals from the negated interval [-b, 0] at test time (train on [0, b])",
    "low-friction": "every friction coefficient of the MuJoCo model halved",
    "crippled": "one ant leg disabled: the two actuators of leg 4 produce no force",
}
_CRIPPLED_JOINTS = ("hip_4", "ankle_4")


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _like(goal, x):
    """The goal as the same array type (numpy / torch, dtype, device) as x."""
    if isinstance(x, torch.Tensor):
        return torch.as_tensor(goal, dtype=x.dtype, device=x.device)
    return np.asarray(goal, dtype=x.dtype)


def _never(next_obs):
    if isinstance(next_obs, torch.Tensor):
        return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)
    return np.zeros(next_obs.shape[:-1], dtype=bool)


def _mujoco_warning(msg):
    # Humanoid-v5's XML uses an attribute MuJoCo 4 deprecates; that notice is gymnasium's, not ours.
    if "settotalmass" not in msg:
        warnings.warn(f"MuJoCo: {msg}", RuntimeWarning, stacklevel=2)


mujoco.set_mju_user_warning(_mujoco_warning)  # MuJoCo's warnings as Python's, not a MUJOCO_LOG.TXT here


# ---------------------------------------------------------------------------------------------
# Task family
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    """One task family {(S, A, M, r_ψ, p0)}_{ψ∈Ψ} of Section 2.2: one body, many rewards."""
    name: str
    env: str
    task: str
    kind: str  # "velocity": match a goal velocity; "direction": run fast in direction ψ ∈ {−1, +1}
    goal_low: tuple
    goal_high: tuple
    env_id: str
    env_kwargs: dict
    obs_dim: int
    act_dim: int
    act_bound: float
    dt: float
    vel_index: tuple
    z_index: int | None
    healthy_z: tuple | None
    healthy_open: bool  # the healthy z-interval excludes its ends (Humanoid-v5) or includes them (Ant-v5)
    ctrl_cost: float
    alive_bonus: float
    track_offset: float
    horizon: int = HORIZON
    qpos_skip: int = 0  # the observation is qpos[qpos_skip:] then qvel (v5's exclude_current_positions)
    frame_skip: int = 5  # MuJoCo steps per env step (dt = frame_skip · timestep)
    reset_noise: float = 0.1  # v5's reset_noise_scale
    qvel_noise: str = "normal"  # a reset adds reset_noise · N(0, 1) to qvel, or U(±reset_noise) ("uniform")

    @property
    def goal_dim(self):
        return len(self.goal_low)

    @property
    def act_low(self):
        return np.full(self.act_dim, -self.act_bound, dtype=np.float32)  # as the env's action Box

    @property
    def act_high(self):
        return np.full(self.act_dim, self.act_bound, dtype=np.float32)

    def reward(self, obs, act, next_obs, goal):
        """r_ψ(s, a, s'), batched: obs/next_obs (batch, obs_dim), act (batch, act_dim),
        goal (goal_dim,) or (batch, goal_dim); numpy or torch. Returns (batch,)."""
        g = _like(goal, next_obs)
        # NOTE (differs from paper): v is the root velocity read from s' (gymnasium's own reward takes a finite
        # difference of positions), so that the learned model's reward is the same function of (s, a, s')
        v_x = next_obs[..., self.vel_index[0]]  # (batch,)
        if self.kind == "direction":
            # forward/backward: r_v = ψ · v_x
            r_v = g[..., 0] * v_x
        else:
            # goal velocity: r_v = Σ_j (c − |v_j − ψ_j|), per axis j for the 2-D task (the authors' ant2d_task_env
            # adds c = 1 on each axis: standing still pays while |ψ_x| + |ψ_y| < 2c + alive bonus)
            r_v = -abs(v_x - g[..., 0]) + self.track_offset
            if self.goal_dim == 2:
                r_v = r_v - abs(next_obs[..., self.vel_index[1]] - g[..., 1]) + self.track_offset
        # r = r_v + alive bonus − c_ctrl ‖a‖²   (no contact cost: footnote 4)
        return r_v + self.alive_bonus - self.ctrl_cost * (act ** 2).sum(-1)

    def done(self, next_obs):
        """Termination from the next state alone, batched: (batch, obs_dim) -> (batch,) bool. As gymnasium's v5
        envs: the torso height z leaves the healthy interval (a non-finite z counts as unhealthy)."""
        if self.healthy_z is None:
            return _never(next_obs)
        z, (lo, hi) = next_obs[..., self.z_index], self.healthy_z  # (batch,) torso height
        healthy = ((lo < z) & (z < hi)) if self.healthy_open else ((lo <= z) & (z <= hi))
        return ~healthy

    def goal_space(self, shift=None):
        """Ψ as a gymnasium Box; the pos2neg shift negates it ([0, b] -> [-b, 0])."""
        lo, hi = np.array(self.goal_low), np.array(self.goal_high)
        if shift == "pos2neg":
            lo, hi = -hi, -lo
        return gym.spaces.Box(lo, hi, dtype=np.float64)


def _build_families():
    families = {}
    for (env, task), (kind, lo, hi) in _TASKS.items():
        name = f"{env}-{task}"
        families[name] = Family(name=name, env=env, task=task, kind=kind,
                                goal_low=tuple(lo), goal_high=tuple(hi), **_BODIES[env])
    return families


FAMILIES = _build_families()


def get_family(family):
    """A Family from its name (or the Family itself); a clear ValueError for an unknown name."""
    if isinstance(family, Family):
        return family
    if family not in FAMILIES:
        raise ValueError(f"unknown task family {family!r}; choose one of: {', '.join(FAMILIES)}")
    return FAMILIES[family]


def check_shift(family, shift):
    """The shift if it applies to the family, else a clear ValueError."""
    fam = get_family(family)
    if shift is None:
        return None
    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}; choose one of: {', '.join(SHIFTS)}")
    if shift == "pos2neg" and not (fam.kind == "velocity" and min(fam.goal_low) >= 0):
        raise ValueError(f"shift 'pos2neg' needs a family with non-negative goal velocities, not {fam.name!r}")
    if shift == "crippled" and fam.env != "ant":
        raise ValueError(f"shift 'crippled' is defined for the ant only, not {fam.name!r}")
    return shift


def check_goal(family, goal, shift=None):
    """ψ as a float64 array (goal_dim,) if it lies in the family's (shifted) goal space, else ValueError."""
    fam = get_family(family)
    g = np.asarray(goal, dtype=np.float64)
    if g.ndim == 0:
        g = g[None]
    if g.shape != (fam.goal_dim,):
        raise ValueError(f"goal for {fam.name!r} must have shape ({fam.goal_dim},), got {np.shape(goal)}")
    space = fam.goal_space(check_shift(fam, shift))
    if fam.kind == "direction":
        if g[0] not in (-1.0, 1.0):
            raise ValueError(f"goal for {fam.name!r} is a direction, -1 or +1, got {g[0]}")
    elif not (np.all(np.isfinite(g)) and space.contains(g)):
        raise ValueError(f"goal {g.tolist()} is outside {fam.name!r}'s goal space "
              f"[{space.low.tolist()}, {space.high.tolist()}]" + (f" (shift {shift})" if shift else ""))
    return g


def sample_goals(family, n, rng, shift=None):
    """n training goals ψ ~ p(ψ) (uniform on Ψ; ±1 with equal odds for directions): (n, goal_dim)."""
    fam = get_family(family)
    if fam.kind == "direction":
        return rng.choice([-1.0, 1.0], size=(n, 1))
    space = fam.goal_space(check_shift(fam, shift))
    return rng.uniform(space.low, space.high, size=(n, fam.goal_dim))


def eval_goals(family, n=N_EVAL, shift=None):
    """The fixed held-out evaluation goals (n, goal_dim): a seeded stream of its own per family, apart from any
    training stream. Each block of GOAL_BLOCK goals covers Ψ (one goal per eighth of each dimension's range), and
    directions are balanced in every even-length prefix (half forward, half backward), so that a panel's first goals
    represent p(ψ). Only the adaptation stage (run.py) reads them: benchmarks, probes and preset choices use
    tuning_goals (a test keeps it so)."""
    return _goal_split(family, n, shift, EVAL_SEED)


def tuning_goals(family, n=N_EVAL, shift=None):
    """Goals for benchmarks and hyperparameter probes (n, goal_dim), drawn as eval_goals are from a stream of their
    own, so that no choice of the code or its presets rests on an evaluation goal."""
    return _goal_split(family, n, shift, TUNING_SEED)


def _goal_split(family, n, shift, seed):
    fam = get_family(family)
    rng = np.random.default_rng([seed, zlib.crc32(fam.name.encode())])
    if fam.kind == "direction":  # pairs of (forward, backward) in random order: every even-length prefix is balanced
        return np.stack([rng.permutation([1.0, -1.0]) for _ in range((n + 1) // 2)]).reshape(-1, 1)[:n]  # (n, 1)
    space = fam.goal_space(check_shift(fam, shift))
    blocks = []
    for _ in range(-(-n // GOAL_BLOCK)):
        # NOTE (differs from paper): the paper samples its 40 goals from p(ψ); here each block of 8 is a Latin
        # hypercube (one goal in each eighth of each dimension's range, paired across dimensions at random) because a
        # panel scored on 8 plain draws can miss part of Ψ: each goal is still uniform on Ψ
        strata = np.stack([rng.permutation(GOAL_BLOCK) for _ in range(fam.goal_dim)], 1)  # (GOAL_BLOCK, goal_dim)
        u = (strata + rng.uniform(size=strata.shape)) / GOAL_BLOCK  # (GOAL_BLOCK, goal_dim) in [0, 1)
        blocks.append(space.low + u * (space.high - space.low))
    return np.concatenate(blocks)[:n]  # (n, goal_dim)


def _apply_shift(model, shift):
    """Change the MuJoCo model in place for a dynamics shift (goal shifts leave it alone)."""
    if shift == "low-friction":
        model.geom_friction[:] *= 0.5  # sliding, torsional and rolling coefficients of every geom
    elif shift == "crippled":
        # NOTE (differs from paper): "one leg disabled" as gear 0 on leg 4's two motors; the geometry is unchanged
        for i in range(model.nu):  # gear 0: the leg's motors still take commands but exert no torque
            if mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, model.actuator_trnid[i, 0]) in _CRIPPLED_JOINTS:
                model.actuator_gear[i, 0] = 0.0


class TaskEnv(gym.Env):
    """A gymnasium MuJoCo v5 body whose reward and termination are the family's own functions.

    Truncation at the horizon comes from the TimeLimit that `gymnasium.make` / `make_env` add. info["v5_terminated"]
    is the underlying v5 env's own termination, which tests compare with family.done."""

    metadata = {"render_modes": ["rgb_array"]}  # (instances: the v5 env's metadata, with its frame rate)

    def __init__(self, family, goal, shift=None, render_mode=None):
        self.family = get_family(family)
        self.shift = check_shift(self.family, shift)
        self.goal = check_goal(self.family, goal, self.shift)  # ψ (goal_dim,)
        # frames from the model's "track" camera, which follows the body's centre of mass: a runner stays in view
        frame = dict(width=VIDEO_SIZE[0], height=VIDEO_SIZE[1], camera_name="track") if render_mode else {}
        self.mj = gym.make(self.family.env_id, render_mode=render_mode, **frame, **self.family.env_kwargs).unwrapped
        _apply_shift(self.mj.model, self.shift)
        self.observation_space, self.action_space = self.mj.observation_space, self.mj.action_space
        self.metadata, self.render_mode = self.mj.metadata, render_mode
        self._obs = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._obs, info = self.mj.reset(seed=seed)
        return self._obs, info

    def step(self, action):
        next_obs, _, v5_terminated, _, info = self.mj.step(action)
        s, a, s_next = self._obs[None], np.asarray(action, dtype=np.float64)[None], next_obs[None]  # (1, ·)
        reward = float(self.family.reward(s, a, s_next, self.goal)[0])
        terminated = bool(self.family.done(s_next)[0])
        self._obs = next_obs
        return next_obs, reward, terminated, False, {**info, "v5_terminated": bool(v5_terminated)}

    def render(self):
        return self.mj.render()

    def close(self):
        self.mj.close()


def env_id(family):
    """The gymnasium id under which a family is registered, e.g. 'SMTL/cheetah-vel-v0'."""
    return f"SMTL/{get_family(family).name}-v0"


for _name in FAMILIES:
    gym.register(env_id(_name), entry_point=TaskEnv, max_episode_steps=HORIZON, kwargs={"family": _name})


def make_env(family, goal, shift=None, seed=None, render_mode=None):
    """A real env for task ψ = goal (TimeLimit at the horizon). With a seed, its RNGs are seeded
    by a first reset(seed) here; later resets continue that stream. render_mode "rgb_array": MuJoCo's
    offscreen renderer (VIDEO_SIZE, the model's tracking camera, which follows the body)."""
    fam = get_family(family)
    env = gym.make(env_id(fam), goal=check_goal(fam, goal, shift), shift=shift, render_mode=render_mode)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


class VecEnv:
    """n real copies of a family's task (one goal each) on one MuJoCo model, stepped together: the real env of every
    rollout. n MjData share the v5 env's (possibly shifted) MjModel; a step runs frame_skip MuJoCo steps per copy,
    then scores the whole batch with the family's batched reward and termination, as the learned model does. An
    episode that ends (a fall, or the horizon) resets in the same step from its copy's own random stream, the true
    last state in info["final_obs"]. gymnasium's vector API (reset, step, set_attr("goal"), num_envs, single_*_space).
    Fast path; plain equivalent, to the bit and tested for every family and each shift on each body:
    gym.vector.SyncVectorEnv([gym.make(env_id(family), goal=g, shift=shift) for g in goals],
    autoreset_mode=SAME_STEP)."""

    def __init__(self, family, goals, shift=None):
        self.family = fam = get_family(family)
        self.shift = check_shift(fam, shift)
        goals = np.asarray(goals, np.float64).reshape(-1, fam.goal_dim)  # (n_envs, goal_dim)
        self.goal = np.stack([check_goal(fam, g, shift) for g in goals])
        v5 = gym.make(fam.env_id, **fam.env_kwargs).unwrapped  # its model (XML and options) and initial state
        self.model, self.init_qpos, self.init_qvel = v5.model, v5.init_qpos.copy(), v5.init_qvel.copy()
        self.single_observation_space, self.single_action_space = v5.observation_space, v5.action_space
        _apply_shift(self.model, self.shift)
        self.num_envs = len(self.goal)
        self.data = [mujoco.MjData(self.model) for _ in range(self.num_envs)]
        self.rng = [gym.utils.seeding.np_random()[0] for _ in range(self.num_envs)]  # each copy's reset noise
        self.t = np.zeros(self.num_envs, dtype=int)  # steps into each copy's episode
        self.obs = np.zeros((self.num_envs, fam.obs_dim))  # (n_envs, obs_dim) the current states s

    def set_attr(self, name, values):
        """Re-target the copies: set_attr("goal", goals), goals (n_envs, goal_dim), without rebuilding the model."""
        if name != "goal":
            raise ValueError(f"VecEnv sets only 'goal', not {name!r}")
        self.goal = np.stack([check_goal(self.family, g, self.shift) for g in values])

    def _reset(self, i):
        """Copy i at a new initial state s0 ~ p0: the v5 env's initial pose and velocities plus its reset noise."""
        f, d, rng = self.family, self.data[i], self.rng[i]
        mujoco.mj_resetData(self.model, d)
        d.qpos[:] = self.init_qpos + rng.uniform(-f.reset_noise, f.reset_noise, self.model.nq)
        noise = rng.standard_normal(self.model.nv) * f.reset_noise if f.qvel_noise == "normal" else \
            rng.uniform(-f.reset_noise, f.reset_noise, self.model.nv)
        d.qvel[:] = self.init_qvel + noise
        mujoco.mj_forward(self.model, d)
        self.t[i] = 0
        self._observe(i)

    def _observe(self, i):
        k = self.model.nq - self.family.qpos_skip
        self.obs[i, :k], self.obs[i, k:] = self.data[i].qpos[self.family.qpos_skip:], self.data[i].qvel

    def reset(self, seed=None):
        """Every copy at a new initial state; with a seed, copy i's stream restarts from seed + i. -> (obs, {})"""
        for i in range(self.num_envs):
            if seed is not None:
                self.rng[i] = gym.utils.seeding.np_random(seed + i)[0]
            self._reset(i)
        return self.obs.copy(), {}

    def step(self, act):
        """act (n_envs, act_dim) in the env's units -> s' (n_envs, obs_dim), r, terminated, truncated (n_envs,), info"""
        a = np.asarray(act, dtype=np.float64)  # (n_envs, act_dim)
        s = self.obs.copy()  # (n_envs, obs_dim)
        for i, d in enumerate(self.data):
            d.ctrl[:] = a[i]
            mujoco.mj_step(self.model, d, nstep=self.family.frame_skip)
            self._observe(i)
        s_next = self.obs.copy()  # (n_envs, obs_dim)
        reward = self.family.reward(s, a, s_next, self.goal)  # (n_envs,)  r_ψ(s, a, s') of each copy's goal
        terminated = self.family.done(s_next)  # (n_envs,)
        self.t += 1
        truncated = self.t >= self.family.horizon  # (n_envs,)  the TimeLimit
        ended, info = terminated | truncated, {}
        if ended.any():
            info = {"final_obs": s_next, "_final_obs": ended}
            for i in np.flatnonzero(ended):
                self._reset(i)
        return self.obs.copy(), reward, terminated, truncated, info

    def close(self):
        pass


def make_vec_env(family, goals, shift=None, seed=None):
    """A VecEnv, one copy per goal (goals (n_envs, goal_dim)), to collect many real rollouts at once; with a seed,
    reset(seed) here."""
    env = VecEnv(family, goals, shift)
    if seed is not None:
        env.reset(seed=seed)
    return env


def set_goals(env, family, goals, shift=None):
    """A make_vec_env with new goals (goals (n_envs, goal_dim)): `env` re-targeted in place, without rebuilding its
    MuJoCo model (MAML and the oracle re-target hundreds of copies per iteration), or a new one if env is None."""
    if env is None:
        return make_vec_env(family, goals, shift)
    env.set_attr("goal", goals)
    return env


def initial_states(family, n, seed=0):
    """n real initial states s0 ~ p0 (n, obs_dim): virtual rollouts start from these. No env steps."""
    fam = get_family(family)
    env = TaskEnv(fam, goal=fam.goal_high)
    s0 = np.stack([env.reset(seed=seed if i == 0 else None)[0] for i in range(n)])  # (n, obs_dim)
    env.close()
    return s0


def applicable_shifts(family):
    """The shifts that apply to a family (None first)."""
    out = [None]
    for shift in SHIFTS:
        try:
            out.append(check_shift(family, shift))
        except ValueError:
            pass
    return out
