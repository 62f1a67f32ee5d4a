"""The course's own environment in the sandbox: every split a handout ships, a judge split of its
own that no sandbox sees, and data paths forgiven when the course provides a file of that name."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import scipy.io

from autograder import data
from autograder.data import digits, flowers, idx
from autograder.rubric.schema import load as load_rubric
from conftest import make_small_data

COURSE = """\
assignment: env-test
title: The course's layout
reference: ref
files:
  run: {path: python/run_q3.py}
data:
  - {dataset: nist36, files: [nist36_train.mat, nist36_valid.mat, nist36_test.mat], next_to: run}
questions:
  - id: Q1
    title: the script read every split
    points: 1
    checks:
      - kind: evaluate
        probe: {steps: [], observe: {sizes: "[run.n_train, run.n_valid, run.n_test]"}}
        thresholds:
          train: {value: "sizes[0]", label: training rows, at_least: 1}
          test: {value: "sizes[2]", label: test rows, at_least: 1}
"""

# the handout's own lines (../data from python/), the homework root's data/, a Windows laptop's path
SCRIPT = '''\
import scipy.io
train = scipy.io.loadmat('../data/nist36_train.mat')
valid = scipy.io.loadmat('data/nist36_valid.mat')
test = scipy.io.loadmat('C:\\\\Users\\\\me\\\\hw5\\\\data\\\\nist36_test.mat')
n_train, n_valid, n_test = len(train['train_data']), len(valid['valid_data']), len(test['test_data'])
'''


def write_scripts(tmp_path, rubric: str, scripts: dict[str, str], student_only: dict[str, str | bytes] = {}):
    """A rubric and its reference and student folders, with ``scripts`` in python/ of both."""
    for folder in ("ref", "student"):
        (tmp_path / folder / "python").mkdir(parents=True)
        for name, text in scripts.items():
            (tmp_path / folder / "python" / name).write_text(text)
    for name, content in student_only.items():
        target = tmp_path / "student" / "python" / name
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    spec = tmp_path / "course.yaml"
    spec.write_text(rubric)
    return spec


def write_course(tmp_path, script: str = SCRIPT, course: str = COURSE):
    return write_scripts(tmp_path, course, {"run_q3.py": script})


def test_a_script_that_loads_the_test_split_at_the_top_runs_and_wrong_paths_are_forgiven(tmp_path):
    from autograder.grading import Grader

    spec = write_course(tmp_path)
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student")
    assert report.question("Q1").score == 1, report.question("Q1").feedback
    given = report.provenance["paths_redirected"]
    assert given == {"data/nist36_valid.mat": "data/nist36_valid.mat",
                     "C:\\Users\\me\\hw5\\data\\nist36_test.mat": "data/nist36_test.mat"}
    assert any("which is not there; it was given the course's data/nist36_test.mat" in n for n in report.intake_problems)


def test_a_path_to_a_file_the_course_does_not_provide_still_fails(tmp_path):
    from autograder.grading import Grader

    spec = write_course(tmp_path, SCRIPT.replace("data/nist36_valid.mat", "data/nist36_judge.mat")
                        .replace("valid['valid_data']", "valid['judge_data']"))
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student")
    assert report.question("Q1").score == 0  # the judge split is never placed, whatever the path
    assert "nist36_judge.mat" in " ".join(report.question("Q1").feedback)
    assert not report.provenance["paths_redirected"].get("data/nist36_judge.mat")


def test_a_rubric_cannot_place_a_judge_split(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(COURSE.replace("nist36_test.mat]", "nist36_test.mat, nist36_judge.mat]"))
    (tmp_path / "ref" / "python").mkdir(parents=True)
    (tmp_path / "ref" / "python" / "run_q3.py").write_text(SCRIPT)
    with pytest.raises(Exception, match="judge"):
        load_rubric(spec)


@pytest.fixture(scope="module")
def small_sets(tmp_path_factory):
    return make_small_data(tmp_path_factory.mktemp("data"), ("nist36", "mnist", "flowers17"), scale=0.05)


def test_synthetic_sets_have_a_judge_split_apart_from_their_test_split(small_sets):
    found = data.resolve("nist36", small_sets, make=False)
    assert found.origin == "synthetic" and "own random stream" in found.judge
    judge = scipy.io.loadmat(found.folder / "nist36_judge.mat")
    test = scipy.io.loadmat(found.folder / "nist36_test.mat")
    assert judge["judge_data"].shape[1] == 1024 and judge["judge_labels"].shape[1] == 36
    assert set(judge["judge_labels"].argmax(1)) == set(range(36))
    # no judge image is a test image
    assert not (judge["judge_data"][:, None, :] == test["test_data"][None, :, :]).all(-1).any()
    mnist = data.resolve("mnist", small_sets, make=False).folder
    images, labels = (idx.read(mnist / f) for f in digits.MNIST_JUDGE)
    t10k = idx.read(mnist / "MNIST/raw/t10k-images-idx3-ubyte")
    assert len(images) == len(labels) and set(labels) == set(range(10))
    assert labels[:10].tolist() != sorted(labels[:10].tolist()) or len(set(labels[:20])) > 1  # shuffled
    assert not (images.reshape(len(images), 1, -1) == t10k.reshape(1, len(t10k), -1)).all(-1).any()
    assert (data.resolve("flowers17", small_sets, make=False).folder / flowers.JUDGE).is_dir()


def test_real_data_without_a_judge_split_uses_its_test_split_and_says_so(small_sets, tmp_path):
    folder = tmp_path / data.DATASETS["nist36"].folder
    folder.mkdir()
    source = data.resolve("nist36", small_sets, make=False).folder
    for name in ("nist36_train.mat", "nist36_valid.mat", "nist36_test.mat"):
        (folder / name).write_bytes((source / name).read_bytes())
    found = data.resolve("nist36", tmp_path, make=False)
    assert found.origin == "real" and "students had" in found.judge
    judge = scipy.io.loadmat(folder / "nist36_judge.mat")
    test = scipy.io.loadmat(folder / "nist36_test.mat")
    assert np.array_equal(judge["judge_data"], test["test_data"])
    assert "students had" in json.loads((folder / data.registry.JUDGE_SOURCE).read_text())["source"]


def test_every_rubric_judges_held_out_work_on_a_judge_split_never_placed():
    """No `then:` or held-out probe reads a file the sandbox was given, and every split a handout
    ships of NIST36 and MNIST is placed whole."""
    from conftest import ROOT

    for spec in sorted((ROOT / "specs").glob("*.yaml")):
        rubric = load_rubric(spec)
        for placement in rubric.data:
            if placement.dataset in ("nist36", "mnist", "emnist-balanced", "flowers17"):
                judged = set(data.DATASETS[placement.dataset].judge_files)
                assert not judged & set(placement.files), (spec.name, placement.files)
                assert not placement.head or placement.dataset != "nist36", spec.name
        text = spec.read_text()
        assert "nist36_test.mat, key: test_labels" not in text and "test.mat, key: test_labels" not in text, spec.name
        assert "rows: [50000" not in text and "rows: [8000" not in text, spec.name


CHAIN = """\
assignment: chain-test
title: Scripts that chain
reference: ref
files:
  run_q3: {path: python/run_q3.py, run_as: script}
  run_q4: {path: python/run_q4.py, run_as: script, after: [run_q3]}
questions:
  - id: Q3
    title: training
    points: 1
    time_s: 5
    checks:
      - kind: evaluate
        probe: {steps: [], observe: {w: run_q3.w}}
        thresholds: {w: {value: "w", label: the weight, at_least: 1}}
  - id: Q4
    title: the weights, used
    points: 1
    checks:
      - kind: evaluate
        probe: {steps: [], observe: {total: run_q4.total}}
        thresholds: {total: {value: "total", label: what run_q4 read, at_least: 7, zero_at: 0}}
"""
TRAIN = "import pickle\n{slow}w = 7.0\nwith open('q3_weights.pickle', 'wb') as fh:\n    pickle.dump({{'w': w}}, fh)\n"
USE = "import pickle\ntotal = pickle.load(open('q3_weights.pickle', 'rb'))['w']\n"


def write_chain(tmp_path, slow: str = "", handed_in: float | None = None):
    """run_q3.py saves the weights run_q4.py loads; the student's run_q3.py may be ``slow``."""
    import pickle

    student = {"run_q3.py": TRAIN.format(slow=slow)} if slow else {}
    if handed_in is not None:
        student["q3_weights.pickle"] = pickle.dumps({"w": handed_in})
    return write_scripts(tmp_path, CHAIN, {"run_q3.py": TRAIN.format(slow=""), "run_q4.py": USE}, student)


def test_a_later_script_reads_what_an_earlier_one_wrote_even_when_graded_alone(tmp_path):
    from autograder.grading import Grader

    spec = write_chain(tmp_path)
    with Grader(spec) as grader:
        alone = grader.grade(tmp_path / "student", only={"Q4"})
        whole = grader.grade(tmp_path / "student")
    for report in (alone, whole):
        assert report.question("Q4").score == 1, report.question("Q4").feedback
        assert "python/run_q4.py read python/q3_weights.pickle, written by python/run_q3.py earlier in this grade" \
            in report.intake_problems
    assert whole.question("Q3").score == 1


def test_when_the_earlier_script_fails_the_handed_in_copy_is_used_and_the_report_says_so(tmp_path):
    from autograder.grading import Grader

    spec = write_chain(tmp_path, slow="import time\ntime.sleep(600)\n", handed_in=7.5)
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student")
    assert report.question("Q3").score == 0  # it timed out
    assert report.question("Q4").score == 1, report.question("Q4").feedback
    assert ("python/run_q4.py read python/q3_weights.pickle as handed in (python/run_q3.py did not write one "
            "in this grade)") in report.intake_problems


def test_after_must_name_other_files(tmp_path):
    spec = write_chain(tmp_path)
    spec.write_text(CHAIN.replace("after: [run_q3]", "after: [run_q9]"))
    with pytest.raises(Exception, match="run_q9"):
        load_rubric(spec)


@pytest.mark.slow
def test_a_flat_zip_and_a_course_layout_zip_of_the_reference_earn_the_same_grade(tmp_path, grader):
    """The scripts read ../data and ../images from python/; zipped flat, they sit at the root, where
    the data goes into data/ and images/ and the paths are forgiven."""
    from autograder.validation import Variant, make_variant

    rubric = grader.rubric
    only = {"Q2.1.2", "Q2.4.1", "Q4.1", "Q4.2", "Q6.1"}
    grades, full = {}, {}
    for layout in ("course", "flat", "nested"):
        (tmp_path / layout).mkdir()
        archive = make_variant(rubric.path(rubric.reference), Variant(name=layout, layout=layout, questions=[]),
                               tmp_path / layout)
        report = grader.grade(archive, only=only)
        grades[layout] = {q.id: q.score for q in report.questions if q.id in only}
        full = {q.id: q.auto_max for q in report.questions if q.id in only}
    assert grades["flat"] == grades["course"] == grades["nested"] == full, grades


FALLBACK = CHAIN.replace('''        probe: {steps: [], observe: {w: run_q3.w}}
''', '''        probe: {steps: ["script = run_q3", "p = load_pickle('q3_weights.pickle')"], observe: {w: "p['w']"}}
        otherwise:
          steps: ["p = load_pickle(handed_in('q3_weights.pickle'))"]
          note: graded the q3_weights.pickle handed in instead
''')


@pytest.mark.parametrize("handed_in, score", [(7.5, 1), (None, 0), (0.0, 0)])
def test_a_training_script_past_its_budget_is_graded_on_the_weights_handed_in(tmp_path, handed_in, score):
    from autograder.grading import Grader

    spec = write_chain(tmp_path, slow="import time\ntime.sleep(600)\n", handed_in=handed_in)
    spec.write_text(FALLBACK)
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student", only={"Q3"})
    feedback = " ".join(report.question("Q3").feedback)
    assert report.question("Q3").score == score, feedback
    assert "timed out" in feedback
    assert ("graded the q3_weights.pickle handed in instead" in feedback) == (handed_in is not None)


def test_the_grader_measures_each_script_run_on_its_own_clock_and_cgroup(tmp_path):
    """provenance.json keeps what each script needed (benchmarks/measure_budgets.py sets the rubrics'
    budgets from it): its first run's seconds, and its worker's peak memory when cgroups exist."""
    from autograder.grading import Grader
    from autograder.sandbox.layers import detect

    spec = write_chain(tmp_path)
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student")
    runs = report.provenance["timing"]["scripts"]
    assert set(runs) == {"run_q3", "run_q4"}
    assert all(r["run_s"] > 0 for r in runs.values())
    # run_q4 runs after run_q3 in the same worker: neither runs twice, however many questions read them
    assert {name: r["runs"] for name, r in runs.items()} == {"run_q3": 1, "run_q4": 1}
    if detect().has("cgroup-memory"):  # a Python with NumPy and SciPy, not more
        assert all(5 < r["peak_rss_mb"] < 1024 and r["cgroup_peak_mb"] >= 5 for r in runs.values()), runs


def test_every_era_variant_applies_to_its_reference(tmp_path):
    """Each variant's edits find their text exactly once, and its questions exist (what ``validate
    --full`` grades, checked in a second)."""
    import zipfile

    from autograder.rubric.schema import find_specs
    from autograder.validation import load_variants, make_variant
    from conftest import ROOT

    seen = 0
    for spec in find_specs(ROOT / "specs"):
        rubric = load_rubric(spec)
        ids = {q.id for q in rubric.questions}
        for i, variant in enumerate(load_variants(rubric)):
            archive = make_variant(rubric.path(rubric.reference), variant, tmp_path / f"{rubric.assignment}-{i}")
            assert zipfile.ZipFile(archive).testzip() is None
            assert set(variant.questions) <= ids, (variant.name, set(variant.questions) - ids)
            seen += 1
    assert seen >= 5


def test_a_variant_can_hand_a_script_in_as_a_notebook(tmp_path):
    import nbformat

    from autograder.validation import Variant, make_variant

    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "hw.py").write_text("import math\n\n\ndef f(x):\n    return x\n\n\nprint(f(math.pi))\n")
    make_variant(tmp_path / "ref", Variant(name="colab", as_notebook=["hw.py"], questions=[]), tmp_path / "out")
    assert not (tmp_path / "out" / "tree" / "hw.py").exists()
    notebook = nbformat.read(tmp_path / "out" / "tree" / "hw.ipynb", as_version=4)
    assert [c.source for c in notebook.cells] == ["import math", "def f(x):\n    return x", "print(f(math.pi))"]
