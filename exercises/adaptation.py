"""Exercise: adapting to a new task with Eq. (6): the warm-up in the learned model, then SLBO stages (smtl.py).

Fill in `adapt`, then check it against the reference on a small trained model:

    python run.py exercise adaptation
"""
import numpy as np

import smtl
import tasks
from slbo import collect, measure, virtual_training


def adapt(trained, goal, n_stages, n_samples, seed=0, n_eval_episodes=5):
    """Eq. (6) on task ψ = goal from `trained` (a checkpoint of smtl.train): a fresh policy θ̃₀, the warm-up
    VT(θ̃₀, φ, D, n_warmup) in the learned model (0 real samples; cfg.n_warmup_adapt rounds, or the training's
    cfg.n_warmup where that is None), then n_stages SLBO stages, each collecting n_samples
    real samples on ψ (collect) and running VT(θ, φ, D, n_inner_adapt) (virtual_training).

    Returns n_stages + 1 points, the first after the warm-up at 0 samples, then one after each stage:
    [{"samples": real samples spent on ψ so far, "return": the policy's mean real return over n_eval_episodes
    episodes (measure)}, …]; other keys are allowed.
    Tools: learner = smtl.restore(trained, seed) gives φ, D and V with random streams from `seed`; learner.new_policy()
    a fresh θ; cfg = smtl.SMTLConfig(**trained["config"]["smtl"]) the run's n_warmup, n_warmup_adapt and n_inner_adapt;
    learner.samples counts real samples (the training's too); measure(learner.family, policy, goal, n_eval_episodes,
    seed=seed)["return"].
    """
    raise NotImplementedError("Eq. (6): warm-up, then n_stages of collect + VirtualTraining, scoring each")
