"""What runs write to disk: checkpoints, JSON results, CSV logs and videos, written atomically; checked checkpoint
loads.

Every write goes to a temporary name unique to the writing process, then replaces the target in one step
(os.replace), so a reader, a parallel worker or an interrupted run sees the old file or the new one, never half of
one. A checkpoint carries a format string (its kind and version): loading checks it, and anything else (a truncated
file, another version, another kind) is one clear ValueError, never a traceback or a silent mix-up. Trained models
are named by a digest of the settings their training reads (`digest`), and a longer SMTL run starts from a copy of
a shorter one (`grow`).

    resume, save = checkpointing("runs/models/maml.pt", maml.CHECKPOINT_FORMAT, kind="maml")
    maml.meta_train("cheetah-vel", resume=resume, save=save)   # resumes the file if there is one, rewrites it each step
    write_csv([{"task": 0, "return": -256.6}], "runs/smtl.csv"); write_video(frames, "runs/smtl.mp4", fps=20)
"""
import csv
import hashlib
import json
import os
import platform
import re
import shutil
from importlib import metadata

import imageio.v2 as imageio
import torch


def _atomic(path, write):
    """write(tmp) to a temporary name in path's folder, then replace path with it."""
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(obj, path):
    """torch.save(obj) atomically: a crash while saving leaves the previous checkpoint intact."""
    _atomic(path, lambda tmp: torch.save(obj, tmp))


def load_checkpoint(path, fmt, kind=None):
    """The checkpoint dict at `path` (tensors on the CPU), if it has format `fmt` (and `kind`, where given); else a
    ValueError with one line: missing, unreadable, another version or another kind."""
    what = kind or fmt.split("-")[0]
    if not os.path.isfile(path):
        raise ValueError(f"no {what} checkpoint at {path!r}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f"{path!r} is not a readable {what} checkpoint ({type(e).__name__})") from None
    found = ck.get("format", "") if isinstance(ck, dict) else ""
    if found != fmt:
        family = fmt.rsplit("-", 1)[0]  # e.g. maml-checkpoint
        raise ValueError(f"{path!r} is a {what} checkpoint of an older version ({found}, this code reads {fmt}); "
                         f"train again into a new path" if str(found).startswith(family)
                         else f"{path!r} is not a {what} checkpoint")
    if kind is not None and ck.get("kind") != kind:
        raise ValueError(f"{path!r} is a {ck.get('kind')} checkpoint, not a {kind} one")
    return ck


def checkpointing(path, fmt, kind=None):
    """(the checkpoint at `path`, or None if there is none; a save function that writes one there atomically): what
    the method files' train functions take as `resume` and `save`."""
    resume = load_checkpoint(path, fmt, kind) if os.path.exists(path) else None
    return resume, lambda checkpoint: save_checkpoint(checkpoint, path)


def machine():
    """What a run's numbers depend on besides its seed: the CPU model, its cores, torch's threads in this process and
    the versions of Python and the numerical libraries (float rounding differs between CPU models and versions)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__,
            **{name: metadata.version(name) for name in ("numpy", "mujoco", "gymnasium")}}


def write_json(obj, path):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)

    _atomic(path, write)


def write_text(text, path):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    _atomic(path, write)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_csv(log, path):
    """A training log (one dict per task or iteration) as a CSV file, rewritten whole; lists are written as JSON."""
    columns = list(dict.fromkeys(k for row in log for k in row))  # every key, in order of first appearance

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, columns)
            w.writeheader()
            w.writerows({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()} for row in log)

    _atomic(path, write)


def write_video(frames, path, fps):
    """RGB frames (n, height, width, 3) uint8 as an H.264 mp4 (imageio with its bundled ffmpeg)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path[:-len('.mp4')]}.tmp{os.getpid()}.mp4"  # ffmpeg picks the format by the extension
    imageio.mimwrite(tmp, list(frames), fps=fps, macro_block_size=1)
    os.replace(tmp, path)


def digest(settings):
    """8 hex digits naming a dict of settings (JSON-able), the same on every machine: a trained model's file name
    carries the digest of every setting its training reads, so experiments that agree on them share the model."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def growable(path):
    """(what the SMTL run at `path` can grow from: its folder, name and settings digest; its number of tasks), or None
    for a model that is not an SMTL run."""
    m = re.fullmatch(r"(.+)-tasks(\d+)-(\w+)\.pt", os.path.basename(path))
    return ((os.path.dirname(path), m.group(1), m.group(3)), int(m.group(2))) if m else None


def longest_shorter(path, others):
    """The longest SMTL run among the paths `others` that the run at `path` can grow from (same settings, fewer
    tasks), or None."""
    mine = growable(path)
    runs = [(g[1], p) for p in others if mine and (g := growable(p)) and g[0] == mine[0] and g[1] < mine[1]]
    return max(runs)[1] if runs else None


def grow(path):
    """Start an N-task SMTL run from a copy of the longest M-task run (M < N) of the same settings, if there is one:
    Algorithm 1's first M tasks are the same whatever N (n_tasks only says when to stop, and train() resumes a
    checkpoint with a larger n_tasks), so Figure 3's 20-task run continues its 5-task run instead of redoing it."""
    folder = os.path.dirname(path)
    if os.path.exists(path) or not os.path.isdir(folder):
        return
    source = longest_shorter(path, [os.path.join(folder, f) for f in os.listdir(folder)])
    if source:
        _atomic(path, lambda tmp: shutil.copyfile(source, tmp))


def read_csv(path):
    """A CSV log back as a list of dicts of numbers (and None for an empty cell, JSON lists as lists)."""
    def parse(v):
        if v == "":
            return None
        if v in ("True", "False"):
            return v == "True"
        try:
            return json.loads(v)
        except ValueError:
            return v

    with open(path, newline="") as f:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(f)]
