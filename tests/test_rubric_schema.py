"""The typed rubric schema: every spec loads, and a bad key is pointed at by path and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder.rubric.schema import RubricError, find_specs, load
from conftest import CMU_SPEC, ROOT

BASE = CMU_SPEC.read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("spec", find_specs(ROOT / "specs"), ids=lambda p: p.name)
def test_every_spec_loads(spec):
    rubric = load(spec)
    assert rubric.questions and rubric.path(rubric.reference).is_dir()


def test_cmu_totals_match_the_handout():
    rubric = load(CMU_SPEC)
    assert rubric.total_points == 111 and rubric.extra_points == 25
    ids = [q.id for q in rubric.questions]
    for qid in ("Q1.1", "Q2.1.2", "Q2.2.2", "Q3.1.1", "Q4.2", "Q5.3.2", "Q6.4", "Q7.2.1"):
        assert qid in ids


def test_bad_tolerance_is_pointed_at(tmp_path):
    text = BASE.replace("        observe: {p: p}\n      - kind: stability\n        name: softmax of rows with large",
                        "        observe: {p: p}\n        rtol: -1\n      - kind: stability\n        name: softmax of rows with large")
    with pytest.raises(RubricError) as err:
        load(write(tmp_path, text))
    message = str(err.value)
    assert "(Q2.2.2).checks[0].rtol" in message and "greater than or equal to 0" in message
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "rtol: -1" in l)
    assert f"line {line}" in message


def test_unknown_check_kind(tmp_path):
    text = BASE.replace("kind: property\n        name: get_random_batches covers",
                        "kind: propertee\n        name: get_random_batches covers")
    with pytest.raises(RubricError, match="propertee"):
        load(write(tmp_path, text))


def test_typo_in_a_probe_name_is_caught_before_anything_runs(tmp_path):
    text = BASE.replace('steps: ["p = nn.softmax(x)"]', 'steps: ["p = nn.softmax(xx)"]', 1)
    with pytest.raises(RubricError, match=r"Q2.2.2: names \['xx'\]"):
        load(write(tmp_path, text))


def test_probe_statements_are_restricted(tmp_path):
    text = BASE.replace('steps: ["p = nn.softmax(x)"]', 'steps: ["import os"]', 1)
    with pytest.raises(RubricError, match="one assignment or call"):
        load(write(tmp_path, text))
    text = BASE.replace('steps: ["p = nn.softmax(x)"]', 'steps: ["p = nn.softmax(x).__class__"]', 1)
    with pytest.raises(RubricError, match="private attribute"):
        load(write(tmp_path, text))


def test_duplicate_question_ids(tmp_path):
    text = BASE.replace("id: Q1.2,", "id: Q1.1,")
    with pytest.raises(RubricError, match="duplicate question ids"):
        load(write(tmp_path, text))


def test_extra_keys_are_rejected(tmp_path):
    text = BASE.replace("stated_total: 133", "stated_total: 133\nstated_totl: 1")
    with pytest.raises(RubricError, match="stated_totl.*Extra inputs"):
        load(write(tmp_path, text))


def test_not_yaml(tmp_path):
    with pytest.raises(RubricError, match="not valid YAML"):
        load(write(tmp_path, "questions: [unclosed"))


def test_a_rubric_copied_elsewhere_names_the_path_that_does_not_resolve(tmp_path):
    """Validation, not grading, says a copied rubric's reference is missing, naming the key and the
    rule (paths are relative to the rubric's own folder)."""
    from autograder.rubric.schema import RubricError, load
    from conftest import ROOT

    copy = tmp_path / "tdt4265-a2.yaml"
    copy.write_text((ROOT / "specs" / "tdt4265-a2.yaml").read_text())
    with pytest.raises(RubricError, match=r"reference: '../solution/tdt4265-a2' is not there .*relative to the folder"):
        load(copy)
