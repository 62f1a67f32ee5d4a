"""Grade a whole class: ``autograde batch SUBMISSIONS --spec SPEC`` (see runner.py for the pipeline)."""
from .runner import BatchResult, run_batch

__all__ = ["BatchResult", "run_batch"]
