"""Exercise: MAML's inner step, Eq. (3), and the meta-objective it is differentiated through (maml.py).

Fill in both functions, then check them against the reference, and the meta-gradient against finite differences:

    python run.py exercise maml_step
"""
import torch
from torch.distributions import kl_divergence

from maml import masked_mean, task_dist, task_params


def inner_step(policy, pre, alpha, create_graph=False):
    """Eq. (3) for n_tasks tasks at once: θ'_i = θ + α ∇η_ψi(θ), with ∇η_ψi(θ) = −∇ℓ_i(θ) and the REINFORCE loss
    ℓ_i(θ) = −mean_t log π_θ(a_t|s_t) Â_t over task i's valid steps.

    pre: {"obs" (n_tasks, M, obs_dim), "act" (n_tasks, M, act_dim), "adv" (n_tasks, M), "mask" (n_tasks, M)}.
    Returns {name: (n_tasks, *shape)} for every parameter name of the policy. Tools: task_params(policy, n_tasks)
    gives θ repeated per task (differentiable in θ); task_dist(policy, theta, obs) the per-task distributions;
    masked_mean(x, mask) the per-task mean over valid steps. create_graph=True keeps θ' differentiable in θ.
    """
    raise NotImplementedError("Eq. (3): per-task REINFORCE gradients, one step of size α")


def meta_objective(policy, pre, post, alpha, pi_old, create_graph):
    """The post-adaptation TRPO surrogate and mean KL as functions of θ through Eq. (3):
    J(θ) = mean_i mean_t π_θ'i(a|s) / π_old'i(a|s) · Â'_t,  KL(θ) = mean_i mean_t KL(π_old'i ‖ π_θ'i),
    on the post-adaptation rollouts `post` (same keys as pre), with θ'_i = inner_step(policy, pre, alpha, create_graph)
    and pi_old the old post-adaptation distributions on post["obs"]. Returns (J, KL), two scalars."""
    raise NotImplementedError("the meta-objective: adapt with inner_step, then the surrogate and the KL on post")
