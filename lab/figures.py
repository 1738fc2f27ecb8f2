"""The paper's figures (Section 5): which experiment each panel is, how its results are pooled, and how it is drawn.

Figure 1 (eight task families: SMTL, MAML and the oracle), Figure 2 (four test-time shifts of the same trainings)
and Figure 3 (active task selection: the return of each rating minus plain SMTL's, after 5, 20 and 30 training
tasks). A panel's numbers pool every held-out goal of every seed: the mean real return at each adaptation stage
and its bootstrap 95 % interval that resamples seeds, then goals within each drawn seed (Section 5.2's interval,
over goals, when there is one seed). lab/experiment.py runs the experiments, lab/summaries.py makes their results
files; this file only reads them.

    results = store.read_json("runs/cheetah-vel-quick/results.json")         # written by summaries.summarise
    print(table(results)); plot_experiment(results, "runs/cheetah-vel-quick/figure.png")
    compose(1, {"a": results}, "runs/figures/figure1.png")      # panels not run yet are drawn empty
"""
import os
from dataclasses import dataclass, replace

import numpy as np


ACTIVE_ALGOS = ("smtl-active-true", "smtl-active-estimated")  # Figure 3's two ratings (Section 4.4)
# colours that stay apart where bands overlap: blue SMTL, orange MAML, black oracle (a dashed level), green/purple
STYLE = {"smtl": ("SMTL (ours)", "C0"), "smtl-active-true": ("active SMTL, true rating", "C2"),
         "smtl-active-estimated": ("active SMTL, estimated rating", "C4"), "maml": ("MAML", "C1"),
         "oracle": ("oracle (no adaptation)", "k")}
SEED_MARKERS = "osD^vP*X"  # training curves: one marker per seed
RETURN_LABEL = "return per 200-step episode"
BAND_LABEL = "shaded: 95 % bootstrap interval over seeds × goals"
STAR_LABEL = "SMTL at 0 real samples (warm-up in the model)"
N_BOOT = 10_000  # bootstrap resamples
LEARNS_STOP = 0.5  # "it learns its task": |v − g| over 200 steps at most this × standing still's (this project) ...
LEARNS_MIN_LEN = 180  # ... with episodes of at least this many steps (the ant's oracle's at 6M samples)


@dataclass(frozen=True)
class Panel:
    """One panel: the experiment run.py runs for it (body, task family, test-time shift, algorithms, training tasks)."""
    figure: int
    letter: str
    env: str
    task: str
    title: str
    shift: str = None
    n_tasks: int = None  # SMTL's training tasks, when the panel sets them (Figure 3); else the preset's
    algos: tuple = ("smtl", "maml", "oracle")

    @property
    def name(self):
        return f"fig{self.figure}{self.letter}"


_FIG3 = dict(env="ant", task="vel2d", algos=("smtl", *ACTIVE_ALGOS))
PANELS = {
    1: [Panel(1, "a", "cheetah", "vel", "Cheetah [0, 2]"), Panel(1, "b", "ant", "vel", "Ant [0, 3]"),
        Panel(1, "c", "humanoid", "vel", "Humanoid [0, 1.5]"), Panel(1, "d", "ant", "fwd-back", "Ant forward/back"),
        Panel(1, "e", "cheetah", "vel-full", "Cheetah [−2, 2]"), Panel(1, "f", "ant", "vel-full", "Ant [−3, 3]"),
        Panel(1, "g", "humanoid", "vel-full", "Humanoid [−1.5, 1.5]"), Panel(1, "h", "ant", "vel2d", "Ant [−3, 3]²")],
    # the shifts adapt the trainings of Figure 1: a and b those of 1a and 1b, c and d that of 1d
    2: [Panel(2, "a", "cheetah", "vel", "Cheetah pos-to-neg", "pos2neg"),
        Panel(2, "b", "ant", "vel", "Ant pos-to-neg", "pos2neg"),
        Panel(2, "c", "ant", "fwd-back", "Ant low friction", "low-friction"),
        Panel(2, "d", "ant", "fwd-back", "Ant crippled", "crippled")],
    # one training per algorithm: each regime resumes the previous one's checkpoint (run.py grows SMTL runs)
    3: [Panel(3, "a", title="5 tasks sampled", n_tasks=5, **_FIG3),
        Panel(3, "b", title="20 tasks sampled", n_tasks=20, **_FIG3),
        Panel(3, "c", title="30 tasks sampled", n_tasks=30, **_FIG3)],
}
LAYOUT = {1: (2, 4), 2: (1, 4), 3: (1, 3)}
FIGURE_TITLES = {1: "Figure 1: return after adaptation to new goals",
                 2: "Figure 2: return after adaptation with a test-time shift",
                 3: "Figure 3: active task selection on the 2-D ant velocity task (active − plain SMTL)"}


def panels(figure, preset):
    """The panels of a figure. The smoke preset shrinks Figure 3's regimes to 2, 3 and 4 tasks: it checks the pipeline,
    and 30 tasks are not a smoke test."""
    out = PANELS[figure]
    if figure == 3 and preset == "smoke":
        out = [replace(p, n_tasks=n, title=f"{n} tasks sampled") for p, n in zip(out, (2, 3, 4))]
    return out


# ---------------------------------------------------------------------------------------------
# Pooling goals × seeds
# ---------------------------------------------------------------------------------------------
def bootstrap(x, n=N_BOOT, seed=0):
    """Mean of x (n_seeds, n_goals) and its 95 % bootstrap interval: each resample draws seeds with replacement, then
    goals with replacement within each drawn seed (stratified by seed). One seed: the usual bootstrap over goals."""
    x = np.asarray(x, dtype=np.float64)  # (n_seeds, n_goals)
    S, G = x.shape
    rng = np.random.default_rng(seed)
    s = rng.integers(S, size=(n, S, 1))  # (n, S, 1)  drawn seeds
    g = rng.integers(G, size=(n, S, G))  # (n, S, G)  drawn goals within each
    means = x[s, g].mean((1, 2))  # (n,)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(x.mean()), float(lo), float(hi)


def standing_still(goals):
    """Standing still's |v − g| per goal: v = 0, so ‖g‖."""
    return np.linalg.norm(np.asarray(goals, dtype=float).reshape(len(goals), -1), axis=1)  # (n_goals,)


def tracks_goal(vel_err, ep_len, still):
    """Whether a policy has learned its task: |v − g| ≤ LEARNS_STOP × standing still's with episodes of at least
    LEARNS_MIN_LEN steps."""
    return vel_err <= LEARNS_STOP * still and ep_len >= LEARNS_MIN_LEN


def learns(results):
    """Does each algorithm learn its task (tracks_goal), at its first and last stage: (standing still's mean |v − g|,
    None where the task has no goal velocity or the run no goals; rows (algo, stage, |v − g| over 200 steps or None,
    episode length, learns or None)), or None where the run recorded no episode lengths (an earlier version)."""
    points = {a: v["points"] for a, v in results["algos"].items()}
    if any(p.get("ep_len") is None for ps in points.values() for p in ps):
        return None
    velocity = all(p["vel_err"] is not None for ps in points.values() for p in ps)
    still = float(standing_still(results["goals"]).mean()) if velocity and results.get("goals") else None
    return still, [(a, p["stage"], p["vel_err"] if velocity else None, p["ep_len"],
                    tracks_goal(p["vel_err"], p["ep_len"], still) if still else None)
                   for a, ps in points.items() for p in ([ps[0]] if len(ps) == 1 else [ps[0], ps[-1]])]


def stage_points(returns, samples, vel_err=None, ep_len=None):
    """One point per stage: mean samples, mean return with its interval, mean |v − g| over 200 steps (None for
    direction tasks) and mean episode length (None where the run did not record it)."""
    points = []
    for k in range(returns.shape[-1]):
        mean, lo, hi = bootstrap(returns[..., k])
        points.append({"stage": k, "samples": float(samples[..., k].mean()), "mean": mean, "ci_low": lo,
                       "ci_high": hi, **{name: None if x is None else float(x[..., k].mean())
                                         for name, x in (("vel_err", vel_err), ("ep_len", ep_len))}})
    return points


def paired(a, b):
    """The mean of a − b over (seed, goal) pairs (a, b: (n_seeds, n_goals), the same seeds and goals) and its 95 %
    bootstrap interval, as bootstrap."""
    return bootstrap(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))


def verdict(lo, hi):
    """The one rule that turns a paired difference's 95 % interval [lo, hi] into words."""
    return "above" if lo > 0 else "below" if hi < 0 else "not separated"


def difference(results, algo, base="smtl"):
    """Figure 3: algo's return minus base's, paired by seed and goal, per stage, with its bootstrap interval."""
    a, b = (np.array(results["algos"][x]["returns"]) for x in (algo, base))  # (n_seeds, n_goals, n_stages) each
    samples = np.array([[p["samples"] for p in results["algos"][algo]["points"]]])  # (1, n_stages)
    return stage_points(a - b, samples)


def table(results):
    """Algorithms aligned by adaptation stage: each cell the mean return [95 % interval] and the real samples spent;
    then training's samples and time per seed, and (SMTL) the learned model's predicted states that were clipped
    in training, summed over seeds (a warning is printed only past slbo.CLIP_WARN of a VirtualTraining call); below
    it, whether each algorithm learns its task at its first and last stage (learns: the README's measure)."""
    algos = results["algos"]
    n_stages = max(len(v["points"]) for v in algos.values())
    head = ["algorithm", *[f"stage {k}" for k in range(n_stages)], "train samples", "train time",
            "clipped model states"]
    lines = [[a, *[f"{p['mean']:.1f} [{p['ci_low']:.1f}, {p['ci_high']:.1f}] @ {p['samples']:,.0f}"
                   for p in v["points"]], *[""] * (n_stages - len(v["points"])),
              f"{np.mean([s or 0 for s in v['train_samples']]):,.0f}",
              f"{np.mean([w or 0 for w in v['train_wall_s']]) / 60:.1f} min",
              f"{sum(n or 0 for n in v.get('train_n_clipped', [])):,}" if a.startswith("smtl") else "-"]
             for a, v in algos.items()]
    return text_table([head, *lines]) + _learns_table(results)


def _learns_table(results):
    """table's second part: learns(results) per algorithm, its first and last stage side by side ("" if unknown)."""
    found = learns(results)
    if found is None:
        return ""
    still, rows = found
    cells = {}
    for algo, stage, vel_err, ep_len, ok in rows:
        words = ([] if vel_err is None else [f"|v − g| {vel_err:.3f}"]) + [f"{ep_len:.0f} steps"]
        words += [] if ok is None else ["learns" if ok else "does not learn"]
        cells.setdefault(algo, [algo]).append(f"stage {stage}: " + ", ".join(words))
    rule = (f"|v − g| over 200 steps at most {LEARNS_STOP:g} × standing still's ({still:.3f} m/s) with episodes of at "
            f"least {LEARNS_MIN_LEN} steps" if still else "episode length (200 steps: no fall)")
    return f"\n\ndoes it learn its task? {rule}\n" + text_table(list(cells.values()))


def text_table(rows):
    """Rows of cells (a row may be shorter than the others) as left-aligned text columns for the terminal."""
    widths = [max(len(str(r[k])) for r in rows if k < len(r)) for k in range(max(map(len, rows)))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------
def pyplot():
    """matplotlib.pyplot drawing to files (the Agg backend): imported only by what plots."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _subtitle(results):
    e, seeds = results["experiment"] or {}, results["seeds"]
    return (f"{e.get('preset', '?')} preset, {results['n_goals']} goals × {len(seeds)} "
            f"seed{'s' if len(seeds) > 1 else ''}")


def band(ax, points, color, label, marker="o-"):
    """Mean return against real samples with its 95 % band, from summarised points; returns (samples, means)."""
    x = np.array([p["samples"] for p in points])
    mean, lo, hi = (np.array([p[k] for p in points]) for k in ("mean", "ci_low", "ci_high"))
    ax.plot(x, mean, marker, color=color, label=label)
    ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
    return x, mean


def explain_bands(ax):
    """A legend entry for what no line names: the bands (an empty band, drawn nowhere)."""
    ax.fill_between([], [], [], color="0.6", alpha=0.4, lw=0, label=BAND_LABEL)


def plot_panel(ax, results, title):
    """Figures 1 and 2: mean real return vs real samples at adaptation, 95 % bands; the oracle as a level line."""
    for algo, r in results["algos"].items():
        label, color = STYLE[algo]
        if algo == "oracle":  # no adaptation: a level line with its band
            p = r["points"][0]
            ax.axhline(p["mean"], color=color, ls="--", label=label + ", dashed level")
            ax.axhspan(p["ci_low"], p["ci_high"], color="0.5", alpha=0.15, lw=0)
            continue
        x, mean = band(ax, r["points"], color, label)
        if algo == "smtl":  # the zero-sample point: warm-up in the learned model only
            ax.plot(x[:1], mean[:1], "*", ms=13, color=color, label=STAR_LABEL)
    explain_bands(ax)
    ax.set_title(f"{title}\n{_subtitle(results)}", fontsize=9)
    ax.set_xlabel("real samples at adaptation")
    ax.set_ylabel(RETURN_LABEL)
    ax.grid(alpha=0.3)


def plot_difference(ax, results, title):
    """Figure 3: each rating's return minus plain SMTL's, paired by goal, with 95 % bands and the zero line."""
    for algo in ACTIVE_ALGOS:
        if algo in results["algos"]:
            band(ax, difference(results, algo), STYLE[algo][1], STYLE[algo][0].replace("active SMTL, ", ""))
    ax.axhline(0.0, color="k", lw=0.8)
    explain_bands(ax)
    ax.set_title(f"{title}\n{_subtitle(results)}", fontsize=9)
    ax.set_xlabel("real samples at adaptation")
    ax.set_ylabel("active − plain SMTL, " + RETURN_LABEL, fontsize=8)
    ax.grid(alpha=0.3)


def plot_experiment(results, path, title):
    """One experiment's figure.png: the return of every algorithm it ran, against real samples at adaptation."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.6))
    plot_panel(ax, results, f"{title}: return after adaptation")
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _column(rows, key):
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def plot_training(logs, path, title):
    """An experiment's training.png from its CSV logs {algo: {seed: rows}}, one line per seed (its marker): for each
    SMTL task, the warm-up policy's return in the learned model (virtual) against its real return (a policy that
    exploits the model shows as virtual ≫ real) and the model's Eq. (4) loss; MAML's real return before and after its
    inner step, and the oracle's, per iteration against real samples."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.9))
    for algo, by_seed in logs.items():
        label, color = STYLE[algo]
        for k, seed in enumerate(sorted(by_seed)):
            rows, m = by_seed[seed], SEED_MARKERS[k % len(SEED_MARKERS)]
            named = (lambda text: f"{label}{text}") if k == 0 else (lambda text: None)  # one legend entry per line
            every = dict(marker=m, ms=3, markevery=max(1, len(rows) // 10))  # iterations: ten markers per line
            if algo.startswith("smtl"):
                rows = [r for r in rows if not r["skipped"]]
                task = _column(rows, "task")
                axes[0].plot(task, _column(rows, "virtual_return"), "--", marker=m, ms=3, color=color,
                             label=named(", virtual"))
                axes[0].plot(task, _column(rows, "warmup_return"), "-", marker=m, ms=3, color=color,
                             label=named(", real"))
                axes[1].plot(task, _column(rows, "model_loss"), "-", marker=m, ms=3, color=color, label=named(""))
            elif algo == "maml":
                x = _column(rows, "samples")
                axes[2].plot(x, _column(rows, "return_pre"), "--", color=color, label=named(", before its step"),
                             **every)
                axes[2].plot(x, _column(rows, "return_post"), "-", color=color, label=named(", after one step"),
                             **every)
            else:
                axes[3].plot(_column(rows, "samples"), _column(rows, "ep_return"), "-", color=color, label=named(""),
                             **every)
    seeds = sorted({s for by_seed in logs.values() for s in by_seed})
    for k, seed in enumerate(seeds if len(seeds) > 1 else []):  # which marker is which seed
        axes[0].plot([], [], SEED_MARKERS[k % len(SEED_MARKERS)], color="0.4", ms=4, label=f"seed {seed}")
    for ax, (name, xlabel, ylabel) in zip(axes, [
            ("SMTL warm-up policy of each task", "training task", "return (virtual: in the learned model)"),
            ("SMTL dynamics model", "training task", "Eq. (4) loss, last warm-up round"),
            ("MAML meta-training", "real samples", "real " + RETURN_LABEL),
            ("oracle training", "real samples", "real " + RETURN_LABEL)]):
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"training: {title}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compose(figure, results, path, preset=None):
    """The paper's layout of Figure `figure` from {letter: results}; a panel without results is drawn empty."""
    plt = pyplot()
    rows, cols = LAYOUT[figure]
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows + 0.8), squeeze=False,
                             sharey=figure == 3)  # Figure 3's differences on one scale
    for ax, panel in zip(axes.flat, panels(figure, preset)):
        title = f"({panel.letter}) {panel.title}"
        if panel.letter not in results:
            ax.set_title(title, fontsize=9)
            ax.text(0.5, 0.5, "not run yet", ha="center", va="center", transform=ax.transAxes, color="gray")
            ax.set_xticks([]), ax.set_yticks([])
        else:
            (plot_difference if figure == 3 else plot_panel)(ax, results[panel.letter], title)
    handles = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 4), fontsize=9,
               frameon=False)
    fig.suptitle(FIGURE_TITLES[figure] + (f" ({preset} preset)" if preset else ""), fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
