"""Datasets for the rubrics, offline: real where they exist, realistic synthetic stand-ins elsewhere.

Importing this package registers every dataset; see :mod:`.registry` for the resolution order.
"""
from . import digits, fashion, nist36  # noqa: F401  (registration)
from .registry import DATASETS, Found, data_root, generate, resolve, status

__all__ = ["DATASETS", "Found", "data_root", "generate", "resolve", "status"]
