"""The implementation exercises (run by check.py, in a course's order): what each is, the reference functions it
replaces, its check and, for SLBO's pieces, what its learning run swaps in. The checks live by part of the method:
exercises/checks_slbo.py (Eq. (4), GAE, TRPO's natural step, VirtualTraining), checks_smtl.py (Algorithm 1's loop,
Eq. (6), the ratings) and checks_maml.py (Eq. (3)); exercises/grade.py compares and names mistakes.

A check calls the student's functions (`fns`: {name: function}) and the reference (the method files' own function) on
inputs chosen so that the mistakes students make show: predictions far from zero and coordinates on different
scales for the model loss, episodes that end both ways for GAE, a system whose residual reaches zero early for
conjugate gradient, a rating exactly on the threshold for the skip rule. Where the answers differ, `compare` looks
among the exercise's known mistakes (each a cause, and what that mistake gives on the same inputs: mostly the
reference on altered inputs, else a few lines that make the mistake) and names the one the student's answer matches;
else the first entry that differs. test_all.py keeps, for every exercise, wrong answers written as a student would
(each must fail with its cause named) and right ones written differently (each must pass).

    check_gae({"gae": my_gae})        # Failed("advantages Â (...): the λ-recursion runs on across episode ends…")
    EXERCISES["gae"].reference        # {"gae": trpo.gae}
"""
from dataclasses import dataclass

from torch.distributions import Independent, Normal, kl_divergence

import dynamics
import maml
import slbo
import smtl
import trpo
from exercises.checks_maml import check_maml_step
from exercises.checks_slbo import check_gae, check_model_loss, check_natural_gradient, check_virtual_training
from exercises.checks_smtl import check_adaptation, check_ratings, check_smtl_loop


# ---------------------------------------------------------------------------------------------
# The exercises: what each checks and, for SLBO's pieces, what the learning run swaps in
# ---------------------------------------------------------------------------------------------
def _fisher_from(fvp):
    """trpo.policy_fisher_product's signature on top of a student's double-backprop Fisher-vector product."""
    def policy_fisher_product(policy, s, damping):
        pi = policy.dist(s)
        old = Independent(Normal(pi.base_dist.loc.detach(), pi.base_dist.scale.detach()), 1)
        return fvp(kl_divergence(old, pi).mean(), list(policy.parameters()), damping)
    return policy_fisher_product


@dataclass(frozen=True)
class Exercise:
    title: str  # what the paper calls it
    reference: dict  # {function: the method files' function it replaces (a student's file may not call it)}
    check: object  # check(fns) raises Failed
    swap: object = None  # fns -> [(module, attribute, replacement)] for the learning run; None: no learning run
    solution: dict = None  # {function: the reference in the student's signature}, where it differs from `reference`

    @property
    def answer(self):
        """What `--solution` checks: the reference, in the student's signature."""
        return self.solution or self.reference


EXERCISES = {
    "model_loss": Exercise("Eq. (4): the multi-step model loss (Section 2.4)",
                           {"multi_step_loss": dynamics.multi_step_loss}, check_model_loss,
                           lambda f: [(dynamics, "multi_step_loss", f["multi_step_loss"])]),
    "gae": Exercise("GAE, the advantages of SLBO's TRPO (Section 2.4)", {"gae": trpo.gae}, check_gae,
                    lambda f: [(trpo, "gae", f["gae"])]),
    "natural_gradient": Exercise(
        "TRPO's natural step: conjugate gradient and Fisher-vector product (Section 2.4)",
        {"conjugate_gradient": trpo.conjugate_gradient, "fisher_vector_product": trpo.fisher_vector_product},
        check_natural_gradient, lambda f: [(trpo, "conjugate_gradient", f["conjugate_gradient"]),
                                           (trpo, "policy_fisher_product", _fisher_from(f["fisher_vector_product"]))]),
    "virtual_training": Exercise(
        "VirtualTraining, Algorithm 1 lines 9-14: fit the model, then TRPO in it", {
            "virtual_training": slbo.virtual_training}, check_virtual_training,
        lambda f: [(slbo, "virtual_training", lambda learner, policy, goal, n_inner, **_: f["virtual_training"](
            learner, policy, goal, n_inner))]),
    "smtl_loop": Exercise(
        "Algorithm 1, lines 1-8: one model across a sequence of tasks", {"smtl_loop": smtl.train}, check_smtl_loop,
        solution={"smtl_loop": lambda family, cfg, slbo_cfg, dyn, trpo_cfg, seed: smtl.train(
            family, cfg, slbo_cfg, dyn, trpo_cfg, seed=seed, progress=False)["learner"]}),
    "adaptation": Exercise("Eq. (6): warm-up in the learned model, then SLBO stages (Section 4.3)",
                           {"adapt": smtl.adapt}, check_adaptation,
                           solution={"adapt": lambda *args, **kwargs: smtl.adapt(*args, **kwargs)[0]}),
    "ratings": Exercise("the task ratings and the skip rule (Section 4.4)",
                        {"true_rating": smtl.true_rating, "model_disagreement": smtl.model_disagreement,
                         "skip_task": smtl.skip_task}, check_ratings),
    "maml_step": Exercise("Eq. (3): MAML's inner step and meta-objective (Section 2.3)",
                          {"inner_step": maml.inner_step, "meta_objective": maml.meta_objective}, check_maml_step),
}

# Errors a student's code raises, with the likely cause: (text in the error, hint)
ERROR_HINTS = {
    "does not require grad": " (hint: a gradient is taken of something cut off from the parameters: is a value "
                             "detached, computed under torch.no_grad(), or a gradient taken without create_graph=True "
                             "where it is differentiated again?)",
    "no episode in the dataset": " (hint: Algorithm 1 line 5: no warm-up while D is empty, on the first task)",
    "maximum recursion depth": " (hint: does your function call the reference it is to replace?)",
}
