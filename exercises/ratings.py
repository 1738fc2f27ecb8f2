"""Exercise: the task ratings of Section 4.4 and the rule that skips a task (smtl.py).

Fill in the three functions, then check them against the reference on random inputs:

    python run.py exercise ratings
"""
import numpy as np


def true_rating(virtual_return, real_return):
    """μ(ψ) = η^{M̂_φ}_ψ(θ) − η^{M*}_ψ(θ): how much better the warm-up policy θ does in the learned model than in the
    real task (a float)."""
    raise NotImplementedError("the true rating: virtual minus real return")


def model_disagreement(etas):
    """The estimated rating μ̂(ψ): the mean, over every pair (a, b) of model snapshots, of |η^{M̂_a}_ψ(θ) −
    η^{M̂_b}_ψ(θ)|, given θ's virtual return in each snapshot (etas, a list of floats). A float."""
    raise NotImplementedError("the estimated rating: mean absolute difference over pairs of snapshots")


def skip_task(mu, ratings, q, L):
    """Skip task ψ_j (True) once at least L tasks have been rated, if μ(ψ_j) = mu is below the q-quantile of the
    ratings of the last L of them (ratings: every earlier rating, oldest first); else False. The q-quantile is
    np.quantile's (linear interpolation between the sorted ratings: the median of [0, 10] is 5)."""
    raise NotImplementedError("the skip rule: compare mu with the q-quantile of the last L ratings")
