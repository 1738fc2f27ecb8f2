"""The checks of SLBO's pieces: Eq. (4)'s model loss, GAE, TRPO's natural step and VirtualTraining (Algorithm 1
lines 9–14). Each calls the student's functions and the reference on inputs where the usual mistakes show, and names
the mistake an answer matches (exercises/grade.py); exercises/checks.py lists them.

    check_gae({"gae": my_gae})   # Failed("advantages Â (...): the λ-recursion runs on across episode ends…")
"""
import math
import warnings

import numpy as np
import torch
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn.utils import parameters_to_vector

import dynamics
import slbo
import trpo
from exercises.grade import Failed, as_double, close, compare, once_per_process


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


def _rollout_mistake(model, obs, act, mistake):
    """Eq. (4) with one mistake in the rollout (for the check): "no mean" steps ŝ + σ_Δ f (Δ̄ left out), "no std"
    ŝ + Δ̄ + f (σ_Δ left out), "predicted target" measures the change from ŝ_{t+i−1} rather than from s_{t+i−1}."""
    k, s_hat, loss = act.shape[1], obs[:, 0], 0  # ŝ_t = s_t (B, obs_dim)
    mean, std = model.diff_norm.mean, model.diff_norm.std  # Δ̄, σ_Δ (obs_dim,)
    for i in range(k):
        f = model.delta(s_hat, act[:, i])  # (B, obs_dim)
        start = s_hat if mistake == "predicted target" else obs[:, i]  # (B, obs_dim)
        loss = loss + (f - model.diff_norm(obs[:, i + 1] - start)).norm(dim=-1)  # (B,)
        s_hat = s_hat + {"no mean": std * f, "no std": mean + f}.get(mistake, mean + std * f)  # (B, obs_dim)
    return loss.mean() / (k * math.sqrt(obs.shape[-1]))


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
        rollout = [  # mistakes of the rollout ŝ_{t+i} = ŝ_{t+i−1} + Δ̄ + σ_Δ f_φ, which show from k = 2 on
            ("the rollout leaves out Δ̄: M̂_φ(ŝ, a) = ŝ + Δ̄ + σ_Δ f_φ(ŝ, a)",
             lambda: _rollout_mistake(model, obs, act, "no mean")),
            ("the rollout leaves out σ_Δ: f_φ is the change in normalised units, M̂_φ(ŝ, a) = ŝ + Δ̄ + σ_Δ f_φ(ŝ, a)",
             lambda: _rollout_mistake(model, obs, act, "no std")),
            ("the target change is measured from the predicted ŝ_{t+i−1}: it is the true change s_{t+i} − s_{t+i−1}",
             lambda: _rollout_mistake(model, obs, act, "predicted target"))]
        compare(f"L⁽ᵏ⁾ with k = {k}", want, got, mistakes if k == 1 else mistakes[:3] + rollout)
        if not (torch.is_tensor(got) and got.requires_grad):
            raise Failed(f"L⁽ᵏ⁾ with k = {k}: the loss must be a tensor differentiable in φ (no .item(), no numpy)")
        params = list(model.parameters())
        for (name, _), w, g in zip(model.named_parameters(), torch.autograd.grad(want, params),
                                   torch.autograd.grad(got, params)):
            if not close(as_double(g), as_double(w), 1e-5, 1e-4):
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
    if x is not None and not torch.isfinite(as_double(x)).all():
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
