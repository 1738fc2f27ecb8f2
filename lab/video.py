"""An adapted policy on film: one real episode of its mean action, rendered offscreen by MuJoCo (`run.py video`).

The frames come from each body's tracking camera (tasks.TaskEnv), so a runner that leaves its start stays in the
picture for the whole clip.

    ep = record("cheetah-vel", policy, goal=[1.36], path="runs/video/smtl.mp4")   # {"return", "steps"}
"""
import os

import numpy as np
import torch

import tasks
from lab import store


@torch.no_grad()
def record(family, policy, goal, path, shift=None, seed=0, n_steps=None):
    """An mp4 of one real episode (at most n_steps steps; default the horizon H) of the policy's mean action on task
    ψ = goal, rendered offscreen by MuJoCo at the simulation's speed. Without a display MuJoCo needs EGL (the default
    here) or OSMesa: MUJOCO_GL=egl or MUJOCO_GL=osmesa. Returns {"return", "steps"} of the episode."""
    os.environ.setdefault("MUJOCO_GL", "egl")  # read when the first renderer is made, not at import
    fam = tasks.get_family(family)
    env = tasks.make_env(fam, goal, shift, seed=seed, render_mode="rgb_array")
    low, high = (torch.as_tensor(x, dtype=torch.float32) for x in (env.action_space.low, env.action_space.high))
    obs, _ = env.reset(seed=seed)
    frames, ret = [env.render()], 0.0  # [(height, width, 3) uint8]
    for _ in range(n_steps or fam.horizon):
        u = policy(torch.as_tensor(obs, dtype=torch.float32)[None])[0].clamp(-1, 1)  # (act_dim,)  mean action
        # the env's action a = mid + u·half, as trpo.rollout maps u ∈ [−1, 1] onto the env's box
        obs, r, terminated, truncated, _ = env.step(((high + low) / 2 + u * (high - low) / 2).numpy())
        frames.append(env.render())
        ret += r
        if terminated or truncated:
            break
    env.close()
    store.write_video(np.stack(frames), path, fps=round(1 / fam.dt))  # (steps + 1, height, width, 3)
    return {"return": ret, "steps": len(frames) - 1}
