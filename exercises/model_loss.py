"""Exercise: the multi-step model loss of Eq. (4), the loss SMTL's dynamics model is fitted with (dynamics.py).

Fill in `multi_step_loss`, then check it against the reference on random windows and run SLBO with it:

    python run.py exercise model_loss
"""
import math

import torch


def multi_step_loss(model, obs_seq, act_seq):
    """Eq. (4) on windows s_{t:t+k} (B, k+1, obs_dim) and a_{t:t+k−1} (B, k, act_dim): a scalar, mean over the batch.

    The model predicts the normalised state change: model.delta(s, a) = f_φ(s, a), and
    M̂_φ(s, a) = s + Δ̄ + σ_Δ f_φ(s, a) with Δ̄ = model.diff_norm.mean, σ_Δ = model.diff_norm.std
    (model.diff_norm(x) = (x − Δ̄) / σ_Δ). Rolled out from ŝ_t = s_t on the true actions,
    ŝ_{t+i} = M̂_φ(ŝ_{t+i−1}, a_{t+i−1}), the per-step error is SLBO's, that of the predicted change in normalised
    units:

        e_i = f_φ(ŝ_{t+i−1}, a_{t+i−1}) − (s_{t+i} − s_{t+i−1} − Δ̄) / σ_Δ
        L⁽ᵏ⁾ = (1/k) Σ_{i=1..k} ‖e_i‖₂ / √obs_dim,   averaged over the batch
    """
    raise NotImplementedError("Eq. (4): roll the model out k steps from s_t and average ‖e_i‖₂ / √obs_dim")
