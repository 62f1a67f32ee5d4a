"""tox's core promise: every rubric's reference earns full marks, the starter zero, each mutant its loss."""
from __future__ import annotations

import pytest

from autograder.rubric.schema import find_specs
from autograder.validation import validate
from conftest import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("spec", find_specs(ROOT / "specs"), ids=lambda p: p.stem)
def test_rubric_validates(spec):
    result = validate(spec, full=True)
    failures = [f"{f.subject}: {f.detail}" for f in result.findings if not f.ok]
    assert not failures, "\n".join(failures)
    assert any(f.subject.startswith("mutant") for f in result.findings)
