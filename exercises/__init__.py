"""Exercises: stubs a student fills in (one file per exercise) and their checks (check.py). The method files never
import this folder; docs/exercises.md lists the exercises in a course's order."""
