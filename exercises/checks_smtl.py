"""The checks of SMTL's own parts: Algorithm 1's loop over tasks (lines 1–8), the adaptation of Eq. (6) and the
task ratings and skip rule of Section 4.4. Each calls the student's functions and the reference on small runs where
the usual mistakes show, and names the mistake an answer matches (exercises/grade.py); exercises/checks.py lists them.

    check_adaptation({"adapt": my_adapt})   # Failed("real samples spent at each point: …")
"""
import numpy as np
from torch.nn.utils import parameters_to_vector

import dynamics
import slbo
import smtl
import tasks
import trpo
from exercises.grade import Failed, compare, once_per_process


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
    warmup_rounds = (f"the warm-up runs n_inner_train rounds: line 5 runs n_warmup (here {cfg.n_warmup}), line 8 "
                     f"n_inner_train (here {cfg.n_inner_train})")  # whether line 8 then runs n_warmup or not
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
        (warmup_rounds, lambda: _loop_reference("swapped").data.obs),
        (warmup_rounds, lambda: _loop_reference(n_warmup=cfg.n_inner_train).data.obs)])
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
    (12.0, [100.0, 0.0, 10.0, 20.0], 0.5, 2, "the window is the last L ratings, [10, 20] (median 15): skip 12"),
    (15.0, [0.0, 10.0, 20.0, 30.0, 40.0], 0.25, 5, "the threshold is the q-quantile (q = 0.25: 10), not the "
                                                   "(1 − q)-quantile"),
    (25.0, [0.0, 10.0, 20.0, 30.0, 40.0], 0.25, 5, "the threshold is the q-quantile (q = 0.25: 10) whatever q is, "
                                                   "not the median"),
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
    ("the threshold is the q-quantile of the window, not its median whatever q is",
     lambda mu, r, q, L: len(r) >= L and mu < np.median(r[-L:])),
    ("the window holds L − 1 ratings: it is the last L, ratings[-L:]",
     lambda mu, r, q, L: len(r) >= L and mu < np.quantile(r[-L + 1:], q)),
    ("the window holds L + 1 ratings: it is the last L, ratings[-L:]",
     lambda mu, r, q, L: len(r) >= L and mu < np.quantile(r[-L - 1:], q)),
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
