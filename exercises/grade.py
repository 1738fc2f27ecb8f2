"""How every exercise's check grades an answer: compare it with the reference and, where they differ, name the known
mistake the answer matches (exercises/checks_*.py hold the checks, exercises/checks.py their list).

    compare("advantages Â", want, got, [("the λ-recursion runs on across episode ends", lambda: wrong)])
    run = once_per_process(train_the_reference)   # each call a copy of one run
"""
import copy
import functools

import numpy as np
import torch


class Failed(Exception):
    """A check that found a difference: its message says where, and the likely cause where it knows one."""


def once_per_process(fn):
    """fn computed once per process for each argument, each call getting its own copy: the reference's side of a
    check (its run, a mistake's run) is the same whatever the answer, so the checks of many answers in one process
    (test_all.py's) train it once. Each run starts from its own seeds; the torch thread count and default dtype are
    the first call's."""
    computed = functools.cache(fn)
    return functools.wraps(fn)(lambda *args, **kwargs: copy.deepcopy(computed(*args, **kwargs)))


def as_double(x):
    """x (a tensor, an array or a number) as a float64 tensor, detached."""
    return torch.as_tensor(np.asarray(x, dtype=np.float64)) if not torch.is_tensor(x) else x.detach().double()


def close(a, b, atol, rtol):
    """The same shape and every entry equal up to atol + rtol·|b|."""
    return a.shape == b.shape and bool(torch.isclose(a, b, rtol=rtol, atol=atol).all())


def compare(what, expected, got, mistakes=(), atol=1e-5, rtol=1e-4):
    """Raise Failed unless `got` equals `expected` (tensors, arrays or numbers) up to float rounding: with the cause of
    the first of `mistakes` ((cause, a function giving what that mistake gives)) whose answer `got` matches, else
    naming the first entry that differs."""
    expected = as_double(expected)
    if got is None:
        raise Failed(f"{what}: expected a value of shape {tuple(expected.shape)}, got None")
    got = as_double(got)
    if got.shape != expected.shape:
        raise Failed(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if close(got, expected, atol, rtol):
        return
    for cause, wrong in mistakes:
        if close(got, as_double(wrong()), atol, rtol):
            raise Failed(f"{what}: {cause}")
    bad = ~torch.isclose(got, expected, rtol=rtol, atol=atol)
    i = tuple(int(j) for j in bad.nonzero()[0])
    raise Failed(f"{what}:{f' entry {i}' if i else ''} expected {expected[i].item():.6g}, got {got[i].item():.6g} "
                 f"({int(bad.sum())} of {bad.numel()} entries differ)")


