"""Hyperparameters in one home: how a setting is declared, the Appendix's per-body settings, and the presets.

Every hyperparameter is a field of a frozen dataclass beside the code that reads it (DynamicsConfig in dynamics.py,
TRPOConfig in trpo.py, SLBOConfig in slbo.py, SMTLConfig in smtl.py, MAMLConfig and OracleConfig in maml.py), declared
with `hp`: its default (what `--preset paper` runs), a one-line meaning, the numbers it may take and where the default
comes from (the paper with its section, SLBO's, MAML's or the SMTL authors' code, or this project with its reason;
`run.py --help` and docs/reference.md show all four). A run's value is the default, then the body's (BODY, Appendix
7.1), then the preset's (PRESETS), then a command-line flag; `values` gives the middle two.

    n_model: int = hp(100, "n_model: Adam steps on Eq. (4) per inner round, line 11", ">= 0",
                      source="paper, Appendix 7.1")
    SLBOConfig(**values("ant-vel", "quick")["slbo"])  # 8,000 samples per stage (ant), 250 model steps (quick)
    check("slbo", SLBOConfig(n_model=-1))             # ValueError: --slbo-n-model must be a finite number >= 0, got -1
"""
import dataclasses
import math

import tasks

# Where a default may come from. The paper names its section ("paper, Appendix 7.1"); "ours" gives its reason. Where the
# paper is silent the SMTL authors' code (github.com/nlandolfi/slbo), SLBO's (github.com/facebookresearch/slbo) and
# MAML's (github.com/cbfinn/maml_rl) come before a choice of ours; the Appendix defers TRPO to "standard parameters
# from Luo et al." (SLBO).
SOURCES = ("paper, ", "the SMTL authors' code", "SLBO's code", "MAML's code", "ours: ")

# The domains a field may declare; every number must also be finite.
DOMAINS = {"> 0": lambda x: x > 0, ">= 0": lambda x: x >= 0, ">= 1": lambda x: x >= 1,
           "[0, 1]": lambda x: 0 <= x <= 1, "(0, 1]": lambda x: 0 < x <= 1, "(0, 1)": lambda x: 0 < x < 1}

# Appendix 7.1 per body (or per family, which wins): real samples per SLBO stage (Algorithm 1 line 7) and virtual
# samples per TRPO batch (line 13), and MAML's rollouts per task per policy-gradient step.
BODY = {
    "cheetah": {"slbo": dict(n_collect=4000, n_trpo=4000), "maml": dict(n_rollouts=20)},
    "ant": {"slbo": dict(n_collect=8000, n_trpo=8000), "maml": dict(n_rollouts=20)},
    "ant-fwd-back": {"slbo": dict(n_collect=8000, n_trpo=8000), "maml": dict(n_rollouts=40)},
    "humanoid": {"slbo": dict(n_collect=8000, n_trpo=8000), "maml": dict(n_rollouts=40)},
}

# MAML's and the oracle's quick budget on the legged bodies: 6M real samples each (see PRESETS["quick"]["bodies"]).
# NOTE (differs from paper): the oracle sees its inputs [s, ψ] normalised by their running mean and standard deviation
# (today's TRPO practice), because without it the oracle learned to fall early on the ant (docs/results.md, "Probes").
LEGGED_BASELINES = {"maml": dict(n_iters=300),  # 300 × 10 tasks × 5 rollouts × (pre + post) × 200 steps
                    "oracle": dict(n_iters=1500, obs_norm=True)}  # 1,500 × 4,000

# SMTL on the legged bodies at the quick preset, per body, chosen by the legged probes on tuning goals (python -m
# lab.legged, python -m lab.levers; docs/results.md, "Probes"). On the ant [0, 3] none of the levers on training moved
# the zero-sample warm-up's |v − g| (40 warm-up rounds, 2 SLBO stages per task, D keeping every transition, 100 tasks;
# at 10 tasks the paper's 500 × 500 model and VirtualTraining sizes, OU noise σ 0.1; a fresh V with each policy barely
# did at 10 tasks and not at 30, so V is carried as in the authors' code); of the levers on the warm-up alone, more
# rounds at adaptation did, most at 80 rounds from 30 tasks' checkpoints (160 rounds exploit the model further and track
# worse), and neither Section 5.1's policy network nor where the virtual rollouts start (the states of D, a larger pool
# of real initial states) did. On the humanoid [0, 1.5] 80 rounds changed neither its |v − g| nor its episode length
# measurably, and the virtual return ran further above the real one: it keeps the quick preset's 20, a quarter of the
# cost. Nor does single-task SLBO learn the humanoid alone within 400,000 real samples, where it learns the ant. No
# setting probed meets "learns" (half of standing still's |v − g|, episodes of 180 steps) on either body: the published
# curves show where it stops.
# NOTE (differs from paper): on the ant the adaptation's warm-up runs 80 rounds, training's 20 (the paper: 40 for
# both), because only the adaptation's rounds moved the ant's warm-up, and 80 in training would make each task's
# warm-up 4× as long.
LEGGED_SMTL = {"ant": dict(n_tasks=30, n_warmup_adapt=80),
               "humanoid": dict(n_tasks=30)}  # as the ant's, nearer the paper's 100 (10 did as well on the humanoid)

# Presets: overrides of the defaults, each with its reason. `paper` runs the defaults (the Appendix's values where it
# gives them); `quick` runs `python run.py --env cheetah` (Figure 1a, one seed) in about 8 minutes on a 2-core CPU
# (README); `smoke` checks the pipeline in seconds.
# NOTE (differs from paper): `quick` keeps the real samples per stage and the virtual batch but takes fewer, larger
# policy steps: with the Appendix's, single-task SLBO exploited the young model (lab/bench.py slbo: |v − g| 0.257 after
# 40,000 samples; with these ≤ 0.2 on 3 of 3 seeds within 24,000).
PRESETS = {
    "paper": {"n_goals": 40},  # Section 5.1: 40 held-out goals
    "quick": {
        "n_goals": 8,  # one block of the goal split (tasks.GOAL_BLOCK), which covers Ψ; the intervals are wide
        "smtl": dict(
            n_tasks=10,  # the paper trains on 100 tasks
            n_warmup=20,  # warm-up rounds per task (paper 40): each round below is larger
            n_inner_adapt=5),  # rounds after each real collection at adaptation (SLBO's 20)
        "slbo": dict(
            n_model=250,  # model steps per round (paper 100): the model must stay ahead of the larger policy steps;
            # 250, not 300, for a cheaper round (44 % of it was the model fit), lab/bench.py slbo met on 3 of 3 seeds
            n_policy=20),  # TRPO steps per round (paper 40), each 5× larger (trpo.max_kl)
        "dyn": dict(
            hidden=(200, 200),  # the paper's 500 × 500 at lr 1e-3 met lab/bench.py's bar on 1 of 2 seeds
            lr=3e-3),
        "trpo": dict(
            max_kl=0.05,  # fewer, larger policy steps (paper: SLBO's 0.01)
            vf_epochs=1, vf_batch=1000,  # V: 1 pass of 1000 (SLBO's 5 of 64 were 80 % of a step's time)
            fvp_subsample=5),  # F on every 5th state, as OpenAI baselines' TRPO: conjugate gradient costs a fifth
        # The policy keeps SLBO's init: against PyTorch's, the zero-sample |v − g| on 16 tuning goals × 2 seeds was not
        # separated (python -m lab.probes policy_init; docs/results.md, "Probes")
        "maml": dict(
            # 1.6M samples (paper 80M) as 80 meta-updates of 10 tasks × 5 rollouts at max KL 0.1 (paper 500 of
            # 40 × 20 at 0.01): of three ways to spend 1.6M samples, the one whose 3 test-time steps close the most
            # of MAML's gap to the oracle on 10 tuning goals × 3 seeds (python -m lab.probes maml_budget;
            # docs/results.md, "Probes"). Test-time steps keep α.
            n_iters=80, meta_batch=10, n_rollouts=5, max_kl=0.1),
        "oracle": dict(
            n_iters=400,  # MAML's 1.6M samples; the paper's TRPO step (larger ones did worse, lab/bench.py trpo_mf)
            trpo=dict(vf_epochs=1)),  # one value pass (SLBO's 5 of 64 took 2.3× the time)
        # The legged bodies' baselines. With the ant's reward, 1.05 − |v − g| per step until a fall, a goal faster
        # than 1.05 m/s makes standing cost reward, and at 1.6M samples the oracle on the ant [0, 3] learns to fall
        # early rather than to walk. python -m lab.probes oracle_curve (8 tuning goals) trained it on: with the
        # settings above its |v − g| over 200 steps stayed near standing still's; with its inputs normalised (today's
        # TRPO practice) it reached half of standing still's at 5.6M samples, and with 2,000 samples per update as
        # well at 7.8M. So on the ant and the humanoid both baselines get 6M real samples, the oracle's inputs
        # normalised (the evidence is the ant's alone; docs/results.md, "Probes").
        "bodies": {body: {**LEGGED_BASELINES, "smtl": LEGGED_SMTL[body]} for body in ("ant", "humanoid")},
    },
    "smoke": {
        "n_goals": 2,
        # 2 warm-up rounds and 2 snapshots: the fewest the estimated rating can compare
        "smtl": dict(n_tasks=2, n_warmup=2, n_snapshots=2, n_inner_adapt=1, n_slbo_adapt=1, n_eval_episodes=1),
        "slbo": dict(n_collect=400, n_trpo=400, n_model=20, n_policy=2, n_init_states=50),
        "dyn": dict(hidden=(64, 64)),
        "trpo": dict(vf_epochs=1),
        "maml": dict(n_iters=2, meta_batch=2, n_rollouts=2),
        "oracle": dict(n_iters=2, n_samples=400, trpo=dict(vf_epochs=1)),
    },
}


def hp(default, help, domain=None, *, source):
    """A dataclass field for a hyperparameter: its default (what `--preset paper` runs), a one-line meaning, its
    domain (a DOMAINS key, or a tuple of the words a text field may take) and where the default comes from: one of
    SOURCES, the paper's with its section and ours with its reason (a ValueError otherwise, at import)."""
    if not (source.startswith(SOURCES) and source.rstrip() not in ("paper,", "ours:")):
        raise ValueError(f"hp source must start with one of {SOURCES} and say more after 'paper,' or 'ours:', "
                         f"got {source!r}")
    return dataclasses.field(default=default, metadata={"help": help, "domain": domain, "source": source})


def values(family, preset="paper", per_body=True):
    """{group: {field: value}}: the body's settings for `family` (a name or tasks.Family), then the preset's, then the
    preset's for that body (its "bodies" entry, by body or family name; per_body=False leaves it out: the preset as
    the legged probes measured it, before they chose the bodies' own settings)."""
    fam = tasks.get_family(family)
    out = _merge({}, BODY.get(fam.name, BODY[fam.env]))
    bodies = PRESETS[preset].get("bodies", {}) if per_body else {}
    for over in (PRESETS[preset], bodies.get(fam.env, {}), bodies.get(fam.name, {})):
        out = _merge(out, {group: v for group, v in over.items() if group not in ("n_goals", "bodies")})
    return out


def _merge(a, b):
    """a with b's values over it, nested dicts merged (the oracle's TRPO settings) rather than replaced."""
    return {**a, **{k: _merge(a.get(k, {}), v) if isinstance(v, dict) else v for k, v in b.items()}}


def check(group, cfg):
    """Every field of a config in its domain (numbers finite, layer widths ≥ 1), or a ValueError naming its flag."""
    for f in dataclasses.fields(cfg):
        value, flag = getattr(cfg, f.name), f"--{group}-{f.name.replace('_', '-')}"
        if dataclasses.is_dataclass(value):
            check("trpo", value)  # the oracle's TRPO is set by the --trpo-* flags
        elif isinstance(value, tuple) and not (value and all(isinstance(w, int) and w >= 1 for w in value)):
            raise ValueError(f"{flag} must be layer widths >= 1, got {','.join(map(str, value)) or 'nothing'}")
        elif isinstance(value, str) and isinstance(f.metadata.get("domain"), tuple):
            if value not in f.metadata["domain"]:
                raise ValueError(f"{flag} must be one of {', '.join(f.metadata['domain'])}, got {value!r}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            domain = f.metadata.get("domain")
            if not math.isfinite(value) or (domain and not DOMAINS[domain](value)):
                raise ValueError(f"{flag} must be a finite number{f' {domain}' if domain else ''}, got {value}")
