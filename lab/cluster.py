"""Where a run's jobs execute: worker processes on this machine, or tasks on a Ray cluster (any number of machines).

lab/experiment.py turns a panel or a whole figure into jobs, each a training (panel, seed, algorithm) or an adaptation
(panel, seed, algorithm, held-out goal) that writes its own result to disk atomically. `parallel` runs a list of jobs
in spawned processes on this machine, and the jobs that a finished one brings (a seed's adaptations once its trainings
are done); `run_all` runs independent jobs and returns their results in order, with a progress bar. `run_on_ray`
submits every job at once as a Ray task that declares the CPUs (and GPU) it needs; a job runs only after the jobs it
depends on (an adaptation after its training, a 20-task SMTL run after the 5-task run it continues), Ray places the
tasks on the cluster's free cores, and every result lands in the same folders (a shared file system), so plotting and
pooling seeds work unchanged.
A worker that dies loses only its unfinished job (Ray retries it); running the same command again finishes the rest.

    parallel(train_one, [(args, "smtl", 0), (args, "maml", 0)], workers=2, on_done=print)
    results = run_all(train_one, [(args, "smtl", 0), (args, "maml", 0)], workers=2, desc="training")  # in order
    run_on_ray([Job("train s0", train_one, (args, "smtl", 0)),
                Job("adapt s0 goal 0", adapt_one, (args, "smtl", 0, 0), after=("train s0",))], address="local")
"""
import collections
import multiprocessing as mp
import os
import signal
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

MAX_RETRIES = 2  # Ray re-runs a job whose worker died this many times before the run reports it failed


@dataclass(frozen=True)
class Job:
    """fn(*args) as one unit of work, after the jobs named in `after`; it needs num_cpus cores and num_gpus GPUs."""
    name: str
    fn: object
    args: tuple
    after: tuple = ()
    num_cpus: float = 1
    num_gpus: float = 0


def _call(fn, args, *finished):
    """A Ray task: fn(*args). `finished` are the results of the jobs it waits for: Ray starts it once they exist."""
    return fn(*args)


def check_device(name):
    """The torch device `name` if torch can use it here, else a ValueError with one line."""
    try:
        device = torch.device(name)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"--device {name}: torch {torch.__version__} cannot use it here ({why})") from None
    return device


def parallel(fn, jobs, workers, on_done, on_tick=None, n_total=None):
    """fn(*job) for every job, in min(workers, n_total) spawned processes (here, in order, if that is 1), calling
    on_done(job, result) here as each one finishes and on_tick() while waiting. on_done may return more jobs, which
    join the queue at once (the jobs that were waiting for this one: a seed's adaptations after its trainings);
    n_total counts them too (default: len(jobs)). The first error, or Ctrl-C, stops every worker and is raised here:
    stopping one is safe, since everything it writes is written atomically."""
    size = min(workers, n_total or len(jobs))
    if size <= 1:
        todo = collections.deque(jobs)
        while todo:
            job = todo.popleft()
            todo.extend(on_done(job, fn(*job)) or ())
        return
    pool = mp.get_context("spawn").Pool(size)
    try:
        pending = {pool.apply_async(fn, job): job for job in jobs}
        while pending:
            next(iter(pending)).wait(0.5)
            for r in [r for r in pending if r.ready()]:
                job = pending.pop(r)
                for new in on_done(job, r.get()) or ():  # get() raises the worker's error here
                    pending[pool.apply_async(fn, new)] = new
            if on_tick:
                on_tick()
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def call(fn, *args):
    """fn(*args): one `parallel` run of jobs of different functions passes this as its fn and (fn, *args) as a job."""
    return fn(*args)


def _numbered(fn, i, *args):
    """(i, fn(*args)): run i of run_all, numbered so that its result returns to its place."""
    return i, fn(*args)


def run_all(fn, runs, workers, desc):
    """[fn(*run) for every run], in `workers` processes (parallel: an error, Ctrl-C or `kill` stops them all),
    in the order given; runs may differ in length (each is passed whole, never zipped into columns)."""
    out, bar = {}, tqdm(total=len(runs), desc=desc)

    def done(job, result):
        out[result[0]] = result[1]
        bar.update()
    parallel(_numbered, [(fn, i, *run) for i, run in enumerate(runs)], workers, done)
    bar.close()
    return [out[i] for i in range(len(runs))]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def stop_on_sigterm():
    """`kill` stops this command as Ctrl-C does: SIGTERM raises KeyboardInterrupt, on which `parallel` stops every
    worker (instead of orphaning them) and the command says how to resume."""
    signal.signal(signal.SIGTERM, _interrupt)


def require_ray():
    """The ray module, or one clear ValueError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: pip install -r lab/requirements-ray.txt") from None
    return ray


def run_on_ray(jobs, address, retries=MAX_RETRIES):
    """Every job as a Ray task on the cluster at `address` ("local": a Ray instance on this machine, started here
    and stopped at the end), each after the jobs it names (jobs come in an order where those precede it). Waits for
    all; a failed job (and what waits on it) is reported in one ValueError after the others have finished."""
    ray = require_ray()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository, above lab/
    # workers import this repository from the shared file system, one torch thread per core as in `parallel`
    env = {"PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    ray.init(address=None if address == "local" else address, runtime_env={"env_vars": env},
             include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(_call)
        refs, names = {}, {}
        for job in jobs:
            ref = task.options(name=job.name, num_cpus=job.num_cpus, num_gpus=job.num_gpus,
                               max_retries=retries).remote(job.fn, job.args, *(refs[a] for a in job.after))
            refs[job.name], names[ref] = ref, job.name
        failed, bar = [], tqdm(total=len(jobs), desc=f"Ray jobs on {address}")
        pending = list(names)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                ray.get(done[0])
            except ray.exceptions.RayError as e:
                failed.append(f"{names[done[0]]} ({type(e).__name__})")
            bar.update(1)
            bar.set_postfix(failed=len(failed), last=names[done[0]][:40])
        bar.close()
    finally:
        ray.shutdown()
    if failed:
        raise ValueError(f"{len(failed)} of {len(jobs)} Ray jobs failed, first {failed[0]}; finished work is kept: "
                         f"run the same command again to finish the rest")
