"""Datasets for the rubrics, offline: real where they exist, realistic synthetic stand-ins elsewhere.

Importing this package registers every dataset; see :mod:`.registry` for the resolution order.
"""
from . import digits, fashion, flowers, nist36, ocr  # noqa: F401  (registration)
from .registry import DATASETS, Found, add, data_root, generate, resolve, status

__all__ = ["DATASETS", "Found", "add", "data_root", "generate", "resolve", "status"]
