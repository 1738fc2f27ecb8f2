"""The generated blocks of the docs pages, and the rule that keeps their hand-written notes honest.

A page holds blocks between `<!-- generated KEY -->` and `<!-- end KEY -->`, rebuilt from files alone; the text after
a block, up to the next one, is a hand-written note and is kept as it is. A note may only use numbers that appear in
its own block (`unbacked_numbers`; a test checks the committed pages), so that prose explains and never introduces a
number. lab/report.py writes docs/results.md and the README's tables with these blocks; this file writes the others:
docs/exercises.md (the implementation exercises' timings and learning verdict, the experiment exercises' answers, the
find-the-bug problems), docs/departures.md (every `NOTE (differs from …)` of the method files) and docs/reference.md
(every hyperparameter).

    python run.py results          # rebuilds them all (lab.report.write calls write below)
"""
import ast
import dataclasses
import os
import re

from lab import jobs, store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository
EXERCISES_DIR = os.path.join(ROOT, "docs", "exercises")  # the experiment exercises' answers: NAME.json, NAME.png
EXERCISES_MD = os.path.join(ROOT, "docs", "exercises.md")
DEPARTURES_MD = os.path.join(ROOT, "docs", "departures.md")
REFERENCE_MD = os.path.join(ROOT, "docs", "reference.md")
METHOD_FILES = ("tasks.py", "dynamics.py", "trpo.py", "slbo.py", "smtl.py", "maml.py", "config.py")  # reading order
_NOTE = re.compile(r"NOTE \(differs from ([^)]*)\):\s*(.*)")


BLOCK = re.compile(r"<!-- generated (\S+) -->\n.*?<!-- end \1 -->\n", re.S)


def notes(text):
    """{block key: the hand-written text after it, up to the next block}."""
    marks = list(BLOCK.finditer(text))
    return {m.group(1): text[m.end():(marks[i + 1].start() if i + 1 < len(marks) else len(text))]
            for i, m in enumerate(marks)}


def block(key, body):
    """A generated block: its markers around body."""
    return f"<!-- generated {key} -->\n{body.strip()}\n<!-- end {key} -->\n"


def regenerate(path, blocks):
    """Rewrite the generated blocks {key: body} of the markdown file at `path`, keeping everything else."""
    text = open(path).read()
    store.write_text(BLOCK.sub(lambda m: block(m.group(1), blocks[m.group(1)]) if m.group(1) in blocks
                                else m.group(0), text), path)


# Hand-written text after these blocks opens the next section rather than reading the block: not held to its numbers
SECTION_OPENERS = ("learning",)


def unbacked_numbers(text):
    """[(block key, number)] for every number in a hand-written note that its block does not contain (but the text
    after a SECTION_OPENERS block)."""
    number = re.compile(r"[−-]?\d[\d,]*(?:\.\d+)?")
    norm = lambda s: s.replace("−", "-").replace(",", "")  # noqa: E731
    held = {m.group(1): {norm(x) for x in number.findall(m.group(0))} for m in BLOCK.finditer(text)}  # per block
    return [(key, n) for key, note in notes(text).items() if key not in SECTION_OPENERS for n in number.findall(note)
            if norm(n) not in held[key]]


def num(x, spec=".1f"):
    """x formatted by spec, with a true minus sign."""
    return format(x, spec).replace("-", "−")


def interval(m, spec=".1f"):
    """A (mean, low, high) triple as "mean [low, high]"."""
    return f"{num(m[0], spec)} [{num(m[1], spec)}, {num(m[2], spec)}]"


def learning_block(exercises_dir=EXERCISES_DIR):
    """docs/exercises.md's table of the implementation exercises and the measured learning verdict
    (docs/exercises/learning.json, written by python -m lab.probes exercise_bar)."""
    from exercises import check, checks
    path = os.path.join(exercises_dir, "learning.json")
    m = store.read_json(path) if os.path.exists(path) else None
    seconds = (m or {}).get("check_seconds", {})
    lines = ["| # | exercise | paper | file | check (s) | learning run |", "| --- | --- | --- | --- | --- | --- |"]
    for k, name in enumerate(n for n in check.COURSE if n in checks.EXERCISES):
        e = checks.EXERCISES[name]
        run = (f"~{num(m['learning_run_seconds'], '.0f')} s (2 seeds at once), "
               f"~{num(2 * m['learning_run_seconds'], '.0f')} s if neither learns" if m else "up to 3 seeds"
               ) if e.swap else "none"
        took = "–" if name not in seconds else "< 0.1" if seconds[name] < 0.1 else num(seconds[name], ".1f")
        lines.append(f"| {k + 1} | `{name}` | {e.title} | [`exercises/{name}.py`](../exercises/{name}.py) | {took} | "
                     f"{run} |")
    if m is None:
        return "\n".join(lines + ["", "The learning verdict's bar is not measured yet: `python -m lab.probes "
                                        "exercise_bar`."])
    ratio, n = m["ratio"], m["n_seeds_per_verdict"]
    lines += ["", f"Times on a 2-core CPU, one torch thread per process: the check on the reference, and the learning "
                  f"runs (one seed: {num(m['learning_run_seconds'], '.0f')} s; the first 2 seeds run at once, the "
                  f"third only if neither learns). The learning verdict, measured by `python -m lab.probes "
                  f"exercise_bar` on GAE from {len(m['seeds'])} seeds: |v − g| after {m['stages']} stages as a "
                  f"fraction of the fresh policy's:", "",
              f"| GAE | after / before, per seed | learns from any {n} of the seeds |", "| --- | --- | --- |"]
    names = {"reference": "the reference, `trpo.gae`", "loop": "a Python loop (right; other rounding)",
             "one-step": "the one-step advantage r + γV(s′) − V(s) (wrong)", "none": "no advantage (wrong)"}
    for variant, r in ratio.items():
        lines.append(f"| {names[variant]} | {', '.join(num(x, '.2f') for x in r)} | "
                     f"{num(100 * m['learned_share'][variant], '.0f')} % of the {n}-seed sets |")
    lines += ["", f"\"It learns\" when, from at least one of the check's {n} seeds, |v − g| ends at most "
                  f"{num(m['bar'], '.2f')} of the fresh policy's. The bar "
                  + ("separates right from wrong on every set of seeds measured: a right answer stalls above it on "
                     "a few seeds, never on all of a set; a wrong one never gets below it." if m["separated"] else
                     "does NOT separate right from wrong on every set of seeds measured.")]
    return "\n".join(lines)


BUGS_INTRO = """## Find the bug

Each problem is a function of the method with one line changed, and the curves of the same small experiment run from
the same seeds with the reference (blue) and with the planted bug (red). Read the listing, then the curves: which line
is wrong, and do the curves show it? If not, what would? (A bug that learning curves hide is the common case, and
worth knowing; the answers are kept apart, in [exercise-answers.md](exercise-answers.md).) `python run.py exercise
NAME` prints the listing and runs both versions.

"""


def bug_markdown(answer, name):
    """docs/exercises.md's block of one find-the-bug problem: the listing, the question, the committed figure."""
    from exercises import bugs  # here, not at the top: exercises.bugs imports lab.legged, which imports this file
    bug = bugs.BUGS[name]
    lines = [f"### `{name}`: {bug.title}", "", "```python", bugs.listing(name), "```", "",
             "**Which line is wrong, and do the curves show it? If not, what would?** (Answers: [exercise-answers.md]"
             f"(exercise-answers.md#{name}).)", ""]
    if answer is None:
        return "\n".join(lines + [f"Not run yet: `python run.py exercise {name}`."])
    return "\n".join(lines + [f"`python run.py exercise {name}` runs the reference and the bug from seeds "
                              f"{', '.join(map(str, answer['seeds']))}:", "", f"![{name}](exercises/{name}.png)"])


def exercises_markdown(old, exercises_dir=EXERCISES_DIR):
    """docs/exercises.md: its hand-written text up to its first generated block, then the implementation exercises'
    block (learning_block), one block per experiment exercise (its committed answer, or the command that makes it)
    and one per find-the-bug problem, each followed by its note from `old`."""
    from exercises import bugs, experiments  # (as in bug_markdown)
    first, kept = BLOCK.search(old), notes(old)
    parts = [block("learning", learning_block(exercises_dir)) + kept.get("learning", "\n")]
    for name, e in experiments.EXPERIMENTS.items():
        path = os.path.join(exercises_dir, f"{name}.json")
        body = (experiments.markdown(store.read_json(path), f"exercises/{name}.png") if os.path.exists(path) else
                "\n".join([*experiments.heading(name, e.question, e.paper),
                           f"Not run yet: `python run.py exercise {name}`."]))
        parts.append(block(f"exercise-{name}", body) + kept.get(f"exercise-{name}", "\n"))
    for k, name in enumerate(bugs.BUGS):
        path = os.path.join(exercises_dir, f"{name}.json")
        body = bug_markdown(store.read_json(path) if os.path.exists(path) else None, name)
        parts.append(block(name, (BUGS_INTRO if k == 0 else "") + body) + kept.get(name, "\n"))
    return (old[:first.start()] if first else old) + "".join(parts)


def code_notes(root=ROOT):
    """[(file, where, from what, text)]: every `NOTE (differs from X): …` comment of the method files, its text joined
    over the comment lines that continue it, and the functions or classes around it ('top level' outside any)."""
    out = []
    for name in METHOD_FILES:
        source = open(os.path.join(root, name)).read()
        lines = source.split("\n")
        spans = sorted((n.lineno, n.end_lineno, n.name) for n in ast.walk(ast.parse(source))
                       if isinstance(n, (ast.FunctionDef, ast.ClassDef)))
        for i, line in enumerate(lines):
            m = _NOTE.search(line)
            if not m or "#" not in line[:m.start()]:
                continue
            text, j = [m.group(2)], i + 1
            while j < len(lines) and re.match(r"\s*#(?!\s*-{5})", lines[j]) and not _NOTE.search(lines[j]):
                text.append(lines[j].strip()[1:].strip())
                j += 1
            where = ".".join(n for a, b, n in spans if a <= i + 1 <= b) or "top level"
            out.append((name, where, m.group(1), " ".join(text)))
    return out


def departures_block(root=ROOT):
    """The generated part of docs/departures.md: every NOTE of the code in its own words, file by file."""
    lines = ["## At the line", "", "Every `NOTE (differs from …)` of the method files, in its own words, file by file "
             "(`python run.py results` copies them here; a test keeps the two equal)."]
    for name in METHOD_FILES:
        notes = [n for n in code_notes(root) if n[0] == name]
        if notes:
            lines += ["", f"### [`{name}`](../{name})", ""]
            lines += [f"- **`{where}`** (differs from {what}): {text}" for _, where, what, text in notes]
    return "\n".join(lines)


def hyperparameters_block():
    """The generated part of docs/reference.md: every hyperparameter, its default, meaning and source."""
    lines = ["## Hyperparameters", "", "Every field of every settings group: its default (what `--preset paper` runs), "
             "its meaning, and where the default comes from. `config.py` holds the per-body values (`BODY`) and the "
             "presets' overrides, each with its reason; `python run.py --help` prints the same with the value a "
             "command would use."]
    for group, cls in jobs.CONFIGS.items():
        lines += ["", f"### `{group}`: `{cls.__module__}.{cls.__name__}`, flags `--{group}-*`", "",
                  "| field | default | meaning | source |", "| --- | --- | --- | --- |"]
        for f in dataclasses.fields(cls):
            default = f.default
            default = "TRPOConfig()" if dataclasses.is_dataclass(default) else \
                ", ".join(map(str, default)) if isinstance(default, tuple) else default
            cell = lambda x: str(x).replace("|", "\\|")  # noqa: E731
            lines.append(f"| `{f.name}` | {cell(default)} | {cell(f.metadata['help'])} | "
                         f"{cell(f.metadata['source'])} |")
    return "\n".join(lines)


def write(exercises_dir=EXERCISES_DIR, exercises_md=EXERCISES_MD, departures_md=DEPARTURES_MD,
          reference_md=REFERENCE_MD):
    """Rebuild docs/departures.md's list of NOTEs and docs/reference.md's table of hyperparameters from the code, and
    docs/exercises.md's blocks from exercises_dir; returns the numbers its notes use that their blocks do not hold."""
    for path, blocks in ((departures_md, {"notes": departures_block()}),
                         (reference_md, {"hyperparameters": hyperparameters_block()})):
        if os.path.exists(path):
            regenerate(path, blocks)
    if not os.path.exists(exercises_md):
        return []
    store.write_text(exercises_markdown(open(exercises_md).read(), exercises_dir), exercises_md)
    return unbacked_numbers(open(exercises_md).read())
