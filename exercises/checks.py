"""Each implementation exercise's check, and the mistakes it knows (run by check.py, in a course's order).

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
import copy
import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn.utils import parameters_to_vector

import dynamics
import maml
import slbo
import smtl
import tasks
import trpo


class Failed(Exception):
    """A check that found a difference: its message says where, and the likely cause where it knows one."""


def once_per_process(fn):
    """fn computed once per process for each argument, each call getting its own copy: the reference's side of a
    check (its run, a mistake's run) is the same whatever the answer, so the checks of many answers in one process
    (check.py's list, test_all.py) train it once."""
    computed = functools.cache(fn)
    return functools.wraps(fn)(lambda *args, **kwargs: copy.deepcopy(computed(*args, **kwargs)))


def _tensor(x):
    return torch.as_tensor(np.asarray(x, dtype=np.float64)) if not torch.is_tensor(x) else x.detach().double()


def _close(a, b, atol, rtol):
    return a.shape == b.shape and bool(torch.isclose(a, b, rtol=rtol, atol=atol).all())


def compare(what, expected, got, mistakes=(), atol=1e-5, rtol=1e-4):
    """Raise Failed unless `got` equals `expected` (tensors, arrays or numbers) up to float rounding: with the cause of
    the first of `mistakes` ((cause, a function giving what that mistake gives)) whose answer `got` matches, else
    naming the first entry that differs."""
    expected = _tensor(expected)
    if got is None:
        raise Failed(f"{what}: expected a value of shape {tuple(expected.shape)}, got None")
    got = _tensor(got)
    if got.shape != expected.shape:
        raise Failed(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if _close(got, expected, atol, rtol):
        return
    for cause, wrong in mistakes:
        if _close(got, _tensor(wrong()), atol, rtol):
            raise Failed(f"{what}: {cause}")
    bad = ~torch.isclose(got, expected, rtol=rtol, atol=atol)
    i = tuple(int(j) for j in bad.nonzero()[0])
    raise Failed(f"{what}:{f' entry {i}' if i else ''} expected {expected[i].item():.6g}, got {got[i].item():.6g} "
                 f"({int(bad.sum())} of {bad.numel()} entries differ)")


# ---------------------------------------------------------------------------------------------
# model_loss: Eq. (4)
# ---------------------------------------------------------------------------------------------
def _loss_model(obs_dim=5, act_dim=2):
    """A small model whose predictions are far from zero (so the path through ŝ carries gradient) and whose state
    coordinates change on scales 0.1 to 10 (so that σ_Δ weighs them): with a fresh model neither would show."""
    torch.manual_seed(0)
    model = dynamics.DynamicsModel(obs_dim, act_dim, -np.ones(act_dim), np.ones(act_dim), hidden=(16, 16))
    with torch.no_grad():
        model.layers[-1].weight.normal_(0, 0.5)
        model.layers[-1].bias.normal_(0, 0.5)
    scale = torch.tensor([0.1, 1.0, 3.0, 10.0, 0.5])  # (obs_dim,)
    model.update_normalizers(torch.randn(200, obs_dim) * scale + 1, torch.randn(200, obs_dim) * scale * 1.3 + 1.2)
    return model, scale


def check_model_loss(fns):
    model, scale = _loss_model()
    B, d = 8, model.obs_dim
    ref, loss = dynamics.multi_step_loss, fns["multi_step_loss"]
    for k in (1, 3):
        obs = torch.randn(B, k + 1, d) * scale * 3  # windows s_{t:t+k} (B, k+1, obs_dim)
        act = torch.rand(B, k, model.act_dim) * 2 - 1  # a_{t:t+k−1} (B, k, act_dim)
        want, got = ref(model, obs, act), loss(model, obs, act)
        with torch.no_grad():
            e1 = model.delta(obs[:, 0], act[:, 0]) - model.diff_norm(obs[:, 1] - obs[:, 0])  # e_1 (B, obs_dim)
            state_units = model(obs[:, 0], act[:, 0]) - obs[:, 1]  # ŝ_{t+1} − s_{t+1} (B, obs_dim)
        mistakes = [
            ("each step starts from the true state s_{t+i−1} (teacher forcing): Eq. (4) rolls the model out on its "
             "own predictions, ŝ_{t+i} = M̂_φ(ŝ_{t+i−1}, a_{t+i−1})",
             lambda: torch.stack([ref(model, obs[:, i:i + 2], act[:, i:i + 1]) for i in range(k)]).mean()),
            ("the k errors are summed: Eq. (4) divides their sum by k", lambda: k * want),
            ("‖e_i‖₂ is not divided by √obs_dim: SLBO's error is the RMS over the state's coordinates",
             lambda: want * math.sqrt(d)),
            ("‖e_i‖₂ is divided by obs_dim: SLBO's error is the RMS over coordinates, ‖e_i‖₂ / √obs_dim",
             lambda: want / math.sqrt(d)),
            ("the error is squared (a mean squared error): Eq. (4) takes the norm ‖e_i‖₂", lambda: (e1 ** 2).mean()),
            ("the error is in the state's own units: the model's error is normalised by σ_Δ, coordinate by "
             "coordinate, e_i = f_φ − (Δ − Δ̄) / σ_Δ", lambda: state_units.norm(dim=-1).mean() / math.sqrt(d)),
            ("the batch is summed: Eq. (4)'s loss is its mean over the windows", lambda: B * want)]
        compare(f"L⁽ᵏ⁾ with k = {k}", want, got, mistakes if k == 1 else mistakes[:3])
        if not (torch.is_tensor(got) and got.requires_grad):
            raise Failed(f"L⁽ᵏ⁾ with k = {k}: the loss must be a tensor differentiable in φ (no .item(), no numpy)")
        params = list(model.parameters())
        for (name, _), w, g in zip(model.named_parameters(), torch.autograd.grad(want, params),
                                   torch.autograd.grad(got, params)):
            if not _close(_tensor(g), _tensor(w), 1e-5, 1e-4):
                raise Failed(f"∂L⁽ᵏ⁾/∂{name} with k = {k}: the loss's value is right but its gradient is not: the "
                             "gradient must flow through the model's own predictions ŝ fed back at each step (is ŝ "
                             "detached, or computed under torch.no_grad()?)")


# ---------------------------------------------------------------------------------------------
# gae: GAE(γ, λ)
# ---------------------------------------------------------------------------------------------
def _gae_forwards(rew, values, next_values, terminal, ep_end, gamma, lam):
    """GAE's recursion run forwards in time, Â_t = δ_t + γλ(1 − e_{t−1})Â_{t−1}: a mistake, for the check."""
    delta = rew + gamma * (1 - terminal) * next_values - values
    adv, last = torch.zeros_like(rew), torch.zeros_like(rew[:, 0])
    for t in range(rew.shape[1]):
        last = delta[:, t] + gamma * lam * (1 - (ep_end[:, t - 1] if t else torch.zeros_like(last))) * last
        adv[:, t] = last
    return adv


def check_gae(fns):
    g = torch.Generator().manual_seed(0)
    n, H = 4, 40
    rew, values, next_values = (torch.randn(n, H, generator=g) * 3 for _ in range(3))
    terminal = torch.zeros(n, H)
    terminal[0, 9], terminal[1, 25], terminal[2, 3] = 1, 1, 1  # falls: no bootstrap from s_{t+1}
    ep_end = terminal.clone()
    ep_end[0, 30], ep_end[2, 17], ep_end[3, 20] = 1, 1, 1  # time limits: the episode ends, V(s_{t+1}) bootstraps
    ep_end[:, -1] = 1  # the row's end
    zeros, ref = torch.zeros(n, H), trpo.gae
    late = torch.cat([ep_end[:, 1:], torch.ones(n, 1)], 1)  # e_{t+1} in place of e_t
    early = torch.cat([torch.zeros(n, 1), ep_end[:, :-1]], 1)  # e_{t−1} in place of e_t
    row_next = torch.cat([values[:, 1:], next_values[:, -1:]], 1)  # values[:, t+1], not the true successor's
    for gamma, lam in ((0.99, 0.95), (0.9, 1.0), (0.99, 0.0)):
        want = ref(rew, values, next_values, terminal, ep_end, gamma, lam)
        got = fns["gae"](rew, values, next_values, terminal, ep_end, gamma, lam)
        if not isinstance(got, tuple) or len(got) != 2:
            raise Failed("gae must return a pair (advantages, returns)")
        mistakes = [
            ("the λ-recursion runs on across episode ends: Â_{t+1} of the next episode leaks into Â_t; multiply "
             "γλÂ_{t+1} by (1 − e_t)", lambda: ref(rew, values, next_values, terminal, zeros, gamma, lam)[0]),
            ("δ_t bootstraps γV(s_{t+1}) after a termination, from a state the episode never reached: multiply it by "
             "(1 − d_t)", lambda: ref(rew, values, next_values, zeros, ep_end, gamma, lam)[0]),
            ("δ_t drops γV(s_{t+1}) at every episode end: only a termination d_t stops the bootstrap, a time limit "
             "does not (the episode would have gone on)", lambda: ref(rew, values, next_values, ep_end, ep_end,
                                                                     gamma, lam)[0]),
            ("V(s_{t+1}) is read from values[:, t+1]: use next_values, the true successor's value (after an episode "
             "end values[:, t+1] is the next episode's first state)",
             lambda: ref(rew, values, row_next, terminal, ep_end, gamma, lam)[0]),
            ("Â_t is the one-step δ_t: add γλ(1 − e_t)Â_{t+1}, computed backwards from t = H − 1",
             lambda: ref(rew, values, next_values, terminal, ep_end, gamma, 0.0)[0]),
            ("λ is missing from the recursion: Â_t = δ_t + γλ(1 − e_t)Â_{t+1}",
             lambda: ref(rew, values, next_values, terminal, ep_end, gamma, 1.0)[0]),
            ("the episode end is read one step late, (1 − e_{t+1}): the recursion stops at e_t, the end of step t's "
             "own episode", lambda: ref(rew, values, next_values, terminal, late, gamma, lam)[0]),
            ("the episode end is read one step early, (1 − e_{t−1}): the recursion stops at e_t, the end of step "
             "t's own episode", lambda: ref(rew, values, next_values, terminal, early, gamma, lam)[0]),
            ("the λ-sum stops only at terminations: a time limit ends the episode too; cut it with (1 − e_t), not "
             "(1 − d_t)", lambda: ref(rew, values, next_values, terminal, terminal, gamma, lam)[0]),
            ("Â is computed forwards in t: Â_t needs Â_{t+1}, so run t = H − 1, …, 0",
             lambda: _gae_forwards(rew, values, next_values, terminal, ep_end, gamma, lam)),
            ("the advantages are normalised: GAE returns them raw (trpo_step normalises them later)",
             lambda: (want[0] - want[0].mean()) / want[0].std())]
        compare(f"advantages Â (γ = {gamma}, λ = {lam}; rows are envs, columns steps)", want[0], got[0], mistakes)
        compare(f"returns Â + V (γ = {gamma}, λ = {lam})", want[1], got[1],
                [("the returns are Â + V(s_t), the value fit's targets: add values to the advantages",
                  lambda: want[0]),
                 ("the returns are Â + V(s_t), with the value of s_t, not of s_{t+1}", lambda: want[0] + next_values)])


# ---------------------------------------------------------------------------------------------
# natural_gradient: conjugate gradient and the Fisher-vector product
# ---------------------------------------------------------------------------------------------
def _cg_mistake(Avp, b, iters, kind):
    """Conjugate gradient with one mistake, for the check to recognise: 'steepest' never updates the direction
    (p ← r), 'beta' inverts β (rᵀr_old / rᵀr_new)."""
    x, r, p = torch.zeros_like(b), b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr_new = r @ r
        if rr_new < 1e-10:
            break
        p = r.clone() if kind == "steepest" else r + (rr / rr_new) * p
        rr = rr_new
    return x


def check_natural_gradient(fns):
    g = torch.Generator().manual_seed(0)
    cg, ref = fns["conjugate_gradient"], trpo.conjugate_gradient
    M = torch.randn(12, 12, generator=g, dtype=torch.float64)
    A, b = M @ M.T + torch.eye(12, dtype=torch.float64), torch.randn(12, generator=g, dtype=torch.float64)
    Avp = lambda v: A @ v  # noqa: E731
    for iters in (1, 2, 4):  # unconverged: the iterates themselves must agree
        compare(f"conjugate_gradient after {iters} iteration(s)", ref(Avp, b, iters), cg(Avp, b, iters), [
            ("the search direction is not updated: p ← r + β p with β = r_newᵀr_new / rᵀr (conjugate directions, "
             "not steepest descent)", lambda: _cg_mistake(Avp, b, iters, "steepest")),
            ("β is inverted: β = r_newᵀr_new / rᵀr, the new residual's over the old one's",
             lambda: _cg_mistake(Avp, b, iters, "beta")),
            (f"your loop runs {iters + 1} iterations: at most `iters`", lambda: ref(Avp, b, iters + 1)),
            (f"your loop runs {iters - 1} iterations: `iters` of them", lambda: ref(Avp, b, iters - 1))],
            atol=1e-8)
    compare("conjugate_gradient after 40 iterations against torch.linalg.solve", torch.linalg.solve(A, b),
            cg(Avp, b, 40), atol=1e-6)
    # b an eigenvector of A: one iteration solves it exactly and leaves r = 0; the next would divide 0 by 0
    D, e = torch.diag(torch.arange(2.0, 14.0, dtype=torch.float64)), torch.zeros(12, dtype=torch.float64)
    e[0] = 4.0
    x = cg(lambda v: D @ v, e, 5)
    if x is not None and not torch.isfinite(_tensor(x)).all():
        raise Failed("conjugate_gradient on a system it solves in one iteration: x became NaN: once rᵀr reaches zero "
                     "the next α divides 0 by 0; stop as soon as the new rᵀr is below residual_tol")
    compare("conjugate_gradient on a system it solves in one iteration", ref(lambda v: D @ v, e, 5), x, atol=1e-8)

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
        Fv = got(v)
        if isinstance(Fv, (list, tuple)):
            raise Failed("(F + c·I) v must be one flat vector (torch.nn.utils.parameters_to_vector's order), not a "
                         "list per parameter")
        compare(f"(F + 0.1·I) v for random v no. {k + 1} (entries in parameters_to_vector's order)", want(v), Fv, [
            ("the damping is missing: (F + c·I) v = F v + c·v", lambda: want(v) - 0.1 * v),
            ("the damping is added as a number: (F + c·I) v = F v + c·v, c times the vector",
             lambda: want(v) - 0.1 * v + 0.1),
            ("the damping multiplies F v: (F + c·I) v = F v + c·v", lambda: (want(v) - 0.1 * v) * 0.1)])


# ---------------------------------------------------------------------------------------------
# virtual_training: Algorithm 1 lines 9–14
# ---------------------------------------------------------------------------------------------
def _vt_learner(seed=0):
    """A small learner on the half-cheetah with 400 real samples in D, and its policy; the same for the same seed."""
    learner = slbo.Learner("cheetah-vel", slbo.SLBOConfig(n_collect=400, n_trpo=400, n_model=5, n_policy=2,
                                                          n_init_states=20),
                           dynamics.DynamicsConfig(hidden=(16, 16), clip=1.5),  # a small box: states are clipped
                           trpo.TRPOConfig(vf_epochs=1, vf_batch=100), seed=seed)
    policy = learner.new_policy()
    slbo.collect(learner, policy, 1.0, 400)
    return learner, policy


def _vt_mistake(learner, policy, goal, n_inner, kind):
    """VirtualTraining with one mistake, for the check to recognise: 'policy first' steps the policy before the
    round's model fit, 'one batch' rolls out once per round and steps on that batch n_policy times, 'fit once'
    fits the model before the rounds only, 'n_envs' rolls out n_trpo envs (n_trpo·H samples), 'no generator'
    draws the rollouts' noise from torch's global stream, 'n_inner steps' fits n_inner Adam steps per round."""
    cfg, f = learner.cfg, learner.family
    n_envs = cfg.n_trpo if kind == "n_envs" else slbo.envs_for(cfg.n_trpo, f.horizon)
    env = dynamics.VirtualEnv(learner.model, f, goal, learner.init_states, n_envs, generator=learner.generator,
                              cfg=learner.dyn)
    gen = None if kind == "no generator" else learner.generator
    n_model = n_inner if kind == "n_inner steps" else cfg.n_model
    fit = lambda: dynamics.fit(learner.model, learner.data, n_model, learner.dyn, generator=learner.generator)  # noqa
    if kind == "fit once":
        fit()
    for _ in range(n_inner):
        if kind == "one batch":
            fit()
            batch = trpo.rollout(env, policy, f.horizon, generator=gen)
            for _ in range(cfg.n_policy):
                trpo.trpo_step(policy, learner.value_fn, batch, learner.trpo)
            continue
        if kind not in ("fit once", "policy first"):
            fit()
        for _ in range(cfg.n_policy):
            trpo.trpo_step(policy, learner.value_fn, trpo.rollout(env, policy, f.horizon, generator=gen), learner.trpo)
        if kind == "policy first":
            fit()


VT_GOAL, VT_ROUNDS = 1.3, 2  # the check's call: virtual_training(learner, policy, np.array([1.3]), 2)


@once_per_process
def _vt_reference(kind=None, one_round_per_call=False):
    """(learner, policy, stats) after the reference's VT_ROUNDS rounds on a fresh _vt_learner(): with one mistake
    `kind` (_vt_mistake; stats None), or one round per call (stats: each round's)."""
    learner, policy = _vt_learner()
    goal = np.array([VT_GOAL])
    if kind is not None:
        return learner, policy, _vt_mistake(learner, policy, goal, VT_ROUNDS, kind)
    if one_round_per_call:  # the same runs as one call of VT_ROUNDS rounds
        return learner, policy, [slbo.virtual_training(learner, policy, goal, 1, warn=False) for _ in range(VT_ROUNDS)]
    return learner, policy, slbo.virtual_training(learner, policy, goal, VT_ROUNDS, warn=False)


def check_virtual_training(fns):
    goal = np.array([VT_GOAL])
    learner, policy, want = _vt_reference()
    mine, mine_policy = _vt_learner()
    with warnings.catch_warnings():  # the small box clips many states: not the student's concern here
        warnings.simplefilter("ignore", RuntimeWarning)
        got = fns["virtual_training"](mine, mine_policy, goal, VT_ROUNDS)
    if mine.samples != learner.samples:
        raise Failed(f"VirtualTraining took {mine.samples - learner.samples} real samples: it takes none; its rollouts "
                     "are in the learned model (dynamics.VirtualEnv), not the real env")
    theta = lambda module: parameters_to_vector(module.parameters())  # noqa: E731

    def mistake(kind):  # the policy's parameters after VirtualTraining with a mistake
        return lambda: theta(_vt_reference(kind)[1])

    compare("the policy's parameters θ after 2 rounds", theta(policy), theta(mine_policy), [
        ("the policy steps before the round's model fit: line 11 fits φ first, then lines 12–14 step θ in it",
         mistake("policy first")),
        ("each TRPO step reuses one batch: line 13 rolls out a fresh D' of n_trpo samples in the model before every "
         "step (line 14)", mistake("one batch")),
        ("φ is fitted before the rounds only: line 11 fits it in every round (n_model Adam steps), so the policy "
         "sees a new model each round", mistake("fit once")),
        ("each rollout takes n_trpo · H samples: the model env holds n_envs = n_trpo / H rows of H steps (envs_for)",
         mistake("n_envs")),
        ("the rollouts' random numbers are not drawn from learner.generator: pass generator=learner.generator to "
         "rollout (same seed, same numbers)", mistake("no generator")),
        ("the model fit takes n_inner Adam steps: each round takes cfg.n_model (line 11)",
         mistake("n_inner steps"))])
    compare("the model's parameters φ after 2 rounds", theta(learner.model), theta(mine.model))
    compare("the value function V after 2 rounds (trpo_step fits it)", theta(learner.value_fn), theta(mine.value_fn))
    if not isinstance(got, dict) or not {"model_loss", "virtual_return", "kl", "n_clipped"} <= set(got):
        raise Failed('virtual_training must return {"model_loss", "virtual_return", "kl", "n_clipped"}')
    compare("the returned model_loss (the last round's fit)", want["model_loss"], got["model_loss"])
    for key in ("virtual_return", "kl"):
        compare(f"the returned {key}", want[key], got[key], [
            (f"{key} averages over every round's TRPO steps: only the last round's count",
             lambda k=key: float(np.mean([r[k] for r in _vt_reference(one_round_per_call=True)[2]])))])
    if got["n_clipped"] != want["n_clipped"]:  # here the small box clips states in every rollout
        raise Failed(f"the returned n_clipped: expected {want['n_clipped']}, got {got['n_clipped']}: it sums "
                     "env.n_clipped after every rollout of every round (each rollout's count starts at 0)")


# ---------------------------------------------------------------------------------------------
# smtl_loop: Algorithm 1 lines 1–8
# ---------------------------------------------------------------------------------------------
LOOP_FAMILY = "cheetah-vel"


def _loop_settings(**kw):
    """3 small tasks of 2 SLBO stages each, real and virtual batches of different sizes: each count shows."""
    return (smtl.SMTLConfig(**{"n_tasks": 3, "n_warmup": 3, "n_slbo_train": 2, "n_inner_train": 1, **kw}),
            slbo.SLBOConfig(n_collect=400, n_trpo=200, n_model=5, n_policy=2, n_init_states=20),
            dynamics.DynamicsConfig(hidden=(16, 16)), trpo.TRPOConfig(vf_epochs=1, vf_batch=100))


def _loop_mistake(kind, seed=0):
    """Algorithm 1 with one mistake: 'one policy' initialises θ once for all tasks (line 4 is per task), 'collect
    first' warms up after the collection (line 5 comes before line 7), 'rng per task' makes the task stream anew for
    every task, 'swapped' warms up n_inner_train rounds and trains n_warmup, 'vt once' runs line 8 once after all of
    line 6's collections."""
    cfg, slbo_cfg, dyn, trpo_cfg = _loop_settings()
    learner = slbo.Learner(LOOP_FAMILY, slbo_cfg, dyn, trpo_cfg, seed=seed)
    rng, policy = np.random.default_rng(seed), None
    warmup, inner = (cfg.n_inner_train, cfg.n_warmup) if kind == "swapped" else (cfg.n_warmup, cfg.n_inner_train)
    for _ in range(cfg.n_tasks):
        rng = np.random.default_rng(seed) if kind == "rng per task" else rng
        psi = tasks.sample_goals(LOOP_FAMILY, 1, rng)[0]
        policy = learner.new_policy() if policy is None or kind != "one policy" else policy
        if len(learner.data) > 0 and kind != "collect first":
            slbo.virtual_training(learner, policy, psi, warmup, warn=False)
        for _ in range(cfg.n_slbo_train):
            slbo.collect(learner, policy, psi, slbo_cfg.n_collect)
            if kind == "collect first":
                slbo.virtual_training(learner, policy, psi, cfg.n_warmup, warn=False)
            if kind != "vt once":
                slbo.virtual_training(learner, policy, psi, inner, warn=False)
        if kind == "vt once":
            slbo.virtual_training(learner, policy, psi, inner * cfg.n_slbo_train, warn=False)
    return learner


@once_per_process
def _loop_reference(kind=None, **settings):
    """The Learner after the reference's Algorithm 1 on _loop_settings(**settings), or with one mistake
    (_loop_mistake)."""
    if kind is not None:
        return _loop_mistake(kind)
    return smtl.train(LOOP_FAMILY, *_loop_settings(**settings), seed=0, progress=False)["learner"]


def check_smtl_loop(fns):
    settings = _loop_settings()
    want = _loop_reference()
    got = fns["smtl_loop"](LOOP_FAMILY, *settings, 0)
    if not isinstance(got, slbo.Learner):
        raise Failed(f"smtl_loop must return the Learner (its model φ and data D), got {type(got).__name__}")
    cfg, slbo_cfg = settings[:2]
    if got.samples != want.samples:
        per_stage = got.samples / (cfg.n_tasks * cfg.n_slbo_train)
        cause = ("a new Learner for each task discards φ and D: make it once, before the loop (line 1)"
                 if got.samples == cfg.n_slbo_train * slbo_cfg.n_collect else
                 "each collection takes n_collect real samples (slbo_cfg.n_collect), not n_trpo, the virtual batch"
                 if per_stage == slbo_cfg.n_trpo else
                 f"each task collects n_slbo_train = {cfg.n_slbo_train} times (line 6)"
                 if got.samples == cfg.n_tasks * slbo_cfg.n_collect else
                 f"each of the {cfg.n_tasks} tasks collects n_collect = {slbo_cfg.n_collect} real samples "
                 f"n_slbo_train = {cfg.n_slbo_train} times (lines 6-7)")
        raise Failed(f"{got.samples} real samples spent, expected {want.samples}: {cause}")
    compare("D, the real states collected (line 7)", want.data.obs, got.data.obs, [
        ("θ is initialised once for all tasks: line 4 gives every task a fresh policy, which only the warm-up "
         "trains before it collects", lambda: _loop_reference("one policy").data.obs),
        ("the warm-up comes after the collection: line 5 warms θ up in the model before line 7 collects with it",
         lambda: _loop_reference("collect first").data.obs),
        ("line 8 is missing: after each collection, VirtualTraining(θ, φ, D, n_inner_train) (here 1 round)",
         lambda: _loop_reference(n_inner_train=0).data.obs),
        ("line 8 runs once per task: it follows each collection, inside line 6's loop",
         lambda: _loop_reference("vt once").data.obs),
        ("every task gets the same goal: make the task stream (rng) once, before the loop",
         lambda: _loop_reference("rng per task").data.obs),
        ("the warm-up runs n_inner_train rounds: line 5 runs n_warmup, line 8 n_inner_train",
         lambda: _loop_reference("swapped").data.obs)])
    theta = lambda m: parameters_to_vector(m.parameters())  # noqa: E731
    compare("the model's parameters φ after the last task", theta(want.model), theta(got.model))


# ---------------------------------------------------------------------------------------------
# adaptation: Eq. (6)
# ---------------------------------------------------------------------------------------------
def _adapt_mistake(trained, goal, n_stages, n_samples, seed, n_eval_episodes, kind):
    """Eq. (6) with one mistake (returns only the real returns): 'measure seed' scores with measure's own seed,
    'restore seed' restores the checkpoint's random streams instead of restarting them from `seed`, 'fresh per stage'
    starts every stage from a fresh policy, 'vt first' runs each stage's VirtualTraining before its collection,
    'score before vt' scores each stage between its collection and its VirtualTraining."""
    cfg = smtl.SMTLConfig(**trained["config"]["smtl"])
    assert cfg.carry_value  # as the check's model: smtl.adapt would otherwise start V afresh too
    learner = smtl.restore(trained) if kind == "restore seed" else smtl.restore(trained, seed=seed)
    score = lambda pi: slbo.measure(learner.family, pi, goal, n_eval_episodes,  # noqa: E731
                                    seed=0 if kind == "measure seed" else seed)["return"]
    policy = learner.new_policy()
    smtl.warm_up(learner, policy, goal, smtl.warmup_rounds(cfg))
    returns = [score(policy)]
    for _ in range(n_stages):
        policy = learner.new_policy() if kind == "fresh per stage" else policy
        if kind == "vt first":
            slbo.virtual_training(learner, policy, goal, cfg.n_inner_adapt, warn=False)
        slbo.collect(learner, policy, goal, n_samples)
        returns += [score(policy)] if kind == "score before vt" else []
        if kind != "vt first":
            slbo.virtual_training(learner, policy, goal, cfg.n_inner_adapt, warn=False)
        returns += [] if kind == "score before vt" else [score(policy)]
    return returns


# the adaptation's warm-up (3 rounds) differs from the training's (2), its inner rounds (1) from both and from the
# training's (4), and the training's n_eval_episodes (2) from the check's argument (1): an answer that reads the
# wrong one shows
ADAPT_CFG = smtl.SMTLConfig(n_tasks=2, n_warmup=2, n_warmup_adapt=3, n_inner_train=4, n_inner_adapt=1,
                            n_eval_episodes=2)


ADAPT_STAGES, ADAPT_SAMPLES, ADAPT_SEED, ADAPT_EPISODES = 2, 400, 3, 1  # the check's call of adapt, on a tuning goal


@once_per_process
def _adapt_trained():
    """The small trained model the adaptation check adapts."""
    small = slbo.SLBOConfig(n_collect=400, n_trpo=400, n_model=10, n_policy=1, n_init_states=50)
    return smtl.train("cheetah-vel", ADAPT_CFG, small, dynamics.DynamicsConfig(hidden=(32, 32)), seed=0,
                      progress=False)["checkpoint"]


def _adapt_checkpoint(**smtl_cfg):
    """A copy of the trained checkpoint with its adaptation settings changed by smtl_cfg."""
    trained = _adapt_trained()
    return {**trained, "config": {**trained["config"], "smtl": {**trained["config"]["smtl"], **smtl_cfg}}}


@once_per_process
def _adapt_reference(kind=None, n_episodes=ADAPT_EPISODES, **smtl_cfg):
    """The reference's curve on the check's call, with the checkpoint's settings changed by smtl_cfg and scored over
    n_episodes; with one mistake `kind`, its returns alone (_adapt_mistake)."""
    trained, goal = _adapt_checkpoint(**smtl_cfg), tasks.tuning_goals("cheetah-vel", 1)[0]
    if kind is not None:
        return _adapt_mistake(trained, goal, ADAPT_STAGES, ADAPT_SAMPLES, ADAPT_SEED, n_episodes, kind)
    return smtl.adapt(trained, goal, ADAPT_STAGES, ADAPT_SAMPLES, seed=ADAPT_SEED, n_eval_episodes=n_episodes)[0]


def check_adaptation(fns):
    cfg, trained = ADAPT_CFG, _adapt_checkpoint()
    goal, n_stages, n_samples, seed, n_eval = (tasks.tuning_goals("cheetah-vel", 1)[0], ADAPT_STAGES, ADAPT_SAMPLES,
                                               ADAPT_SEED, ADAPT_EPISODES)
    trained_samples = trained["samples"]  # what training spent: learner.samples starts there
    want = _adapt_reference()
    got = fns["adapt"](trained, goal, n_stages, n_samples, seed=seed, n_eval_episodes=n_eval)
    if not isinstance(got, list) or len(got) != len(want):
        raise Failed(f"adapt must return a list of n_stages + 1 = {len(want)} points (the warm-up, then each stage), "
                     f"got {len(got) if isinstance(got, list) else type(got).__name__}")
    samples = [p["samples"] for p in want]
    compare("real samples spent at each point", samples, [p.get("samples") for p in got], [
        ("the samples count all real samples spent so far: 0 after the warm-up, then n_samples more per stage",
         lambda: [0] + [n_samples] * n_stages),
        *[("learner.samples counts the training's real samples too: count from its value after restore", wrong)
          for wrong in (lambda: [s + trained_samples for s in samples],
                        lambda: [0] + [s + trained_samples for s in samples[1:]])],
        ("each point's samples are read before its stage collects: collect, then count",
         lambda: [0] + samples[:-1])])
    returns = lambda curve: [p["return"] for p in curve]  # noqa: E731

    def with_warmup_adapt(v):  # the reference's returns with n_warmup_adapt = v (a mistake's, or a later call's)
        return returns(_adapt_reference(n_warmup_adapt=v))

    if any(p.get("return") is None for p in got):
        raise Failed("every point needs its \"return\": the policy's mean real return (measure)")
    # the whole curve at once: two mistakes may agree at one point (no VT in a stage, or scoring before it: both leave
    # stage 1 scoring the warmed-up policy) and not at all
    compare("the real returns after the warm-up and after each stage", returns(want), returns(got), [
        ("the return is the policy's return in the learned model (virtual_training's virtual_return): each point "
         "scores the real return, measure(...)[\"return\"]", lambda: [w["virtual_return"] for w in want]),
        ("the first point is a fresh policy's: Eq. (6) warms θ̃₀ up in the model, VT(θ̃₀, φ, D, n_warmup), before any "
         "real sample", lambda: with_warmup_adapt(0)),
        ("the first point scores the policy before its warm-up: score θ̃ after VT(θ̃₀, φ, D, n_warmup), at 0 samples",
         lambda: with_warmup_adapt(0)[:1] + returns(want)[1:]),
        ("the warm-up runs the training's n_warmup rounds: at adaptation it runs n_warmup_adapt where that is set",
         lambda: with_warmup_adapt(None)),
        ("the warm-up runs n_inner_adapt rounds: it runs n_warmup_adapt (the training's n_warmup where that is "
         "unset), each stage n_inner_adapt", lambda: with_warmup_adapt(cfg.n_inner_adapt)),
        ("each stage's VirtualTraining runs n_inner_train rounds: at adaptation it runs n_inner_adapt",
         lambda: returns(_adapt_reference(n_inner_adapt=cfg.n_inner_train))),
        ("a stage runs no VirtualTraining: each collection is followed by VT(θ, φ, D, n_inner_adapt) (line 8)",
         lambda: returns(_adapt_reference(n_inner_adapt=0))),
        ("each stage is scored after it collects and before its VirtualTraining: score the policy that VT(θ, φ, D, "
         "n_inner_adapt) leaves", lambda: _adapt_reference("score before vt")),
        (f"the return is the mean over the training's cfg.n_eval_episodes = {cfg.n_eval_episodes} episodes: score "
         "over the n_eval_episodes argument", lambda: returns(_adapt_reference(n_episodes=cfg.n_eval_episodes))),
        ("the return is the mean over 5 episodes: score over the n_eval_episodes argument",
         lambda: returns(_adapt_reference(n_episodes=5))),
        ("measure scores with its own default seed: pass seed=seed, as restore gets it",
         lambda: _adapt_reference("measure seed")),
        ("smtl.restore(trained) without the seed keeps the checkpoint's random streams: restore(trained, seed) "
         "restarts them from the adaptation's seed", lambda: _adapt_reference("restore seed")),
        ("every stage starts from a fresh policy: θ̃₀ is drawn once, warmed up, then trained on by every stage",
         lambda: _adapt_reference("fresh per stage")),
        ("each stage runs VirtualTraining before it collects: collect n_samples real samples (line 7), then VT(θ, φ, "
         "D, n_inner_adapt) (line 8)", lambda: _adapt_reference("vt first"))], rtol=1e-5, atol=1e-3)
    # the settings the first call could not tell apart: n_warmup_adapt unset (None), and set to 0 (no warm-up)
    for n_warmup_adapt, meaning in ((None, "unset, the warm-up runs the training's n_warmup rounds"),
                                    (0, "0 means no warm-up: the first point scores the fresh policy")):
        try:
            got = fns["adapt"](_adapt_checkpoint(n_warmup_adapt=n_warmup_adapt), goal, n_stages, n_samples, seed=seed,
                               n_eval_episodes=n_eval)
        except Exception as e:  # the student's error, reported by check.run with its line, and this setting
            e.add_note(f"with n_warmup_adapt = {n_warmup_adapt}: {meaning}")
            raise
        ran = "no" if n_warmup_adapt is None else "the training's n_warmup"
        hint = " (`cfg.n_warmup_adapt or cfg.n_warmup` reads 0 as unset: test `is None`)" if n_warmup_adapt == 0 else ""
        compare(f"the returns with n_warmup_adapt = {n_warmup_adapt}", with_warmup_adapt(n_warmup_adapt),
                [p.get("return") for p in got] if isinstance(got, list) else None,
                [(f"with n_warmup_adapt = {n_warmup_adapt} the warm-up ran {ran} rounds: {meaning}{hint}",
                  lambda other=0 if n_warmup_adapt is None else None: with_warmup_adapt(other))], rtol=1e-5,
                atol=1e-3)


# ---------------------------------------------------------------------------------------------
# ratings: Section 4.4
# ---------------------------------------------------------------------------------------------
SKIP_CASES = [  # (mu, ratings, q, L, the lesson if the answer differs); each separates one mistake
    (3.0, [1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 5, "a rating equal to the threshold is not below it: skip only if "
                                             "μ < quantile_q (not ≤)"),
    (2.9, [1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 5, "2.9 is below the median 3 of the last 5 ratings: skip it"),
    (-100.0, [1.0, 2.0], 0.5, 3, "fewer than L ratings so far: there is no threshold yet, never skip"),
    (3.2, [10.0, 1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 5, "only the last L ratings count: the median of [1, 2, 3, 4, 5] is 3, "
                                                   "so 3.2 stays (the median of all six would skip it)"),
    (15.0, [1.0, 2.0, 3.0, 10.0, 20.0, 30.0], 0.5, 3, "the window is the last L ratings, [10, 20, 30], not the first"),
    (15.0, [0.0, 10.0, 20.0, 30.0, 40.0], 0.25, 5, "the threshold is the q-quantile (q = 0.25: 10), not the "
                                                   "(1 − q)-quantile"),
    (4.0, [0.0, 10.0], 0.5, 2, "numpy's quantile interpolates: the median of [0, 10] is 5, so 4 is skipped"),
    (2.5, [0.0, 1.0, 2.0, 9.0, 9.5], 0.5, 5,
     "the threshold is a quantile, not the mean: the median of the window is 2"),
]


SKIP_MISTAKES = [  # (cause, a wrong rule): the cause is named when a student's answers to SKIP_CASES are the rule's
    ("a rating equal to the threshold is not below it: skip only if μ < quantile_q (not ≤)",
     lambda mu, r, q, L: len(r) >= L and mu <= np.quantile(r[-L:], q)),
    ("only the last L ratings count, not every rating so far",
     lambda mu, r, q, L: len(r) >= L and mu < np.quantile(r, q)),
    ("the window is the last L ratings, not the first L",
     lambda mu, r, q, L: len(r) >= L and mu < np.quantile(r[:L], q)),
    ("the threshold is the q-quantile, not the (1 − q)-quantile",
     lambda mu, r, q, L: len(r) >= L and mu < np.quantile(r[-L:], 1 - q)),
    ("the threshold is the q-quantile of the window, not its mean",
     lambda mu, r, q, L: len(r) >= L and mu < np.mean(r[-L:])),
    ("fewer than L ratings so far: there is no threshold yet, never skip",
     lambda mu, r, q, L: len(r) > 0 and mu < np.quantile(r[-L:], q)),
    ("with exactly L ratings the rule already applies: skip once at least L tasks are rated",
     lambda mu, r, q, L: len(r) > L and mu < np.quantile(r[-L:], q)),
    ("the comparison is inverted: skip when μ is below the quantile (a task the model already knows)",
     lambda mu, r, q, L: len(r) >= L and mu > np.quantile(r[-L:], q)),
]


def check_ratings(fns):
    rng = np.random.default_rng(0)
    for _ in range(5):
        virtual, real = rng.normal(-100, 50, size=2)
        compare(f"true_rating({virtual:.2f}, {real:.2f})", smtl.true_rating(virtual, real),
                fns["true_rating"](virtual, real), [
                    ("μ is the virtual minus the real return, η^M̂ − η^M*: a model that flatters the warm-up policy "
                     "rates its task high", lambda: real - virtual)])
    for n in (3, 5, 2):  # three first: with two snapshots a standard deviation and some wrong means agree
        etas = rng.normal(-100, 30, size=n).round(2).tolist()
        pairs = [(a, b) for i, a in enumerate(etas) for b in etas[i + 1:]]
        compare(f"model_disagreement({etas})", smtl.model_disagreement(etas), fns["model_disagreement"](etas), [
            ("the mean absolute difference over pairs of snapshots, not their standard deviation",
             lambda: float(np.std(etas))),
            ("every pair once, a snapshot never with itself: the mean over the n(n − 1)/2 pairs",
             lambda: float(np.mean([abs(a - b) for a in etas for b in etas]))),
            ("the absolute difference |η_a − η_b|: signed differences cancel",
             lambda: float(np.mean([a - b for a, b in pairs]))),
            ("the mean over all pairs, not the largest difference", lambda: max(etas) - min(etas)),
            ("only neighbouring snapshots are paired: use every pair (a, b) with a before b",
             lambda: float(np.mean([abs(a - b) for a, b in zip(etas, etas[1:])])))])
    answers = [bool(fns["skip_task"](mu, ratings, q, L)) for mu, ratings, q, L, _ in SKIP_CASES]
    for (mu, ratings, q, L, lesson), got in zip(SKIP_CASES, answers):
        if got != smtl.skip_task(mu, ratings, q, L):
            cause = next((c for c, rule in SKIP_MISTAKES if answers == [rule(*case[:4]) for case in SKIP_CASES]),
                         lesson)
            raise Failed(f"skip_task(mu={mu}, ratings={ratings}, q={q}, L={L}): expected {not got}, got {got}: {cause}")
    for _ in range(40):
        ratings = rng.normal(0, 10, size=rng.integers(0, 7)).round(1).tolist()
        mu, q, L = round(float(rng.normal(0, 10)), 1), float(rng.choice([0.25, 0.5, 0.9])), int(rng.integers(1, 4))
        want, got = smtl.skip_task(mu, ratings, q, L), fns["skip_task"](mu, ratings, q, L)
        if bool(got) != want:
            raise Failed(f"skip_task(mu={mu}, ratings={ratings}, q={q}, L={L}): expected {want}, got {got}")


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
    with torch.no_grad():
        pi_old = maml.task_dist(policy, {n: p.detach() for n, p in want.items()}, post["obs"])
    for create_graph in (False, True):
        ref = maml.meta_objective(policy, pre, post, alpha, pi_old, create_graph)
        mine = fns["meta_objective"](policy, pre, post, alpha, pi_old, create_graph)
        compare("the surrogate J(θ)", ref[0], mine[0])
        compare("the mean KL(θ)", ref[1], mine[1])
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
    "does not require grad": " (hint: take ∇_θ KL with create_graph=True, so that it can be differentiated again)",
    "no episode in the dataset": " (hint: Algorithm 1 line 5: no warm-up while D is empty, on the first task)",
    "maximum recursion depth": " (hint: does your function call the reference it is to replace?)",
}
