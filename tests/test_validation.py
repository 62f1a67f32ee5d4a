"""tox's core promise: every rubric's reference earns full marks, the starter zero, each mutant its loss
and each era variant full marks. Each rubric is validated in parts (its reference and starter, then
shares of its mutants and variants), so that the test workers share the longest rubric's work."""
from __future__ import annotations

import pytest

from autograder.rubric.schema import find_specs, load
from autograder.validation import load_mutants, load_variants, validate
from conftest import ROOT

PER_SHARE = 16  # mutants and variants per share: a share of handout 004's takes a few minutes


def parts():
    for spec in find_specs(ROOT / "specs"):
        rubric = load(spec)
        yield pytest.param(spec, ("reference", "starter"), (0, 1), id=f"{spec.stem}-reference")
        shares = max(1, -(-(len(load_mutants(rubric)) + len(load_variants(rubric))) // PER_SHARE))
        for i in range(shares):
            yield pytest.param(spec, ("mutants", "variants"), (i, shares), id=f"{spec.stem}-mutants-{i + 1}of{shares}")


@pytest.mark.slow
@pytest.mark.parametrize("spec, what, share", list(parts()))
def test_rubric_validates(spec, what, share):
    result = validate(spec, full=True, parts=what, share=share)
    failures = [f"{f.subject}: {f.detail}" for f in result.findings if not f.ok]
    assert not failures, "\n".join(failures)
    if "mutants" in what:  # every share holds some: a share that validated nothing is a broken split
        assert any(f.subject.startswith(("mutant", "variant")) for f in result.findings)


def test_every_rubric_has_mutants():
    """No points for no work: every rubric's mutants exist (their validation is the slow tests above)."""
    for spec in find_specs(ROOT / "specs"):
        assert load_mutants(load(spec)), spec
