"""Exercise: generalised advantage estimation, GAE(γ, λ) (Schulman et al. 2016), as TRPO uses it (trpo.py).

Fill in `gae`, then check it against the reference on random batches, and run SLBO with it:

    python run.py exercise gae
"""
import torch


def gae(rew, values, next_values, terminal, ep_end, gamma, gae_lambda):
    """GAE(γ, λ) on (n_envs, H) tensors -> (advantages Â, returns Â + V), each (n_envs, H).

    rew[:, t] = r_t; values[:, t] = V(s_t); next_values[:, t] = V(s_{t+1}) of the true successor; terminal[:, t] = d_t
    (1 if the episode terminated at t: no bootstrap from s_{t+1}); ep_end[:, t] = e_t (1 if the episode ends at t for
    any reason: a termination, the time limit, the row's end; the next step belongs to a new episode).

        δ_t = r_t + γ (1 − d_t) V(s_{t+1}) − V(s_t)
        Â_t = δ_t + γ λ (1 − e_t) Â_{t+1},   Â_H = 0        (computed backwards, t = H − 1, …, 0)
    """
    raise NotImplementedError("GAE: compute δ_t, then Â_t backwards in t")
