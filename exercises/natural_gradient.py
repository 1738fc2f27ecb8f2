"""Exercise: TRPO's natural gradient step (Schulman et al. 2015; trpo.py): the conjugate gradient that solves
F x = g using only products v ↦ F v, and the Fisher-vector product by double backpropagation through the mean KL.

Fill in both functions, then check them against the reference and run SLBO with them:

    python run.py exercise natural_gradient
"""
import torch


def conjugate_gradient(Avp, b, iters, residual_tol=1e-10):
    """Solve A x = b for a symmetric positive-definite A given only Avp: v ↦ A v. b (n,) -> x (n,).

    Start from x = 0, r = b, p = b. Each iteration: α = rᵀr / pᵀAp; x ← x + α p; r ← r − α Ap; stop if the new rᵀr is
    below residual_tol; else p ← r + (r_newᵀr_new / rᵀr) p.
    """
    raise NotImplementedError("conjugate gradient: x, r, p from b, then at most `iters` updates")


def fisher_vector_product(kl, params, damping):
    """v ↦ (F + c·I) v, with F = ∇²_θ kl the Hessian of the mean KL at the current θ (the Fisher matrix there).

    kl is a scalar built from `params` (a list of tensors, θ); v and the result are flat vectors (n_params,), in the
    order of torch.nn.utils.parameters_to_vector(params). Double backpropagation: g = ∇_θ kl with create_graph=True
    once, then for each v: F v = ∇_θ (g · v).
    """
    raise NotImplementedError("Fisher-vector product: ∇_θ (∇_θ KL · v), plus damping · v")
