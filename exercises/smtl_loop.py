"""Exercise: the loop of Algorithm 1, lines 1–8 (smtl.py): one model φ and one dataset D learned across a sequence of
tasks, each with a fresh policy warmed up in the model before it collects real samples.

Fill in `smtl_loop`, then check it against smtl.train on a few small tasks:

    python run.py exercise smtl_loop
"""
import numpy as np

import tasks
from slbo import Learner, collect, virtual_training


def smtl_loop(family, cfg, slbo_cfg, dyn, trpo_cfg, seed):
    """Algorithm 1 without active task selection; returns the Learner at the end (its φ, D and sample count).

        line 1:  initialise φ and D ← ∅               learner = Learner(family, slbo_cfg, dyn, trpo_cfg, seed=seed)
        line 2:  for cfg.n_tasks tasks:
        line 3:    sample ψ ~ p(ψ)                      tasks.sample_goals(family, 1, rng)[0], rng made once, after the
                                                        learner: np.random.default_rng(seed)
        line 4:    initialise θ                        learner.new_policy()
        line 5:    if D ≠ ∅: VirtualTraining(θ, φ, D, cfg.n_warmup)          (len(learner.data) counts D)
        line 6:    cfg.n_slbo_train times:
        line 7:      D ← D ∪ {slbo_cfg.n_collect real samples of π_θ}      collect(learner, policy, ψ, n)
        line 8:      VirtualTraining(θ, φ, D, cfg.n_inner_train)           (skip it when n_inner_train is 0)

    VirtualTraining is slbo.virtual_training(learner, policy, ψ, n_inner) (or yours, from the previous exercise).
    """
    raise NotImplementedError("Algorithm 1: per task a fresh θ, the warm-up (not on the first task), collection")
