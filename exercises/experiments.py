"""The experiment exercises: a question about the method, the runs of run.py that answer it, and what to read from
them. `python run.py exercise NAME` runs what is not on disk yet (each run resumes, and trained models are shared with
every other experiment through <root>/models), then computes the answer from the runs' files alone: a table on the
terminal, <root>/exercises/NAME.json and one figure, <root>/exercises/NAME.png. Differences between two runs are
paired by (seed, goal) for adaptations and by training task for training logs: the runs share their seeds, goals and
task sequence, so each pair differs only in the setting the question is about. Every run trains from 3 seeds (SEEDS),
as the published answers do.

    python run.py exercise warmup                     # SMTL on 1a with and without the warm-up of Eq. (6)
    python run.py exercise warmup --seeds 0           # one training seed: a third of the time, a weaker answer
    python run.py exercise selection --preset smoke   # the pipeline in a minute, not the answer
    python run.py exercise --list
"""
import os
import textwrap
from dataclasses import dataclass

import numpy as np

import smtl
from lab import figures, jobs, store, summaries


@dataclass(frozen=True)
class Experiment:
    question: str  # what a student should find out
    paper: str  # the section it illuminates
    runs: dict  # label -> run.py arguments but --seeds; the first is the reference the others are compared with
    observe: object  # observe({label: a run's checked run.py arguments}) -> (the answer's table rows, draw(plt))


# ---------------------------------------------------------------------------------------------
# Adaptation curves: the return after each stage, one run against the first
# ---------------------------------------------------------------------------------------------
def adaptation(runs, algo="smtl"):
    """Per run and stage: SMTL's return after adaptation [95 % interval] and |v − g|, and its paired difference with
    the first run (same seeds and goals), with the verdict of figures.verdict. A run adapted to other goals (a shift
    of Ψ: pos2neg) has no paired difference: its goals are not the first run's."""
    results = {label: summaries.summarise(a.out, [algo], a.seeds, a.n_goals) for label, a in runs.items()}
    base_label, base = next(iter(results.items()))
    returns = {label: np.array(r["algos"][algo]["returns"]) for label, r in results.items()}  # (seeds, goals, stages)
    rows = []
    for label, r in results.items():
        if r["seeds"] != base["seeds"]:
            raise ValueError(f"'{label}' and '{base_label}' were trained from different seeds: not paired")
        for p in r["algos"][algo]["points"]:
            row = {"run": label, "stage": p["stage"], "samples": round(p["samples"]), "return": p["mean"],
                   "ci": [p["ci_low"], p["ci_high"]], **({} if p["vel_err"] is None else {"vel_err": p["vel_err"]})}
            if label != base_label and r["goals"] != base["goals"]:
                row.update(difference=None, difference_ci=None, verdict="other goals: not paired")
            elif label != base_label:  # this run − the first, paired over (seed, goal)
                m, lo, hi = figures.paired(returns[label][..., p["stage"]], returns[base_label][..., p["stage"]])
                row.update(difference=m, difference_ci=[lo, hi], verdict=figures.verdict(lo, hi))
            rows.append(row)

    def draw(plt):
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        for k, (label, r) in enumerate(results.items()):
            figures.band(ax, r["algos"][algo]["points"], f"C{k}", label)
        figures.explain_bands(ax)
        ax.set_xlabel("real samples at adaptation (0: after the warm-up in the model)")
        ax.set_ylabel(figures.RETURN_LABEL)
        n = np.shape(returns[base_label])
        ax.set_title(f"SMTL adapted to {n[1]} held-out goals × {n[0]} seed(s)", fontsize=9)
        return fig, ax
    return rows, draw


# ---------------------------------------------------------------------------------------------
# Training logs: model exploitation and task selection
# ---------------------------------------------------------------------------------------------
def _logs(a, algo):
    """{seed: its training log} of every seed of a run."""
    return {s: store.read_csv(jobs.log_file(a, algo, s)) for s in a.seeds}


def exploitation(runs, algo="smtl-active-true"):
    """Per run: how far each task's warm-up policy's return in the learned model is above its real return (both of
    its mean action: the true rating μ(ψ) = η^M̂(θ) − η^M*(θ) of Section 4.4, from the training log), over the tasks
    with a warm-up (the first has none) of every seed, in the first and second half of training (D grows from task to
    task), and paired by (seed, task) with the first run."""
    gaps = {}  # label -> {(seed, task): μ}
    for label, a in runs.items():
        gaps[label] = {(s, r["task"]): r["rating"] for s, log in _logs(a, algo).items() for r in log
                       if not r["skipped"] and r["rating"] is not None}
    base_label = next(iter(gaps))
    table = []
    for label, gap in gaps.items():
        seeds = sorted({s for s, _ in gap})
        by_seed = [[gap[key] for key in sorted(gap) if key[0] == s] for s in seeds]  # per seed, tasks in order
        halves = [[x[:len(x) // 2] for x in by_seed], [x[len(x) // 2:] for x in by_seed]]
        row = {"run": label, "tasks": len(gap)}
        for name, x in (("gap", by_seed), ("gap_first_half", halves[0]), ("gap_second_half", halves[1])):
            flat = np.concatenate([np.asarray(v, dtype=float) for v in x])
            m, lo, hi = figures.bootstrap(flat[None]) if len(flat) else (None, None, None)  # over (seed, task)
            row.update({name: m, f"{name}_ci": [lo, hi]})
        if label != base_label:  # paired by (seed, task): the same goal sequence, a different setting
            common = sorted(set(gap) & set(gaps[base_label]))
            m, lo, hi = figures.paired(np.array([gap[k] for k in common])[None],
                                       np.array([gaps[base_label][k] for k in common])[None])
            row.update(difference=m, difference_ci=[lo, hi], verdict=figures.verdict(lo, hi))
        table.append(row)

    def draw(plt):
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        for k, (label, gap) in enumerate(gaps.items()):
            seeds, task = sorted({s for s, _ in gap}), sorted({t for _, t in gap})
            for s in seeds:  # one thin line per seed, over the tasks it rated
                ax.plot(*zip(*[(t, gap[(s, t)]) for t in task if (s, t) in gap]), "-", color=f"C{k}", lw=0.6,
                        alpha=0.4)
            mean = [np.mean([gap[(s, t)] for s in seeds if (s, t) in gap]) for t in task]  # over the seeds, per task
            ax.plot(task, mean, "o-", color=f"C{k}", label=f"{label} (mean over {len(seeds)} seeds)")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xlabel("training task (Algorithm 1; D grows with every task)")
        ax.set_ylabel("μ(ψ): virtual − real return of the warm-up policy", fontsize=8)
        ax.set_title("model exploitation (thin lines: each seed): above 0, the policy is better in the model",
                     fontsize=9)
        return fig, ax
    return table, draw


def thresholds(log, q, L):
    """For each rated candidate of an active SMTL training log: (task, μ, its threshold or None, skipped),
    the threshold smtl.skip_threshold of the ratings before it."""
    out, ratings = [], []
    for r in log:
        if r["rating"] is None:
            continue
        out.append((r["task"], r["rating"], smtl.skip_threshold(ratings, q, L), r["skipped"]))
        ratings.append(r["rating"])
    return out


def selection(runs, algo="smtl-active-estimated"):
    """Per run: its (q, L), candidates seen, rated, skipped and trained, summed over its seeds, the skips of each seed,
    and the real samples training spent per seed; the figure shows every seed's ratings and thresholds."""
    table, rated = [], {}
    for label, a in runs.items():
        q, L, logs = a.configs["smtl"].active_q, a.configs["smtl"].active_L, _logs(a, algo)
        rated[label] = (q, L, {s: thresholds(log, q, L) for s, log in logs.items()})
        table.append({"run": label, "q": q, "L": L, "seen": sum(len(log) for log in logs.values()),
                      "rated": sum(len(thresholds(log, q, L)) for log in logs.values()),
                      "skipped": sum(r["skipped"] for log in logs.values() for r in log),
                      "skipped_per_seed": [sum(r["skipped"] for r in log) for log in logs.values()],
                      "trained": sum(not r["skipped"] for log in logs.values() for r in log),
                      "samples_per_seed": round(float(np.mean([log[-1]["samples"] for log in logs.values()])))})

    def draw(plt):
        seeds = sorted({s for _, _, by_seed in rated.values() for s in by_seed})
        fig, axes = plt.subplots(len(seeds), len(rated), figsize=(5.2 * len(rated), 2.8 * len(seeds)), sharey=True,
                                 squeeze=False)
        for col, (label, (q, L, by_seed)) in enumerate(rated.items()):
            for ax, seed in zip(axes[:, col], seeds):
                points = by_seed.get(seed, [])
                task, mu, thr, skipped = (np.array([p[j] for p in points], dtype=float) for j in range(4))
                ax.plot(task, mu, "-", color="0.7")
                ax.plot(task[skipped == 0], mu[skipped == 0], "o", color="C0", label="trained")
                ax.plot(task[skipped == 1], mu[skipped == 1], "x", ms=9, color="C3", label="skipped")
                ax.step(task, thr, "--", where="mid", color="k", lw=1,
                        label=f"threshold: quantile {q:g} of the last {L}")
                ax.set_title(f"{label}, seed {seed}: {int(skipped.sum())} skipped", fontsize=9)
                ax.set_yscale("symlog", linthresh=10)  # a few ratings run to thousands: the threshold stays visible
                ax.grid(alpha=0.3)
            axes[-1, col].set_xlabel("candidate task")
        for ax in axes[:, 0]:
            ax.set_ylabel("rating μ̂(ψ) (symlog)")
        return fig, axes[0][0]
    return table, draw


# ---------------------------------------------------------------------------------------------
# The list, in a course's order
# ---------------------------------------------------------------------------------------------
EXPERIMENTS = {
    "exploitation": Experiment(
        "Does the policy exploit the learned model, and what do a larger model and more data do to it? Task by task, "
        "the warm-up policy's return in the model minus its real return (Section 4.4's true rating; with L larger than "
        "the tasks trained, it rates every task and skips none) in three SMTL trainings on Figure 1a's task",
        "Section 2.4 (SLBO's model); Algorithm 1 lines 5-7; Section 4.4",
        {"the preset's model": "train --env cheetah --algos smtl-active-true --smtl-active-L 1000",
         "the paper's 500 × 500 model": "train --env cheetah --algos smtl-active-true --smtl-active-L 1000 "
                                        "--dyn-hidden 500,500",
         "twice the data per task": "train --env cheetah --algos smtl-active-true --smtl-active-L 1000 "
                                    "--smtl-n-slbo-train 2"},
        exploitation),
    "warmup": Experiment(
        "What does the warm-up buy? SMTL on Figure 1a with its warm-up rounds, and with none (n_warmup 0: the "
        "adaptation starts SLBO from a fresh policy, and training tasks collect data with fresh policies)",
        "Section 4.3, Eq. (6); Algorithm 1 line 5",
        {"warm-up (the preset's rounds)": "--env cheetah --algos smtl",
         "no warm-up (n_warmup 0)": "--env cheetah --algos smtl --smtl-n-warmup 0"},
        adaptation),
    "shift": Experiment(
        "What does a change at test time do to the warm-up, of the reward or of the dynamics? SMTL trained on Figure "
        "1a's half-cheetah (goals in [0, 2]), adapted without a shift, to goals in [−2, 0] (Figure 2a's shift: the "
        "reward changes, the dynamics do not; other goals, so compared by |v − g|, not paired) and with every "
        "friction halved (Figure 2c's shift, on this body: the dynamics change; the same goals, paired)",
        "Section 5.3, Figure 2",
        {"no shift (1a)": "--env cheetah --algos smtl",
         "negated goals (2a)": "--env cheetah --algos smtl --shift pos2neg",
         "low friction": "--env cheetah --algos smtl --shift low-friction"},
        adaptation),
    "selection": Experiment(
        "How many tasks does active selection skip, and how does the threshold (q, L) set it? Two SMTL trainings of "
        "20 tasks with the estimated rating on Figure 1a's task (Section 4.4 gives no q or L: the defaults are the "
        "SMTL authors' code's)",
        "Section 4.4, Figure 3",
        {"q 0.5, L 10 (the defaults: the SMTL authors' rule)": "train --env cheetah --algos smtl-active-estimated "
                                                               "--smtl-n-tasks 20",
         "q 0.5, L 3": "train --env cheetah --algos smtl-active-estimated --smtl-n-tasks 20 --smtl-active-L 3"},
        selection),
}


SEEDS = "0-2"  # every experiment's training seeds (this project: one seed's intervals are a spread over goals or
# tasks, and another seed can move a verdict)


def commands(name, seeds=None):
    """{label: run.py's arguments} of experiment `name`'s runs from `seeds` (run.py's --seeds; default SEEDS)."""
    return {label: f"{args} --seeds {seeds or SEEDS}" for label, args in EXPERIMENTS[name].runs.items()}


def answer(name, run, root="runs", preset="quick", workers=None, seeds=None):
    """Run (or resume) experiment `name`'s runs from `seeds` with `run` (run.py's: its arguments -> the run's checked
    arguments, after training and adaptation) at `preset` in <root>, then compute the answer: (the table's rows, the
    paths of <root>/exercises/NAME.json and .png)."""
    e = EXPERIMENTS[name]
    given = ["--preset", preset, "--root", root, *(["--workers", str(workers)] if workers else [])]
    commands_run = commands(name, seeds)
    runs = {label: run([*args.split(), *given]) for label, args in commands_run.items()}
    rows, draw = e.observe(runs)
    base = os.path.join(root, "exercises", name)
    store.write_json({"name": name, "question": e.question, "paper": e.paper, "preset": preset,
                      "seeds": sorted({s for a in runs.values() for s in a.seeds}),
                      "runs": {k: f"python run.py {v}" + (f" --preset {preset}" if preset != "quick" else "")
                               for k, v in commands_run.items()},
                      "folders": {k: a.out for k, a in runs.items()},
                      "core_min": round(sum(map(core_min, runs.values()))), "answer": rows}, base + ".json")
    plt = figures.pyplot()
    fig, ax = draw(plt)
    ax.legend(fontsize=7, loc="best")
    fig.suptitle(textwrap.fill(f"{name}: {e.question.split('?')[0]}?", 80), fontsize=10)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=150)
    plt.close(fig)
    return rows, (base + ".json", base + ".png")


def core_min(a):
    """The CPU core-minutes a run took, from its files: its trainings (train.json) and adaptations (goal files)."""
    minutes = 0.0
    for seed in a.seeds:
        trained = store.read_json(os.path.join(a.out, f"s{seed}", "train.json"))
        minutes += sum(trained[algo]["wall_s"] for algo in a.algos) / 60
        for algo in a.algos if a.stage != "train" else ():
            minutes += sum(store.read_json(jobs.goal_file(a, algo, seed, i))["wall_s"] for i in range(a.n_goals)) / 60
    return minutes


def heading(name, question, paper):
    """An experiment exercise's title lines in docs/exercises.md: its name and section, then its question."""
    asked, _, rest = question.partition("?")
    return [f"### `{name}`: {paper}", "", f"**{asked}?**{rest}", ""]


def seeds_said(seeds):
    """How many training runs an answer rests on, said plainly."""
    if len(seeds) == 1:
        return (f"One training seed ({seeds[0]}): its intervals are a spread over goals or tasks, not over training "
                f"runs, and another seed can move a verdict.")
    return f"{len(seeds)} training seeds ({', '.join(map(str, seeds))}), pooled."


def markdown(answer, figure):
    """docs/exercises.md's generated section of one answered experiment (its JSON), the figure at `figure`."""
    header, *cells = table(answer["answer"], minus="−")  # numbers with the typeset minus, as docs/results.md
    seeds = answer.get("seeds") or sorted({int(s) for f in answer["runs"].values() for s in
                                           f.split("--seeds ")[1].split()[0].split(",")})
    return "\n".join([
        *heading(answer["name"], answer["question"], answer["paper"]),
        f"`python run.py exercise {answer['name']}` runs these ({answer['core_min']} core-minutes from scratch at the "
        f"{answer['preset']} preset, less where their trained models are on disk). {seeds_said(seeds)}", "",
        *(f"- {label}: `{command}`" for label, command in answer["runs"].items()), "",
        f"![{answer['name']}]({figure})", "",
        "| " + " | ".join(h.replace("|", "\\|") for h in header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(c) + " |" for c in cells)])


def format_rows(rows):
    """The answer as a plain-text table for the terminal."""
    return figures.text_table(table(rows))


HEADERS = {"vel_err": "|v − g| (m/s)", "difference": "this run − the first, paired", "gap": "virtual − real",
           "gap_first_half": "first half of the tasks", "gap_second_half": "second half", "samples": "real samples",
           "seen": "candidates seen (all seeds)", "rated": "rated (all seeds)", "skipped": "skipped (all seeds)",
           "skipped_per_seed": "skipped per seed", "trained": "trained (all seeds)",
           "samples_per_seed": "real samples per seed"}


def table(rows, minus="-"):
    """[header, then one list of cells per row]: numbers to 3 significant digits, each with its interval (the row's
    key_ci, or ci for the return) beside it and `minus` as its minus sign."""
    def cell(v):
        if v is None:
            return ""
        if isinstance(v, list):
            return "[" + ", ".join(cell(x) for x in v) + "]"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return str(v)
        return (f"{v:.3g}" if isinstance(v, float) else str(v)).replace("-", minus)

    def interval(row, k):
        ci = row.get("ci" if k == "return" else f"{k}_ci")
        return f" {cell(ci)}" if ci and ci[0] is not None else ""
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "ci" and not k.endswith("_ci")]
    return [[HEADERS.get(k, k) for k in keys]] + [[cell(r.get(k)) + interval(r, k) for k in keys] for r in rows]
