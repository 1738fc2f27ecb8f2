"""Exercises: stubs a student fills in (one file per exercise) and their checks (check.py), and experiments that
answer a question about the method from runs of run.py (experiments.py). The method files never import this folder;
docs/exercises.md lists the exercises in a course's order."""
