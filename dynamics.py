"""The learned dynamics model M̂_φ of SLBO (paper Sec. 2.4, Eq. 4; Algorithm 1, lines 7, 11 and 13).

SMTL transfers this one model across tasks: a state-difference MLP with running normalisers, trained by Adam on the
k-step loss of Eq. (4) over all real data D (line 11), and a batched virtual environment that rolls policies out
inside the model with a task's reward (line 13). Rollout batches are trpo.rollout's (its docstring says their keys).

    model, data = DynamicsModel(obs_dim, act_dim, fam.act_low, fam.act_high), Dataset(obs_dim, act_dim)
    model.update_normalizers(*data.add(batch)); fit(model, data, 100)   # D ← D ∪ {real samples}; 100 Adam steps
    env = VirtualEnv(model, fam, goal, init_states, n_envs=20)          # then trpo.rollout(env, policy, 200)
"""
import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from config import hp



@dataclass(frozen=True)
class DynamicsConfig:
    hidden: tuple = hp((500, 500), "dynamics MLP hidden widths (ReLU)", source="paper, Appendix 7.1")
    k: int = hp(2, "horizon k of the multi-step loss, Eq. (4)", ">= 1", source="SLBO's code")
    batch_size: int = hp(128, "windows of k real transitions per Adam step", ">= 1", source="paper, Appendix 7.1")
    lr: float = hp(1e-3, "dynamics Adam learning rate", "> 0", source="paper, Appendix 7.1")
    weight_decay: float = hp(1e-5, "dynamics L2 weight decay (gradient wd·φ)", ">= 0", source="SLBO's code")
    grad_clip: float = hp(2.0, "dynamics global gradient-norm clip", "> 0", source="SLBO's code")
    clip: float = hp(100.0, "virtual env: predicted states are clipped to |normalised s| ≤ clip; "
                            "clipped states are counted and logged", "> 0", source="SLBO's code")


class ModelDivergedError(RuntimeError):
    """The learned model's loss or predictions became non-finite: the run cannot go on meaningfully."""


def _as_tensor(x, like):
    return torch.as_tensor(x, dtype=like.dtype, device=like.device)


class Normalizer(nn.Module):
    """Running mean/std of all data seen so far; y = (x − x̄) / σ. Buffers (in state_dict): mean, std, count."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))  # x̄ (dim,)
        self.register_buffer("std", torch.ones(dim))  # σ (dim,), floored at eps so forward is a plain divide
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))  # n

    @torch.no_grad()
    def update(self, x):
        """Merge a batch x (n, dim) (numpy or torch) into the running statistics (Chan et al.), in float64."""
        x = torch.as_tensor(x, dtype=torch.float64, device=self.mean.device).reshape(-1, self.mean.shape[0])
        n_b = x.shape[0]
        if n_b == 0:
            return
        n_a, mu_a, var_a = self.count.item(), self.mean.double(), self.std.double() ** 2
        mu_b, var_b = x.mean(0), x.var(0, unbiased=False)  # (dim,) each
        n = n_a + n_b
        delta = mu_b - mu_a  # (dim,)
        # x̄ = x̄_a + δ n_b / n;   σ² = (n_a σ_a² + n_b σ_b² + δ² n_a n_b / n) / n
        self.mean.copy_(mu_a + delta * n_b / n)
        self.std.copy_(((n_a * var_a + n_b * var_b + delta ** 2 * n_a * n_b / n) / n).sqrt().clamp_min(self.eps))
        self.count.fill_(n)

    def forward(self, x):
        return (x - self.mean) / self.std

    def inverse(self, y):
        return torch.addcmul(self.mean, y, self.std)


class DynamicsModel(nn.Module):
    """M̂_φ(s, a) = s + σ_Δ · f_φ((s − s̄)/σ_s, u) + Δ̄, f_φ an MLP [s+a → 500 → 500 → s] with ReLU, where
    u ∈ [−1, 1]^act_dim is the action a clipped to the env's box [mid − half, mid + half] and rescaled, u = (a − mid)
    / half: the model sees actions in the policy's units, as SLBO's does.

    f_φ predicts the normalised state difference; its output layer starts near zero, so the first prediction is
    s + Δ̄. Owns the state normaliser `obs_norm` (shared with policy and value net) and `diff_norm` for Δ = s' − s;
    the caller feeds them all real data with `update_normalizers`. `optimizer` (Adam, made by `fit` on first use)
    persists with the model across tasks; it is not a Module, so save `model.optimizer.state_dict()` separately."""

    def __init__(self, obs_dim, act_dim, act_low, act_high, hidden=DynamicsConfig.hidden):
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.obs_norm, self.diff_norm = Normalizer(obs_dim), Normalizer(obs_dim)
        self.register_buffer("act_low", torch.as_tensor(np.asarray(act_low, dtype=np.float32)).reshape(act_dim))
        self.register_buffer("act_high", torch.as_tensor(np.asarray(act_high, dtype=np.float32)).reshape(act_dim))
        self.register_buffer("act_mid", (self.act_high + self.act_low) / 2)  # (act_dim,)
        self.register_buffer("act_half", (self.act_high - self.act_low) / 2)  # (act_dim,)
        # on the box [−1, 1] (half-cheetah, ant) u = clip(a): no rescale
        self._unit_box = bool((self.act_mid == 0).all() and (self.act_half == 1).all())
        sizes = (obs_dim + act_dim, *hidden, obs_dim)
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))
        # f_φ ≈ 0 at the start. NOTE (differs from SLBO): the output layer's weights ~ N(0, 1e-5²), the hidden layers
        # PyTorch's default; SLBO draws every layer from a normal truncated at 2σ, σ = 1e-5
        nn.init.normal_(self.layers[-1].weight, std=1e-5)
        nn.init.zeros_(self.layers[-1].bias)
        self.optimizer = None

    def delta(self, s, a):
        """f_φ((s − s̄)/σ_s, u): the predicted change s' − s in normalised units, (batch, obs_dim)."""
        u = torch.clamp(a, self.act_low, self.act_high)  # (batch, act_dim)
        if not self._unit_box:
            u = (u - self.act_mid) / self.act_half
        x = torch.cat([self.obs_norm(s), u], -1)  # (batch, obs+act)
        *hidden, out = self.layers
        for layer in hidden:
            x = torch.relu(F.linear(x, layer.weight, layer.bias))  # (batch, width)
        return F.linear(x, out.weight, out.bias)

    def forward(self, s, a):
        # ŝ' = s + σ_Δ · f_φ(·) + Δ̄
        return torch.addcmul(s + self.diff_norm.mean, self.diff_norm.std, self.delta(s, a))

    @torch.no_grad()
    def folded(self):
        """f_φ's layers as (W, b) pairs with the action scale folded into the first and σ_Δ, Δ̄ into the last, for
        `folded_forward`: M̂_φ(s, a) = s + MLP'([(s − s̄)/σ_s, a]) on actions a inside the box, the same function as
        forward up to float rounding in 9 operations instead of 14 (a virtual rollout step is overhead-bound). Valid
        while φ and the normalisers stay fixed (one rollout)."""
        (W_1, b_1), *hidden, (W_out, b_out) = [(layer.weight, layer.bias) for layer in self.layers]
        d = self.obs_dim
        # W_u (a − mid)/half = (W_u/half) a − (W_u/half) mid
        W_u = W_1[:, d:] / self.act_half  # (width, act_dim)
        first = (torch.cat([W_1[:, :d], W_u], 1), b_1 - W_u @ self.act_mid)
        # σ_Δ (W_out h + b_out) + Δ̄ = (σ_Δ W_out) h + (σ_Δ b_out + Δ̄)
        last = (W_out * self.diff_norm.std[:, None], b_out * self.diff_norm.std + self.diff_norm.mean)
        # stored as (Wᵀ, b), Wᵀ contiguous (in, out): x Wᵀ + b by one addmm, ~30 % faster on small batches than F.linear
        return [(W.T.contiguous(), b) for W, b in (first, *hidden, last)]

    def folded_forward(self, layers, s, a):
        """M̂_φ(s, a) with layers = self.folded(): s (n, obs_dim), a (n, act_dim) inside the box -> (n, obs_dim)."""
        # fast path; plain equivalent: self(s, a) (test_dynamics_folded_model_equals_forward)
        x = torch.cat([self.obs_norm(s), a], -1)  # (n, obs+act)
        *hidden, (W_out_T, b_out) = layers
        for W_T, b in hidden:
            x = torch.relu(torch.addmm(b, x, W_T))  # (n, width)
        return s + torch.addmm(b_out, x, W_out_T)

    @torch.no_grad()
    def update_normalizers(self, obs, next_obs):
        """Merge real transitions (N, obs_dim) each into s̄, σ_s and Δ̄, σ_Δ (Δ = s' − s)."""
        obs = torch.as_tensor(obs, dtype=torch.float64)
        self.obs_norm.update(obs)
        self.diff_norm.update(torch.as_tensor(next_obs, dtype=torch.float64) - obs)


def multi_step_loss(model, obs_seq, act_seq):
    """Eq. (4) on windows s_{t:t+k} (B, k+1, obs_dim), a_{t:t+k−1} (B, k, act_dim): a scalar, mean over the batch.

    # NOTE (differs from paper): Eq. (4) reads ‖ŝ_{t+i} − s_{t+i}‖₂, the error of the predicted state in the state's
    # own units. We use SLBO's per-step error (slbo/loss/multi_step_loss.py; SLBO paper Eq. 6.1) because the SMTL
    # authors ran that code: the error of the predicted *change*, each coordinate divided by the running standard
    # deviation of its change, e_i = ((ŝ_{t+i} − ŝ_{t+i−1}) − (s_{t+i} − s_{t+i−1})) / σ_Δ, measured by its RMS over
    # the coordinates, ‖e_i‖₂ / √obs_dim. This is no constant scale of Eq. (4): coordinate j weighs 1/σ_Δ,j, so a
    # slowly changing coordinate (a height, an angle) counts as much as a fast one (a velocity), and from i = 2 on
    # the error is the step's change, not the accumulated state's. For i = 1 it is
    # ‖(ŝ_{t+1} − s_{t+1}) / σ_Δ‖₂ / √obs_dim.
    """
    B, k, d = act_seq.shape[0], act_seq.shape[1], obs_seq.shape[-1]
    # With ŝ_{t+i} − ŝ_{t+i−1} = σ_Δ f_φ + Δ̄, e_i = f_φ(ŝ_{t+i−1}, a_{t+i−1}) − (Δ_{t+i} − Δ̄)/σ_Δ: the true changes
    # Δ = s_{t+i} − s_{t+i−1} in the model's normalised units are the targets of f_φ
    target = model.diff_norm(obs_seq[:, 1:] - obs_seq[:, :-1])  # (B, k, obs_dim)
    s_hat = obs_seq[:, 0]  # ŝ_t = s_t (B, obs_dim)
    loss = torch.zeros(B, device=obs_seq.device)
    for i in range(k):
        f = model.delta(s_hat, act_seq[:, i])  # (B, obs_dim)
        loss = loss + torch.linalg.vector_norm(f - target[:, i], dim=-1)  # (B,)  ‖e_{i+1}‖₂
        if i + 1 < k:
            s_hat = torch.addcmul(s_hat + model.diff_norm.mean, model.diff_norm.std, f)  # ŝ_{t+i+1} = M̂_φ(ŝ_{t+i}, a)
    # Eq. (4): L⁽ᵏ⁾ = (1/k) Σ_{i=1..k} ‖e_i‖₂ / √obs_dim, mean over the batch
    return loss.mean() / (k * math.sqrt(d))


class Dataset:
    """D: the real transitions, flat, in arrival order: obs, next_obs (N, obs_dim), act (N, act_dim) float32 and
    ep_end (N,) bool, the valid steps of rollout batches (trpo.rollout says what each key means).
    k-step windows are drawn only inside one episode. With a `capacity`, D keeps the newest `capacity` transitions,
    first in first out (SLBO's replay buffer holds 200,000). Plain tensors, so `state_dict()` can go straight into
    torch.save."""

    def __init__(self, obs_dim, act_dim, device="cpu", capacity=None):
        self.device, self.capacity = torch.device(device), capacity
        self.obs = torch.empty(0, obs_dim, device=self.device)  # (N, obs_dim)
        self.act = torch.empty(0, act_dim, device=self.device)  # (N, act_dim)
        self.next_obs = torch.empty(0, obs_dim, device=self.device)  # (N, obs_dim)
        self.ep_end = torch.empty(0, dtype=torch.bool, device=self.device)  # (N,)
        self._starts = {}  # k -> valid window starts, rebuilt after each add

    def __len__(self):
        return self.obs.shape[0]

    def add(self, batch):
        """D ← D ∪ {the batch's valid steps (mask == 1)} (Algorithm 1, line 7), then the oldest transitions beyond
        the capacity leave. Returns the new (obs, next_obs) (n_new, obs_dim) each, for
        `model.update_normalizers(*data.add(batch))` (the normalisers keep every transition ever seen)."""
        m = batch["mask"].to(self.device) > 0  # (n_envs, horizon)
        ep_end = (batch["ep_end"].to(self.device) > 0)[m]  # (n_new,)
        new = [batch[key].to(self.device, torch.float32)[m] for key in ("obs", "act", "next_obs")]  # (n_new, ·) each
        keep = slice(-self.capacity, None) if self.capacity else slice(None)  # FIFO: the newest `capacity`
        self.obs, self.act, self.next_obs = (torch.cat([old, x])[keep] for old, x in
                                             zip((self.obs, self.act, self.next_obs), new))
        self.ep_end = torch.cat([self.ep_end, ep_end])[keep]
        self._starts = {}
        return new[0], new[2]

    def _valid_starts(self, k):
        """Indices i with transitions i … i+k−1 in one episode: no episode end among i … i+k−2."""
        if k not in self._starts:
            c = F.pad(torch.cumsum(self.ep_end.long(), 0), (1, 0))  # (N+1,)  c[j] = ends before j
            i = torch.arange(max(len(self) - k + 1, 0), device=self.device)  # (N−k+1,)
            self._starts[k] = i[c[i + k - 1] == c[i]]
        return self._starts[k]

    def sample(self, n, k, generator=None):
        """n windows uniform over valid starts: obs_seq (n, k+1, obs_dim) = s_{t:t+k}, act_seq (n, k, act_dim)."""
        starts = self._valid_starts(k)
        if len(starts) == 0:
            raise ValueError(f"no episode in the dataset has {k} transitions ({len(self)} transitions stored)")
        pick = torch.randint(len(starts), (n,), generator=generator).to(self.device)  # (n,)  CPU generator
        i = starts[pick]  # (n,)  window starts
        steps = (i[:, None] + torch.arange(k, device=self.device)).flatten()  # (n·k,)  i, i+1, …, i+k−1 per window
        # index_select on flat indices: a third of the time of indexing with a 2-D index tensor
        obs_seq = torch.cat([self.obs.index_select(0, i)[:, None],
                             self.next_obs.index_select(0, steps).view(n, k, -1)], 1)  # (n, k+1, obs_dim)
        return obs_seq, self.act.index_select(0, steps).view(n, k, -1)  # (n, k, act_dim)

    def state_dict(self):
        return {"obs": self.obs, "act": self.act, "next_obs": self.next_obs, "ep_end": self.ep_end}

    def load_state_dict(self, state):
        self.obs, self.act, self.next_obs, self.ep_end = (state[key].to(self.device) for key in
                                                          ("obs", "act", "next_obs", "ep_end"))
        self._starts = {}


def fit(model, data, n_steps, cfg=DynamicsConfig(), generator=None):
    """Algorithm 1, line 11: n_steps (n_model) Adam steps on Eq. (4) with windows drawn from D. Adam is
    model.optimizer, made here on the first call and then kept: its moments carry over across fits and tasks, as one
    optimiser in SLBO's code. Returns the mean training loss over the steps."""
    if model.optimizer is None:
        # NOTE (differs from SLBO): torch adds wd·φ after the gradient clip; SLBO clips the sum. wd·φ ~ 1e-6.
        model.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    optimizer = model.optimizer
    total = torch.zeros((), device=data.device)
    # All n_steps minibatches in one draw and one gather (a step is overhead-bound: drawing per step cost ~5 % of a
    # fit). Exact: the generator yields the same numbers in one draw as in n_steps draws, so the windows are the same.
    # plain equivalent: data.sample(cfg.batch_size, cfg.k, generator) inside the loop (test_dynamics_fits_linear_system)
    windows = data.sample(n_steps * cfg.batch_size, cfg.k, generator) if n_steps else ()  # (n_steps·B, ·, ·) each
    for obs_seq, act_seq in zip(*(x.split(cfg.batch_size) for x in windows)):  # (B, k+1, obs_dim), (B, k, act_dim)
        loss = multi_step_loss(model, obs_seq, act_seq)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        total += loss.detach()
    mean_loss = (total / max(n_steps, 1)).item()
    if not math.isfinite(mean_loss):  # checked once per fit, not per step: no device sync in the loop
        raise ModelDivergedError(f"the dynamics model diverged: its Eq. (4) loss became {mean_loss} during "
                                 f"{n_steps} Adam steps (lr {optimizer.param_groups[0]['lr']:g})")
    return mean_loss


class VirtualEnv:
    """n_envs copies of task ψ inside the model (Algorithm 1, line 13), gymnasium vector API, torch in and out.

    reset() draws start states from `init_states` (n_pool, obs_dim), real reset states. A step predicts
    s' = M̂_φ(s, a), keeps it in the box |(s' − s̄)/σ_s| ≤ cfg.clip, and scores it with the task's own functions:
    r = family.reward(s, a, s', ψ), terminated = family.done(s'); an episode is truncated after family.horizon
    steps. Clipped predictions are counted in `n_clipped` (states since the last reset; slbo.virtual_training logs
    them and warns only past a threshold); a non-finite prediction raises ModelDivergedError. Start states come
    from `generator` (a CPU torch.Generator), or from a fresh one seeded by reset(seed).

    trpo.rollout drives it in three parts so that a rollout costs little more than the model itself: predict(a)
    -> (s', terminated, truncated) in its loop, restart(terminated, truncated) to begin new episodes in place
    (SLBO's partial reset), and reward(s, a, s') once for all H·n_envs transitions after the loop. step(a) is the
    three in one, with gymnasium's SAME_STEP autoreset (the true s' in info["final_obs"])."""

    def __init__(self, model, family, goal, init_states, n_envs, generator=None, cfg=DynamicsConfig()):
        self.model, self.family, self.num_envs, self.generator, self.clip = model, family, n_envs, generator, cfg.clip
        like = model.act_low
        goal = _as_tensor(goal, like)
        self.goal = goal.reshape(-1) if goal.dim() <= 1 else goal  # ψ (goal_dim,) or (n_envs, goal_dim)
        self.init_states = _as_tensor(init_states, like)  # (n_pool, obs_dim)
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (model.obs_dim,), np.float32)
        self.single_action_space = gym.spaces.Box(np.asarray(family.act_low, np.float32),
                                                  np.asarray(family.act_high, np.float32), dtype=np.float32)
        self.n_clipped = 0

    def _starts(self, n):
        idx = torch.randint(len(self.init_states), (n,), generator=self._gen)  # (n,)
        return self.init_states[idx.to(self.init_states.device)]  # (n, obs_dim)

    def reset(self, seed=None):
        self._gen = torch.Generator().manual_seed(seed) if seed is not None else self.generator
        self._s = self._starts(self.num_envs)  # s_0 (n_envs, obs_dim)
        # Episode clocks, cheap in the hot loop: steps since reset (an int) and each env's episode start (n_envs,);
        # `_no` (n_envs,) all False stands for "no env ended" (a body that cannot fall, no time limit yet).
        self._steps, self._t0 = 0, torch.zeros(self.num_envs, dtype=torch.long, device=self._s.device)
        self._no = torch.zeros(self.num_envs, dtype=torch.bool, device=self._s.device)
        # the clip box in state units, fixed for the rollout: s̄ − c σ_s ≤ s ≤ s̄ + c σ_s
        norm = self.model.obs_norm
        self._lo, self._hi = norm.mean - self.clip * norm.std, norm.mean + self.clip * norm.std  # (obs_dim,) each
        self._layers = self.model.folded()  # φ is fixed for a rollout
        self.n_clipped = 0
        return self._s, {}

    def predict(self, act):
        """s' = clip(M̂_φ(s, a)) for the current states s (n_envs, obs_dim) and act (n_envs, act_dim) inside the
        action box (trpo.rollout clips), with its termination d(s') and time-limit truncation (n_envs,) each; advances s
        to s'. Uses φ as it was at reset()."""
        with torch.no_grad():
            s_pred = self.model.folded_forward(self._layers, self._s, act)  # M̂_φ(s, a) (n_envs, obs_dim)
            s_next = torch.clamp(s_pred, self._lo, self._hi)  # (n_envs, obs_dim)
            if not torch.equal(s_next, s_pred):  # rare: clipped or non-finite (NaN ≠ NaN)
                self._diverged(s_pred, s_next)
        self._s, self._steps = s_next, self._steps + 1
        terminated = self.family.done(s_next) if self.family.healthy_z is not None else self._no
        # an episode is truncated once it has run family.horizon steps (never inside a rollout of H steps from reset)
        truncated = self._steps - self._t0 >= self.family.horizon if self._steps >= self.family.horizon else self._no
        return s_next, terminated, truncated

    def restart(self, terminated, truncated):
        """Begin a new episode, from a fresh real start state, in every env whose episode ended (terminated or
        truncated (n_envs,) bool); returns the current states (n_envs, obs_dim). Draws start states only when an
        episode did end, and costs nothing when neither can have (both are `_no`)."""
        if terminated is self._no and truncated is self._no:
            return self._s
        ended = terminated if truncated is self._no else terminated | truncated  # (n_envs,)
        if ended.any():
            s = self._s.clone()
            s[ended] = self._starts(int(ended.sum()))
            self._s, self._t0 = s, torch.where(ended, self._steps, self._t0)
        return self._s

    @torch.no_grad()
    def reward(self, obs, act, next_obs):
        """Task ψ's r_ψ(s, a, s') on transitions with any leading dims, e.g. (H, n_envs, ·) -> (H, n_envs)."""
        return self.family.reward(obs, act, next_obs, self.goal)

    def step(self, act):
        s = self._s  # (n_envs, obs_dim)
        # the model sees the action clipped to the box (as MuJoCo applies it); the reward scores it as given
        s_next, terminated, truncated = self.predict(torch.clamp(act, self.model.act_low, self.model.act_high))
        rew = self.reward(s, act, s_next)  # (n_envs,)
        ended = terminated | truncated
        info = {"final_obs": s_next, "_final_obs": ended} if ended.any() else {}
        return self.restart(terminated, truncated), rew, terminated.clone(), truncated.clone(), info

    def _diverged(self, s_pred, s_next):
        if not torch.isfinite(s_pred).all():
            raise ModelDivergedError("the dynamics model diverged: it predicted a non-finite state")
        self.n_clipped += int((s_next != s_pred).any(-1).sum())


if __name__ == "__main__":
    # Self-check on real data: fit M̂_φ to random-policy half-cheetah episodes (Eq. 4, Adam); the one-step error on
    # held-out episodes, relative to the size of a step, must fall well below 1 (the start: predict the mean change).
    import tasks
    from trpo import GaussianPolicy, rollout

    fam, gen = tasks.get_family("cheetah-vel"), torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    env, policy = tasks.make_vec_env(fam, np.ones((20, 1))), GaussianPolicy(fam.obs_dim, fam.act_dim)
    model = DynamicsModel(fam.obs_dim, fam.act_dim, fam.act_low, fam.act_high)
    data, test = Dataset(fam.obs_dim, fam.act_dim), Dataset(fam.obs_dim, fam.act_dim)
    model.update_normalizers(*data.add(rollout(env, policy, fam.horizon, seed=0, generator=gen)))  # 4,000 steps
    test.add(rollout(env, policy, fam.horizon, seed=1, generator=gen))
    step = (test.next_obs - test.obs).norm(dim=1).mean()  # mean ‖s' − s‖
    for it in range(6):
        with torch.no_grad():
            err = (model(test.obs, test.act) - test.next_obs).norm(dim=1).mean() / step
        print(f"after {it * 100:3d} Adam steps: held-out ‖ŝ' − s'‖ / ‖s' − s‖ = {err:.3f}")
        fit(model, data, 100, generator=gen)
    raise SystemExit(0 if err < 0.5 else 1)
