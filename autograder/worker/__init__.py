"""The untrusted side: a process that imports a submission and answers probe requests.

This package is bound alone into the sandbox (never the rest of ``autograder``, the rubric, the
fixtures or the reference solution), so it imports nothing outside itself but numpy and the
standard library. The same code serves the trusted reference worker, so student and reference
observations are produced by one code path.
"""
