"""tox's core promise: every rubric's reference earns full marks, the starter zero, each mutant its loss
and each era variant full marks. Each rubric is validated in parts (its reference and starter, then
shares of its mutants and variants), so that the test workers share the longest rubric's work."""
from __future__ import annotations

import pytest

from autograder.rubric.schema import find_specs, load
from autograder.validation import load_mutants, load_variants, validate
from conftest import ROOT

SHARE_COST = 16  # a share of mutants and variants: about 16 function-check grades' worth, a few minutes
LONG_COST = 4    # a mutant that re-runs a long question (a training, a pipeline) costs about four


def cost(rubric, item) -> int:
    """A mutant's or variant's share of the work: those that re-run long questions cost more, so that
    a rubric of trainings (handout 003's every mutant trains) is split as finely as one of functions."""
    long = {q.id for q in rubric.questions if q.long_running}
    named = set(getattr(item, "questions", [])) | set(getattr(item, "loses", [])) | set(
        getattr(item, "may_lose", [])) | set(getattr(item, "keeps", []))
    return LONG_COST if named & long else 1


def parts():
    """Each rubric's reference (and starter), then shares of its mutants and variants of about equal
    cost, the costliest rubrics first: the two test workers start the long work together."""
    params = []
    for spec in find_specs(ROOT / "specs"):
        rubric = load(spec)
        items = load_mutants(rubric) + load_variants(rubric)
        total = sum(cost(rubric, item) for item in items)
        shares = max(1, -(-total // SHARE_COST))
        params.append((total, pytest.param(spec, ("reference", "starter"), (0, 1), id=f"{spec.stem}-reference")))
        for i in range(shares):
            params.append((total / shares, pytest.param(spec, ("mutants", "variants"), (i, shares),
                                                        id=f"{spec.stem}-mutants-{i + 1}of{shares}")))
    return [param for _, param in sorted(params, key=lambda pair: -pair[0])]


@pytest.mark.slow
@pytest.mark.parametrize("spec, what, share", parts())
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
