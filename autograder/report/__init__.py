"""Turning a :class:`~autograder.grading.GradeReport` into files and terminal output."""
