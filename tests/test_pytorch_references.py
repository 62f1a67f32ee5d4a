"""Reference solutions of the PyTorch handouts reach what the handouts ask.

Handout 003's references (homework3.py, autoencoder.py) are validated through their rubric
(specs/cs541-hw3.yaml, tests/test_validation.py): the judge measures their held-out accuracy and
reconstruction error, and watches that the search never reads the test set."""
from __future__ import annotations

import os
import re
import shutil

import pytest

from conftest import ROOT



# Handout 004's section 7 scripts and handout 000's q2.py PyTorch part are rubric questions now
# (specs/cmu-hw5.yaml Q7.x, specs/gist-ca2.yaml Q2.2.x): tests/test_validation.py runs each once in
# the sandbox, judged on held-out data, so they are not trained a second time here.
