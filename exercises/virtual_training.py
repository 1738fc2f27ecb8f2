"""Exercise: VirtualTraining, Algorithm 1 lines 9–14 (slbo.py): fit the model on D, then improve the policy by TRPO on
rollouts inside the model. It is what SMTL's warm-up is, and what SLBO runs after each real collection.

Fill in `virtual_training`, then check it against the reference on a small learner, and run SLBO with it:

    python run.py exercise virtual_training
"""
import numpy as np

from dynamics import VirtualEnv, fit
from slbo import envs_for
from trpo import rollout, trpo_step


def virtual_training(learner, policy, goal, n_inner):
    """VirtualTraining(θ, φ, D, n_inner): n_inner rounds of

        line 11:     φ ← n_model Adam steps on Eq. (4), windows from D      fit(model, data, n_model, dyn, generator)
        lines 12–14: n_policy times: D' ← n_trpo samples rolled out in M̂_φ  rollout(env, policy, H, generator=...)
                                      θ ← one TRPO step on D'                trpo_step(policy, value_fn, D', trpo)

    where the model env is VirtualEnv(learner.model, learner.family, goal, learner.init_states,
    n_envs=envs_for(cfg.n_trpo, H, "n_trpo"), generator=learner.generator, cfg=learner.dyn), made once. No real
    samples. learner holds model (φ), data (D), value_fn (V), cfg (n_model, n_policy, n_trpo), dyn, trpo,
    init_states and generator (draw every random number from it); H = learner.family.horizon. Returns {"model_loss":
    the last round's fit loss, "virtual_return": the mean over the last round's TRPO steps of their "ep_return",
    "kl": the same mean of their "kl", "n_clipped": the model's clipped states, env.n_clipped after each rollout,
    summed over every rollout of every round}.
    """
    raise NotImplementedError("VirtualTraining: per round, fit the model, then n_policy TRPO steps on model rollouts")
