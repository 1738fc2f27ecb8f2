"""An experiment's results file (results.json): made from its run folder, joined from runs made in parts, compared.

`summarise` pools a run's adapted goals into one file: per algorithm, the points of each adaptation stage (mean
return with its bootstrap interval, lab/figures.py), the per-goal returns that paired differences read, training
samples and time, and the machines each algorithm ran on. `pool` makes one file of parts run on other machines or
days: disjoint seeds of the same algorithms, or disjoint algorithms on the same seeds and goals (an algorithm rerun
at new settings beside the others' earlier run), refusing parts whose settings differ where their algorithms read
them (`settings_that_differ`).

    results = summarise("runs/ant-vel-quick", ["smtl"], seeds=[0, 1, 2], n_goals=8)
    old = select(store.read_json("docs/results/fig1b.json"), ["maml", "oracle"])   # the rows kept from a file
    joined = pool([results, old])                                                # `python run.py pool` writes it
"""
import json
import os
from dataclasses import asdict, fields, is_dataclass

import numpy as np

from lab import figures, jobs, store


def summarise(out, algos, seeds, n_goals, experiment=None):
    """results.json of an experiment: the goals; per algorithm, per adaptation stage (0 = before any real sample),
    the real samples spent, the return pooled over goals × seeds with its interval, |v − g| and episode length; the
    per-goal returns (n_seeds, n_goals, n_stages) from which paired differences are taken; training samples, time,
    and (SMTL) tasks seen and skipped per seed; the machines the trainings and adaptations ran on (store.machine)."""
    results = {"experiment": experiment, "seeds": list(seeds), "n_goals": n_goals, "goals": None, "algos": {},
               "machines": []}
    keys = ("samples", "return", "vel_err", "ep_len")
    for algo in algos:
        runs = [[store.read_json(os.path.join(out, f"s{s}", "adapt", algo, f"goal{i:02d}.json"))
                 for i in range(n_goals)] for s in seeds]
        results["goals"] = [r["goal"] for r in runs[0]]
        curve = np.array([[[[np.nan if p.get(k) is None else p[k] for k in keys] for p in r["curve"]] for r in seed]
                          for seed in runs])  # (n_seeds, n_goals, n_stages, 4)
        vel_err, ep_len = (None if np.isnan(curve[..., j]).any() else curve[..., j] for j in (2, 3))
        trained = [store.read_json(os.path.join(out, f"s{s}", "train.json")).get(algo, {}) for s in seeds]
        results["algos"][algo] = {
            "points": figures.stage_points(curve[..., 1], curve[..., 0], vel_err, ep_len),
            "returns": curve[..., 1].tolist(),
            **{f"train_{k}": [t.get(k) for t in trained] for k in ("samples", "wall_s", "n_clipped", "n_seen",
                                                                   "n_skipped")},
            "adapt_wall_s": float(sum(r["wall_s"] for seed in runs for r in seed)),
            "machines": _distinct([x.get("machine") for x in trained + sum(runs, [])])}
        results["machines"] = _distinct(results["machines"] + results["algos"][algo]["machines"])
    return results


def _distinct(machines):
    """The machine records (dicts, or None where a run did not record one), each once, in order of appearance."""
    out = []
    for m in machines:
        if m is not None and m not in out:
            out.append(m)
    return out


# The settings of active task selection (Section 4.4), read by no algorithm but the active ones
ACTIVE_SETTINGS = ("active_q", "active_L", "n_rate_episodes", "n_snapshots", "max_candidates")


def reads(algos, group, field):
    """Whether any of the algorithms reads setting group.field (a jobs.CONFIGS group): MAML and the oracle their own
    group and jobs.SHARED_SETTINGS; every SMTL variant the smtl, slbo, dyn and trpo groups, but active selection's
    settings only the active variants."""
    if any(x.startswith("smtl") for x in algos) and group in ("smtl", "slbo", "dyn", "trpo"):
        return not (group == "smtl" and field in ACTIVE_SETTINGS and not any(x in figures.ACTIVE_ALGOS for x in algos))
    return group in algos or any(f"{group}.{field}" in jobs.SHARED_SETTINGS.get(x, ()) for x in algos)


def settings_that_differ(a, b, algos):
    """The settings on which two experiments (results' "experiment") differ in a way their algorithms can see
    (`reads`), as 'group.field' (or a top-level key); a field one side lacks counts as its default (it was made
    before the field existed)."""
    a, b = a or {}, b or {}
    differ = [k for k in {**a, **b} if k != "configs" and a.get(k) != b.get(k)]
    for group in sorted(set(a.get("configs", {})) | set(b.get("configs", {}))):
        ga, gb = a.get("configs", {}).get(group, {}), b.get("configs", {}).get(group, {})
        defaults = {f.name: f.default for f in fields(jobs.CONFIGS[group])} if group in jobs.CONFIGS else {}
        for field in sorted(f for f in set(ga) | set(gb) if reads(algos, group, f)):
            default = defaults.get(field)
            if is_dataclass(default):  # a nested group (the oracle's TRPO): each side's missing fields are defaults
                default = json.loads(json.dumps(asdict(default)))  # as JSON holds it
                va, vb = ({**default, **g.get(field, {})} for g in (ga, gb))
            else:
                default = list(default) if isinstance(default, tuple) else default  # as JSON holds it
                va, vb = ga.get(field, default), gb.get(field, default)
            if va != vb:
                differ.append(f"{group}.{field}")
    return differ


def pool(parts):
    """One results.json from summaries of one experiment run in parts, on other machines or days: what summarise
    would write for all of them together. Parts hold either disjoint seeds of the same algorithms (_pool_seeds) or
    disjoint algorithms on the same seeds and goals (_join_algos: an algorithm rerun at new settings beside the
    others' earlier run at unchanged ones); anything else is refused with one line."""
    first = parts[0]
    for p in parts[1:]:
        for key in ("n_goals", "goals"):
            if p[key] != first[key]:
                raise ValueError(f"cannot pool results with different {key}")
    names = [a for p in parts for a in p["algos"]]
    if len(parts) > 1 and all(p["seeds"] == first["seeds"] for p in parts) and len(set(names)) == len(names):
        return _join_algos(parts)
    if any(set(p["algos"]) != set(first["algos"]) for p in parts):
        held = "; ".join(f"{', '.join(p['algos'])} on seeds {p['seeds']}" for p in parts)
        if all(sorted(p["seeds"]) == sorted(first["seeds"]) for p in parts):
            raise ValueError(f"cannot join results on the same seeds unless their algorithms differ and their seeds "
                             f"come in one order: {held}")
        raise ValueError(f"cannot pool results of different algorithms on different seeds: {held}")
    return _pool_seeds(parts)


def select(results, algos):
    """results (a summary) with only the named algorithms' rows, to join with a rerun of the others (pool). Their
    machines are theirs where they record them (older files record the whole file's only)."""
    missing = [a for a in algos if a not in results["algos"]]
    if missing:
        raise ValueError(f"no results of {', '.join(missing)} in this file; it holds {', '.join(results['algos'])}")
    rows = {a: v for a, v in results["algos"].items() if a in algos}  # in the file's order
    machines = _rows_machines(results)
    return {**results, "algos": rows, "machines": _distinct(sum((machines[a] for a in rows), []))}


def _pool_seeds(parts):
    """Parts over disjoint seeds. The per-goal returns are kept, so the intervals are drawn afresh; samples, |v − g|
    and episode length are means over equally many goals per seed, so a seed-weighted mean of the parts' means is
    the pooled mean."""
    first = parts[0]
    seeds = [s for p in parts for s in p["seeds"]]
    for p in parts[1:]:
        differ = settings_that_differ(first["experiment"], p["experiment"], first["algos"])
        if differ:
            raise ValueError(f"cannot pool results with different experiment settings: {', '.join(differ)}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"cannot pool results that share a seed: {seeds}")
    out = {**first, "seeds": seeds, "algos": {}, "machines": _parts_machines(parts)}
    for algo in first["algos"]:
        runs = [p["algos"][algo] for p in parts]
        returns = np.concatenate([np.array(r["returns"]) for r in runs])  # (n_seeds, n_goals, n_stages)

        def per_seed(key):  # (n_seeds, 1, n_stages): each seed's row holds its part's mean; None if a part has none
            means = [[pt[key] for pt in r["points"]] for r in runs]  # per part: (n_stages,)
            if any(None in m for m in means):
                return None
            return np.repeat(np.array(means, dtype=float), [len(p["seeds"]) for p in parts], axis=0)[:, None]

        out["algos"][algo] = {
            "points": figures.stage_points(returns, per_seed("samples"), per_seed("vel_err"), per_seed("ep_len")),
            "returns": returns.tolist(), "adapt_wall_s": float(sum(r["adapt_wall_s"] for r in runs)),
            **{k: sum((r[k] for r in runs), []) for k in runs[0] if k.startswith("train_")},
            "machines": _distinct(sum((_rows_machines(p)[algo] for p in parts), []))}
    return out


def _join_algos(parts):
    """Parts over disjoint algorithms on the same seeds and goals, so paired differences between them stay paired.
    Each setting comes from the first part whose algorithms read it (`reads`); a part whose algorithms read settings
    that differ from the joined experiment's is refused. Each algorithm keeps its rows and its machines (a
    part written before per-algorithm records gives each of its algorithms the part's machines: _rows_machines)."""
    first = parts[0]
    held = [(p, (p["experiment"] or {}).get("configs") or {}) for p in parts]
    configs = {g: {} for _, c in held for g in c}  # each setting from the first part that reads it, else that holds it
    for reading in (True, False):
        for p, c in held:
            for group, cfg in c.items():
                for field, value in cfg.items():
                    if not reading or reads(p["algos"], group, field):
                        configs[group].setdefault(field, value)
    experiment = {**(first["experiment"] or {}), "configs": configs}
    for p in parts:
        differ = settings_that_differ(p["experiment"], experiment, p["algos"])
        if differ:
            raise ValueError(f"cannot join results of {', '.join(p['algos'])}: settings they read differ from the "
                             f"other parts': {', '.join(differ)}")
    algos = {a: {**v, "machines": _rows_machines(p)[a]} for p in parts for a, v in p["algos"].items()}
    order = sorted(algos, key=list(jobs.ALGOS).index)  # the order every table lists them in
    return {**first, "experiment": experiment, "algos": {a: algos[a] for a in order},
            "machines": _parts_machines(parts)}


def _rows_machines(part):
    """{algorithm: its machine records} of a summary; a file written before per-algorithm records lends each of its
    algorithms the file's own (or none)."""
    return {a: v.get("machines", part.get("machines") or []) for a, v in part["algos"].items()}


def _parts_machines(parts):
    """Every machine record of the summaries, each once."""
    return _distinct(sum((p.get("machines") or [] for p in parts), []))
