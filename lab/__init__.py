"""The lab: what runs the paper's experiments around the method files (which never import it).

experiment (one experiment's folder and stages, one figure of them), store (atomic files, checkpoints, model
digests), jobs (one training or one adaptation), cluster (worker processes or Ray), summaries (results files: made,
joined, compared), figures (panels, intervals, plots, verdicts), report (docs/results.md and the README's tables),
pages (the other docs pages' generated blocks), video (an adapted policy on film), bench and bench_learning (speed
and sample-efficiency targets), probes (what the quick preset rests on), legged (the probes of SMTL on the legged
bodies). `run.py`, the command line, is the one entry point.
"""
