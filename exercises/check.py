"""The exercises' checks: each compares a student's functions (exercises/<name>.py) with the reference in the method
files on random inputs of the right shapes and names the first entry that differs (expected against got); where it
makes sense, a smoke-sized single-task SLBO run with the student's version swapped in then says whether learning
still happens. The reference is the solution: `--solution` runs a check on the reference itself. The same command
answers an experiment exercise (experiments.py).

    python run.py exercise gae                  # check exercises/gae.py
    python run.py exercise gae --solution       # what passing looks like
    python run.py exercise --list               # the exercises, in a course's order
"""
import argparse
import contextlib
import importlib
import sys
import time
import traceback

import numpy as np
import torch
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn.utils import parameters_to_vector

import config
import dynamics
import maml
import slbo
import smtl
import tasks
import trpo


class Failed(Exception):
    """A check that found a difference: its message says where."""


def compare(what, expected, got, atol=1e-5, rtol=1e-4):
    """Raise Failed naming the first entry of `got` that differs from `expected` (tensors, arrays or numbers)."""
    expected = torch.as_tensor(np.asarray(expected, dtype=np.float64) if not torch.is_tensor(expected)
                               else expected.detach().double())
    if got is None:
        raise Failed(f"{what}: expected a value of shape {tuple(expected.shape)}, got None")
    got = torch.as_tensor(np.asarray(got, dtype=np.float64) if not torch.is_tensor(got) else got.detach().double())
    if got.shape != expected.shape:
        raise Failed(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    bad = ~torch.isclose(got, expected, rtol=rtol, atol=atol)
    if bad.any():
        i = tuple(int(j) for j in bad.nonzero()[0])
        where = f" entry {i}" if i else ""
        raise Failed(f"{what}:{where} expected {expected[i].item():.6g}, got {got[i].item():.6g} "
                     f"({int(bad.sum())} of {bad.numel()} entries differ)")


# ---------------------------------------------------------------------------------------------
# One check per exercise: fns maps each function's name to the student's (or the reference) version
# ---------------------------------------------------------------------------------------------
def check_model_loss(fns):
    torch.manual_seed(0)
    obs_dim, act_dim = 5, 2
    model = dynamics.DynamicsModel(obs_dim, act_dim, -np.ones(act_dim), np.ones(act_dim), hidden=(16, 16))
    model.update_normalizers(torch.randn(100, obs_dim) * 3 + 1, torch.randn(100, obs_dim) * 3 + 1.5)
    for k in (1, 3):
        obs, act = torch.randn(8, k + 1, obs_dim), torch.randn(8, k, act_dim)  # windows s_{t:t+k}, a_{t:t+k−1}
        want = dynamics.multi_step_loss(model, obs, act)
        want_grad = torch.autograd.grad(want, list(model.parameters()))
        got = fns["multi_step_loss"](model, obs, act)
        compare(f"L⁽ᵏ⁾ with k = {k}", want, got)
        if not (torch.is_tensor(got) and got.requires_grad):
            raise Failed(f"L⁽ᵏ⁾ with k = {k}: the loss must be a tensor differentiable in φ (no .item(), no numpy)")
        for (name, _), w, g in zip(model.named_parameters(), want_grad,
                                   torch.autograd.grad(got, list(model.parameters()))):
            compare(f"∂L⁽ᵏ⁾/∂{name} with k = {k}", w, g)


def check_gae(fns):
    g = torch.Generator().manual_seed(0)
    n, H = 3, 40
    rew, values, next_values = (torch.randn(n, H, generator=g) for _ in range(3))
    terminal = (torch.rand(n, H, generator=g) < 0.05).float()
    ep_end = torch.maximum(terminal, (torch.rand(n, H, generator=g) < 0.05).float())
    ep_end[:, -1] = 1.0
    for gamma, lam in ((0.99, 0.95), (0.9, 1.0), (0.99, 0.0)):
        want = trpo.gae(rew, values, next_values, terminal, ep_end, gamma, lam)
        got = fns["gae"](rew, values, next_values, terminal, ep_end, gamma, lam)
        if not isinstance(got, tuple) or len(got) != 2:
            raise Failed("gae must return a pair (advantages, returns)")
        compare(f"advantages Â (γ = {gamma}, λ = {lam}; rows are envs, columns steps)", want[0], got[0])
        compare(f"returns Â + V (γ = {gamma}, λ = {lam})", want[1], got[1])


def check_natural_gradient(fns):
    g = torch.Generator().manual_seed(0)
    M = torch.randn(12, 12, generator=g, dtype=torch.float64)
    A, b = M @ M.T + torch.eye(12, dtype=torch.float64), torch.randn(12, generator=g, dtype=torch.float64)
    for iters in (1, 4):  # unconverged: the iterates themselves must agree
        compare(f"conjugate_gradient after {iters} iteration(s)", trpo.conjugate_gradient(lambda v: A @ v, b, iters),
                fns["conjugate_gradient"](lambda v: A @ v, b, iters), atol=1e-8)
    compare("conjugate_gradient after 40 iterations against torch.linalg.solve", torch.linalg.solve(A, b),
            fns["conjugate_gradient"](lambda v: A @ v, b, 40), atol=1e-6)
    torch.manual_seed(0)
    policy = trpo.GaussianPolicy(4, 2, hidden=(8,))
    s = torch.randn(32, 4)

    def mean_kl():  # mean KL(π_old ‖ π_θ) at θ = θ_old: zero, with a non-zero Hessian F
        pi = policy.dist(s)
        old = Independent(Normal(pi.base_dist.loc.detach(), pi.base_dist.scale.detach()), 1)
        return kl_divergence(old, pi).mean()

    params = list(policy.parameters())
    want = trpo.fisher_vector_product(mean_kl(), params, 0.1)
    got = fns["fisher_vector_product"](mean_kl(), params, 0.1)
    for k in range(2):
        v = torch.randn(parameters_to_vector(params).numel(), generator=g)
        compare(f"(F + 0.1·I) v for random v no. {k + 1} (entries in parameters_to_vector's order)", want(v), got(v))


def check_ratings(fns):
    rng = np.random.default_rng(0)
    for _ in range(5):
        virtual, real = rng.normal(-100, 50, size=2)
        compare(f"true_rating({virtual:.2f}, {real:.2f})", smtl.true_rating(virtual, real),
                fns["true_rating"](virtual, real))
    for n in (2, 3, 5):
        etas = rng.normal(-100, 30, size=n).round(2).tolist()
        compare(f"model_disagreement({etas})", smtl.model_disagreement(etas), fns["model_disagreement"](etas))
    for _ in range(40):
        ratings = rng.normal(0, 10, size=rng.integers(0, 7)).round(1).tolist()
        mu, q, L = round(float(rng.normal(0, 10)), 1), float(rng.choice([0.25, 0.5, 0.9])), int(rng.integers(1, 4))
        want, got = smtl.skip_task(mu, ratings, q, L), fns["skip_task"](mu, ratings, q, L)
        if bool(got) != want:
            raise Failed(f"skip_task(mu={mu}, ratings={ratings}, q={q}, L={L}): expected {want}, got {got}")


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
    for name in want:
        compare(f"θ'[{name!r}] (first index: the task)", want[name], got[name])
    with torch.no_grad():
        pi_old = maml.task_dist(policy, {n: p.detach() for n, p in want.items()}, post["obs"])
    for create_graph in (False, True):
        ref = maml.meta_objective(policy, pre, post, alpha, pi_old, create_graph)
        mine = fns["meta_objective"](policy, pre, post, alpha, pi_old, create_graph)
        compare("the surrogate J(θ)", ref[0], mine[0])
        compare("the mean KL(θ)", ref[1], mine[1])
    # the meta-gradient ∇_θ J through Eq. (3), against central finite differences along random directions
    params = list(policy.parameters())
    grad = parameters_to_vector(torch.autograd.grad(
        fns["meta_objective"](policy, pre, post, alpha, pi_old, True)[0], params))
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


def check_adaptation(fns):
    torch.set_num_threads(1)
    small = slbo.SLBOConfig(n_collect=400, n_trpo=400, n_model=10, n_policy=2, n_init_states=50)
    cfg = smtl.SMTLConfig(n_tasks=2, n_warmup=2, n_inner_adapt=1, n_eval_episodes=1)
    trained = smtl.train("cheetah-vel", cfg, small, dynamics.DynamicsConfig(hidden=(32, 32)), seed=0,
                         progress=False)["checkpoint"]
    goal = tasks.tuning_goals("cheetah-vel", 1)[0]
    want = smtl.adapt(trained, goal, 2, 400, seed=3, n_eval_episodes=1)[0]
    got = fns["adapt"](trained, goal, 2, 400, seed=3, n_eval_episodes=1)
    if not isinstance(got, list) or len(got) != len(want):
        raise Failed(f"adapt must return a list of {len(want)} points (the warm-up, then each stage), got "
                     f"{len(got) if isinstance(got, list) else type(got).__name__}")
    for k, (w, p) in enumerate(zip(want, got)):
        compare(f"point {k} ({'after the warm-up' if k == 0 else f'after stage {k}'}): real samples spent",
                w["samples"], p.get("samples"))
        compare(f"point {k} ({'after the warm-up' if k == 0 else f'after stage {k}'}): return", w["return"],
                p.get("return"), rtol=1e-5, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Does learning still happen with the student's version swapped in?
# ---------------------------------------------------------------------------------------------
def _fisher_from(fvp):
    """trpo.policy_fisher_product's signature on top of a student's double-backprop Fisher-vector product."""
    def policy_fisher_product(policy, s, damping):
        pi = policy.dist(s)
        old = Independent(Normal(pi.base_dist.loc.detach(), pi.base_dist.scale.detach()), 1)
        return fvp(kl_divergence(old, pi).mean(), list(policy.parameters()), damping)
    return policy_fisher_product


@contextlib.contextmanager
def swapped(name, fns):
    """The method files with the student's functions of exercise `name` in place of the reference's."""
    patches = {"model_loss": [(dynamics, "multi_step_loss", fns.get("multi_step_loss"))],
               "gae": [(trpo, "gae", fns.get("gae"))],
               "natural_gradient": [(trpo, "conjugate_gradient", fns.get("conjugate_gradient")),
                                    (trpo, "policy_fisher_product", fns.get("fisher_vector_product") and
                                     _fisher_from(fns["fisher_vector_product"]))]}[name]
    saved = [(module, attr, getattr(module, attr)) for module, attr, _ in patches]
    try:
        for module, attr, fn in patches:
            setattr(module, attr, fn)
        yield
    finally:
        for module, attr, fn in saved:
            setattr(module, attr, fn)


LEARN_FAMILY, LEARN_STAGES, LEARN_ROUNDS = "cheetah-vel", 3, 5
LEARN_BAR = 0.75  # learning happens if |v − g| after the stages is at most 0.75 of the fresh policy's (the reference:
# about 0.64 on seed 0; no advantages at all: 1.0; the one-step advantage r − V: 0.93)


def learns(name, fns, seed=0):
    """Single-task SLBO at the quick preset's settings on the median tuning goal (3 stages of 4,000 real samples, 5 rounds
    each), with the student's functions swapped in: (|v − g| of the fresh policy, after the stages, learned?)."""
    torch.set_num_threads(1)
    c = config.values(LEARN_FAMILY, "quick")
    goals = tasks.tuning_goals(LEARN_FAMILY, tasks.GOAL_BLOCK)  # (8, 1)
    goal = goals[np.argsort(goals[:, 0])[len(goals) // 2]]  # the median of the first 8 tuning goals
    with swapped(name, fns):
        learner = slbo.Learner(LEARN_FAMILY, slbo.SLBOConfig(**c["slbo"]), dynamics.DynamicsConfig(**c["dyn"]),
                               trpo.TRPOConfig(**c["trpo"]), seed=seed)
        policy = learner.new_policy()
        before = float(slbo.evaluate(learner.family, policy, goal[None], seed=seed)["vel_err"][0])
        log = slbo.slbo(learner, policy, goal, LEARN_STAGES, LEARN_ROUNDS, eval_seed=seed, progress=False)
    after = log[-1]["vel_err"]
    return before, after, after <= LEARN_BAR * before


# ---------------------------------------------------------------------------------------------
# The list, in a course's order, and the command
# ---------------------------------------------------------------------------------------------
EXERCISES = {  # name: (what the paper calls it, {function: reference}, check, a learning run after it)
    "model_loss": ("Eq. (4): the multi-step model loss (Section 2.4)",
                   {"multi_step_loss": dynamics.multi_step_loss}, check_model_loss, True),
    "gae": ("GAE, the advantages of SLBO's TRPO (Section 2.4)", {"gae": trpo.gae}, check_gae, True),
    "natural_gradient": ("TRPO's natural step: conjugate gradient and Fisher-vector product (Section 2.4)",
                         {"conjugate_gradient": trpo.conjugate_gradient,
                          "fisher_vector_product": trpo.fisher_vector_product}, check_natural_gradient, True),
    "adaptation": ("Eq. (6): warm-up in the learned model, then SLBO stages (Section 4.3)",
                   {"adapt": lambda *a, **k: smtl.adapt(*a, **k)[0]}, check_adaptation, False),
    "ratings": ("the task ratings and the skip rule (Section 4.4)",
                {"true_rating": smtl.true_rating, "model_disagreement": smtl.model_disagreement,
                 "skip_task": smtl.skip_task}, check_ratings, False),
    "maml_step": ("Eq. (3): MAML's inner step and meta-objective (Section 2.3)",
                  {"inner_step": maml.inner_step, "meta_objective": maml.meta_objective}, check_maml_step, False),
}


# A course's order (docs/exercises.md): the model, the policy optimiser, SMTL's adaptation, task selection, MAML
COURSE = ["model_loss", "exploitation", "gae", "natural_gradient", "adaptation", "warmup", "shift", "ratings",
          "selection", "maml_step"]


def student(name):
    """{function: the student's version} from exercises/<name>.py."""
    module = importlib.import_module(f"exercises.{name}")
    return {fn: getattr(module, fn) for fn in EXERCISES[name][1]}


def run(name, solution=False, learn=True):
    """Check one exercise; returns (passed, message). With learn, a passing check is followed by the SLBO run."""
    what, reference, check, has_learning = EXERCISES[name]
    fns = dict(reference) if solution else student(name)
    try:
        check(fns)
    except Failed as e:
        return False, f"{name}: FAILED: {e}"
    except NotImplementedError as e:
        return False, f"{name}: not written yet: {e} (exercises/{name}.py)"
    except Exception as e:  # the student's code raised: say where, in one line
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.endswith(f"exercises/{name}.py")]
        where = f" at exercises/{name}.py line {frames[-1].lineno}" if frames else ""
        return False, f"{name}: your code raised {type(e).__name__}: {e}{where}"
    message = f"{name}: passed: {what} agrees with the reference"
    if learn and has_learning:
        start = time.perf_counter()
        before, after, ok = learns(name, fns)
        message += (f"\n{name}: SLBO with your version: |v − g| {before:.3f} → {after:.3f} m/s after "
                    f"{LEARN_STAGES} stages ({time.perf_counter() - start:.0f} s): "
                    + ("it learns" if ok else f"it does NOT learn (the bar: at most {LEARN_BAR:g} × the start)"))
        return ok, message
    return True, message


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, not argparse's usage block
        self.exit(2, f"run.py exercise: error: {message} (see python run.py exercise --help)\n")


def main(argv=None, run_experiment=None):
    """`python run.py exercise ...`; run_experiment is run.py's runner of one experiment (an experiment exercise's
    runs)."""
    from exercises import experiments
    p = _Parser(prog="run.py exercise", description=__doc__.split("\n\n")[0])
    p.add_argument("name", nargs="?", choices=[*EXERCISES, *experiments.EXPERIMENTS])
    p.add_argument("--solution", action="store_true", help="check the reference itself: what passing looks like")
    p.add_argument("--no-learn", action="store_true", help="skip the SLBO run after a passing check")
    p.add_argument("--list", action="store_true", help="the exercises, in a course's order")
    p.add_argument("--preset", default="quick", choices=list(config.PRESETS),
                   help="experiment exercises: the runs' preset (default: quick)")
    p.add_argument("--root", default="runs", help="experiment exercises: run.py's --root (default: runs)")
    p.add_argument("--workers", type=int, default=None, help="experiment exercises: run.py's --workers")
    args = p.parse_args(argv)
    if args.list or args.name is None:
        for name in COURSE:
            if name in EXERCISES:
                print(f"{name:<18} {EXERCISES[name][0]}: exercises/{name}.py ({', '.join(EXERCISES[name][1])})")
            else:
                e = experiments.EXPERIMENTS[name]
                print(f"{name:<18} experiment, {e.paper}: {e.question.split('?')[0]}?")
        return 0
    if args.name in experiments.EXPERIMENTS:
        rows, paths = experiments.answer(args.name, run_experiment, args.root, args.preset, args.workers)
        print(f"\n{experiments.EXPERIMENTS[args.name].question}\n\n{experiments.format_rows(rows)}\n\n"
              f"wrote {' and '.join(paths)}")
        return 0
    ok, message = run(args.name, args.solution, learn=not args.no_learn)
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
