"""The check of MAML's step: the inner step of Eq. (3) and the meta-objective, with its meta-gradient checked by
finite differences (exercises/grade.py compares; exercises/checks.py lists the checks).

    check_maml_step({"inner_step": my_step, "meta_objective": my_objective})
"""
import numpy as np
import torch
from torch.distributions import kl_divergence
from torch.nn.utils import parameters_to_vector

import maml
import trpo
from exercises.grade import Failed, compare


# ---------------------------------------------------------------------------------------------
# maml_step: Eq. (3) and the meta-objective
# ---------------------------------------------------------------------------------------------
def _maml_batch(n_tasks, M, obs_dim, act_dim, g):
    mask = torch.ones(n_tasks, M, dtype=torch.float64)
    mask[0, -3:] = 0  # task 0 ended early: its last 3 steps are not samples
    return {"obs": torch.randn(n_tasks, M, obs_dim, generator=g, dtype=torch.float64),
            "act": torch.randn(n_tasks, M, act_dim, generator=g, dtype=torch.float64),
            "adv": torch.randn(n_tasks, M, generator=g, dtype=torch.float64), "mask": mask}


def check_maml_step(fns):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    policy = trpo.GaussianPolicy(3, 2, hidden=(8,), activation="relu", slbo_init=False).double()
    pre, post, alpha = _maml_batch(2, 10, 3, 2, g), _maml_batch(2, 10, 3, 2, g), 0.1
    want, got = maml.inner_step(policy, pre, alpha), fns["inner_step"](policy, pre, alpha)
    if not isinstance(got, dict) or set(got) != set(want):
        raise Failed(f"inner_step must return {{name: (n_tasks, *shape)}} for the names {sorted(want)}, got "
                     f"{sorted(got) if isinstance(got, dict) else type(got).__name__}")
    all_valid = {**pre, "mask": torch.ones_like(pre["mask"])}
    for name in want:
        compare(f"θ'[{name!r}] (first index: the task)", want[name], got[name], [
            ("the step descends: Eq. (3) ascends the return, θ' = θ + α∇η = θ − α∇ℓ",
             lambda: maml.inner_step(policy, pre, -alpha)[name]),
            ("the gradient is not scaled by α", lambda: maml.inner_step(policy, pre, 1.0)[name]),
            ("ℓ averages over the invalid steps too: the mean runs over the mask's valid steps (masked_mean)",
             lambda: maml.inner_step(policy, all_valid, alpha)[name])])
    with torch.no_grad():  # π_old a little away from π_θ': at π_old = π_θ' both KL directions are 0
        theta_old = {n: p.detach() + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype) for n, p in want.items()}
        pi_old = maml.task_dist(policy, theta_old, post["obs"])
        pi = maml.task_dist(policy, want, post["obs"])
        ratio = torch.exp(pi.log_prob(post["act"]) - pi_old.log_prob(post["act"]))  # (n_tasks, M)
    for create_graph in (False, True):
        ref = maml.meta_objective(policy, pre, post, alpha, pi_old, create_graph)
        mine = fns["meta_objective"](policy, pre, post, alpha, pi_old, create_graph)
        compare("the surrogate J(θ)", ref[0], mine[0], [
            ("J pools every task's valid steps: it is the mean over tasks of each task's mean over its valid steps",
             lambda: (ratio * post["adv"] * post["mask"]).sum() / post["mask"].sum())])
        compare("the mean KL(θ)", ref[1], mine[1], [
            ("the KL runs the other way: KL(π_old ‖ π_θ'), the old distributions first",
             lambda: maml.masked_mean(kl_divergence(pi, pi_old), post["mask"]).mean())])
        if not (torch.is_tensor(mine[0]) and mine[0].requires_grad):
            raise Failed("the surrogate J(θ) does not depend on θ: θ' must stay differentiable in θ (is θ' "
                         "detached, or computed under torch.no_grad()?)")
    # the meta-gradient ∇_θ J through Eq. (3), against central finite differences along random directions
    params = list(policy.parameters())
    grad = torch.cat([x.reshape(-1) for x in torch.autograd.grad(
        fns["meta_objective"](policy, pre, post, alpha, pi_old, True)[0], params)])  # (n_params,)
    theta, eps = parameters_to_vector(params).detach(), 1e-6
    for k in range(3):
        u = torch.randn(theta.numel(), generator=g, dtype=torch.float64)
        J = []
        for sign in (1, -1):
            trpo.set_flat_params(params, theta + sign * eps * u)
            J.append(float(fns["meta_objective"](policy, pre, post, alpha, pi_old, False)[0].detach()))
        trpo.set_flat_params(params, theta)
        fd = (J[0] - J[1]) / (2 * eps)
        if not np.isclose(float(grad @ u), fd, rtol=1e-4, atol=1e-7):
            raise Failed(f"the meta-gradient along random direction no. {k + 1}: ∇J·u = {float(grad @ u):.6g}, finite "
                         f"differences {fd:.6g}; is θ' differentiated through Eq. (3) (create_graph)?")
