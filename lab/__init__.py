"""The lab: what runs the paper's experiments around the method files (which never import it).

store (atomic files, checkpoints, model digests), jobs (one training or one adaptation), cluster (worker processes or
Ray), figures (panels, pooling, plots, verdicts), video (an adapted policy on film), bench (speed and sample-efficiency
targets). `run.py` is the one entry point that imports both the method and the lab.
"""
