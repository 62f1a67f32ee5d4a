"""autograder: grade neural-network homework safely. The sandbox sees inputs; the judge holds answers.

    from autograder import grade_submission
    report = grade_submission("alice.zip", "specs/cmu-hw5.yaml")
"""
__version__ = "0.1.0"


def grade_submission(source, spec, seed=None):
    """Grade one submission (zip or folder) against one rubric; see :mod:`autograder.grading`."""
    from .grading import grade_submission as _grade

    return _grade(source, spec, seed=seed)
