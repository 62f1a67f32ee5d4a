"""HTML reports (one student, a class) and code similarity across a class.

The reports are written from real grades of handout 001's quick rubric (the reference, the blank
starter, a mutant with a wrong hidden answer); similarity is measured on handout 004's nn.py.
"""
from __future__ import annotations

import ast
import csv
import html
import json
import re
from pathlib import Path

import nbformat
import pytest
from copydetect import compare_files

from autograder.checks.base import Attachment, Outcome
from autograder.grading import CheckResult, Grader
from autograder.report.html import normalise, write_report_html, write_summary_html
from autograder.report.writers import write_reports
from autograder.similarity import (Pair, boilerplate_hashes, code_files, fingerprint, similar_pairs,
                                   similarity_matrix, write_similarity_report, _Document)
from autograder.rubric.schema import load
from autograder.validation import apply_mutant, load_mutants
from conftest import ROOT

APL_SPEC = ROOT / "specs" / "apl405-hw2.yaml"
NN_REFERENCE = ROOT / "solution" / "cmu-hw5" / "python" / "nn.py"
NN_STARTER = ROOT / "specs" / "cmu-hw5" / "starter"
HOSTILE = "<script>alert('x')</script>"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5e2d2"
                    "a40000000049454e44ae426082")


# -- a small graded class -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Reports of the reference, the blank starter and a wrong hidden answer, graded for real."""
    tmp = tmp_path_factory.mktemp("apl")
    with Grader(APL_SPEC) as grader:
        mutant = next(m for m in load_mutants(grader.rubric) if m.name == "wrong answer for w3")
        wrong_w3 = apply_mutant(grader.rubric.path(grader.rubric.reference), mutant, tmp / "wrong_w3")
        quick = {q.id for q in grader.rubric.questions if not q.long_running}  # not the notebooks' training
        reports = {"ref": grader.grade(grader.rubric.path(grader.rubric.reference), only=quick),
                   "blank": grader.grade(grader.rubric.path(grader.rubric.starter), only=quick),
                   "wrong_w3": grader.grade(wrong_w3, only=quick)}
        rubric = grader.rubric
    # a check that quotes what the student's code returned, e.g. a string it printed
    q1 = reports["blank"].question("Q1")
    q1.checks.append(CheckResult("printout", "evaluate", 1.0, [Outcome(0.0, f"case 1: printed {HOSTILE}")]))
    # a figure the student's script drew, left for the TA
    reports["blank"].question("Q3").checks.append(CheckResult(
        "figures", "figures", 1.0, [Outcome(0.0, "look at the loss curve", pending=True,
                                           attachments=[Attachment("loss.png", PNG, "training loss")])]))
    return rubric, reports


@pytest.fixture(scope="module")
def batch(graded, tmp_path_factory):
    """A batch folder as ``autograde batch`` leaves it, with one crashed submission."""
    rubric, reports = graded
    out = tmp_path_factory.mktemp("batch")
    for student, report in reports.items():
        write_reports(report, out / student, release=False)
    (out / "crashed").mkdir()
    (out / "crashed" / "error.txt").write_text(f"intake failed on {HOSTILE}\n")
    with (out / "gradebook.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "Q1", "Q2", "Q4.iii", "Q4.xii", "total", "late_penalty", "final"])
        writer.writerow(["ref", 3, 2, 0.5, 0.25, 5.75, 2.875, 2.875])  # handed in a day late: 50 % off
        writer.writerow(["blank", 0, 0, 0, 0, 0, 0, 0])
        writer.writerow(["wrong_w3", 3, 1.5, 0.5, 0.25, 5.25, 0, 5.25])
    (out / "similarity.html").write_text("<html></html>")
    write_summary_html(out, rubric)
    return out


def text_of(page: str) -> str:
    """The page's visible text, entities decoded and whitespace collapsed."""
    body = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)
    return " ".join(html.unescape(body).split())


def test_student_report_has_total_questions_and_provenance(batch, graded):
    page = (batch / "ref" / "report.html").read_text()
    text = text_of(page)
    report = graded[1]["ref"]
    assert "5.75 / 5.75 auto-graded points" in text
    assert "Q1 Hand-designed network for descending order 3 / 3 passed" in text
    assert "Q3 Computational graph and backpropagation for x-bar – / 3 graded by a TA" in text
    prov = report.provenance
    for value in (prov["rubric"]["sha256"], prov["submission_sha256"], str(prov["seed"])):
        assert value in text
    assert "sandbox layers active " + (", ".join(prov["sandbox"]["active"]) or "none") in text
    assert "numpy " + prov["libraries"]["numpy"] in text


def test_write_reports_returns_the_html_path(batch):
    results = json.loads((batch / "wrong_w3" / "results.json").read_text())
    assert results["score"] == pytest.approx(5.25)
    assert (batch / "wrong_w3" / "report.html").is_file()


def test_hidden_feedback_is_withheld_until_release(graded, tmp_path):
    report = graded[1]["wrong_w3"]
    feedback = report.question("Q2").feedback
    assert feedback and "dL/dw3" in feedback[0]
    before = text_of(write_report_html(report, tmp_path / "before", release=False).read_text())
    assert "Q2 Gradients with ReLU activation (YES/NO) (hidden) 1.5 / 2 hidden until grades are released" in before
    assert "dL/dw3" not in before
    after = text_of(write_report_html(report, tmp_path / "after", release=True).read_text())
    assert "dL/dw3 guaranteed to be 0?" in after and "hidden until grades" not in after


def test_student_strings_are_escaped(batch):
    for page in (batch / "blank" / "report.html", batch / "summary.html"):
        source = page.read_text()
        assert "<script" not in source and HOSTILE in text_of(source)  # shown as text, not run


def test_figures_are_shown_inline_by_relative_path(batch):
    page = (batch / "blank" / "report.html").read_text()
    assert '<img src="figures/Q3-1.png" alt="training loss">' in page
    assert (batch / "blank" / "figures" / "Q3-1.png").read_bytes() == PNG
    assert "look at the loss curve" in text_of(page)


def test_summary_counts_statistics_and_links(batch):
    page = (batch / "summary.html").read_text()
    text = text_of(page)
    assert "4 students, 3 graded, 1 could not be graded" in text
    # totals 5.75, 0 and 5.25: mean 3.67, median 5.25
    assert "mean median min max 3.67 5.25 0 5.75" in text
    for student in ("ref", "blank", "wrong_w3"):
        assert f'<a href="{student}/report.html">' in page
    assert "ref 5.75 2.88 2.88 report.html" in text  # the gradebook's late penalty and final grade, rounded like totals
    assert "crashed error intake failed on" in text
    assert '<a href="similarity.html">' in page
    assert page.count('src="data:image/png;base64,') == 1


def test_summary_question_table(batch):
    text = text_of((batch / "summary.html").read_text())
    # Q1: 3, 0 and 3 points: one student in three below full marks; Q2: 2, 0, 1.5
    assert "Q1 Hand-designed network for descending order 3 2 33 % 0 %" in text
    assert "Q2 Gradients with ReLU activation (YES/NO) (hidden) 2 1.17 67 % 0 %" in text
    assert "Q3 Computational graph and backpropagation for x-bar 3 – – 100 %" in text


def test_common_feedback_groups_numbers(batch, tmp_path):
    assert normalise("case 3: got 0.51") == normalise("case 7: got 0.49") == "case #: got #"
    assert normalise("dL/dw1: Q2.2.2 is 1e-6") == "dL/dw1: Q2.2.2 is #"
    pattern = "no file named run_q7_1_1.py (or a name like /(run_?)?q_?7[._-]?1[._-]?1\\.py/) after 3 tries"
    assert normalise(pattern) == pattern.replace("after 3", "after #")
    assert normalise("call `np.float(5)` got 2") == "call `np.float(5)` got #"
    for student, value in (("a", "0.51"), ("b", "0.49")):
        (tmp_path / student).mkdir()
        (tmp_path / student / "results.json").write_text(json.dumps({"score": 1, "tests": [
            {"number": "Q1", "score": 1, "max_score": 3, "output": f"order: case {len(student)}: got {value}"},
            {"number": "Q2", "score": 0, "max_score": 2, "output": f"answer: got {value}"}]}))
    text = text_of(write_summary_html(tmp_path, load(APL_SPEC)).read_text())
    assert "2 Q1 order: case #: got # e.g. order: case 1: got 0.51" in text
    assert "2 Q2 answer: got #" in text


# -- similarity ---------------------------------------------------------------------------------
INDEPENDENT_NN = '''
import numpy as np
from util import *


def initialize_weights(in_size, out_size, params, name=''):
    limit = (6 / (in_size + out_size)) ** 0.5
    weights = np.random.rand(in_size, out_size) * 2 * limit - limit
    params['W' + name], params['b' + name] = weights, np.zeros((out_size,))


def sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def forward(X, params, name='', activation=sigmoid):
    z = np.dot(X, params['W' + name]) + params['b' + name][None, :]
    a = activation(z)
    params['cache_' + name] = (X, z, a)
    return a


def softmax(x):
    out = np.zeros_like(x)
    for row in range(x.shape[0]):
        v = np.exp(x[row] - x[row].max())
        out[row] = v / v.sum()
    return out


def compute_loss_and_acc(y, probs):
    picked = probs[y.astype(bool)]
    correct = 0
    for i in range(len(y)):
        if y[i].argmax() == probs[i].argmax():
            correct += 1
    return float(-np.log(picked).sum()), correct / len(y)


def sigmoid_deriv(post_act):
    return post_act - post_act ** 2


def backwards(delta, params, name='', activation_deriv=sigmoid_deriv):
    inputs, _, outputs = params['cache_' + name]
    g = activation_deriv(outputs) * delta
    params['grad_W' + name] = np.einsum('ni,nj->ij', inputs, g)
    params['grad_b' + name] = g.sum(0)
    return np.einsum('nj,ij->ni', g, params['W' + name])


def get_random_batches(x, y, batch_size):
    shuffled = np.random.choice(len(x), size=len(x), replace=False)
    batches = []
    start = 0
    while start < len(x):
        chosen = shuffled[start:start + batch_size]
        batches.append((x[chosen], y[chosen]))
        start += batch_size
    return batches
'''


class _Rename(ast.NodeTransformer):
    """Every local name and argument gets another spelling (what a copier does first)."""

    def visit_arg(self, node):
        node.arg = "my_" + node.arg
        return node

    def visit_Name(self, node):
        if node.id not in {"np", "sigmoid", "sigmoid_deriv", "float", "range", "len"}:
            node.id = "my_" + node.id
        return node


def disguised_copy(source: str) -> str:
    """The reference with renamed variables, functions in reverse order and no comments."""
    tree = _Rename().visit(ast.parse(source))
    imports = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    tree.body = imports + functions[::-1]
    return ast.unparse(tree) + "\n"


@pytest.fixture
def cls(tmp_path):
    """A class: a copy, its disguised near-copy, an independent solution, two unchanged starters."""
    reference = NN_REFERENCE.read_text()
    texts = {"alice": reference, "bob": disguised_copy(reference), "carol": INDEPENDENT_NN,
             "dave": (NN_STARTER / "python" / "nn.py").read_text(),
             "erin": (NN_STARTER / "python" / "nn.py").read_text()}
    folders = {}
    for student, text in texts.items():
        (tmp_path / student / "python").mkdir(parents=True)
        (tmp_path / student / "python" / "nn.py").write_text(text)
        folders[student] = tmp_path / student
    return folders


def test_near_copies_are_found_and_independent_work_is_not(cls):
    pairs = similar_pairs(cls, NN_STARTER, threshold=0.5)
    assert [(p.student_a, p.student_b) for p in pairs] == [("alice", "bob")]
    pair = pairs[0]
    assert pair.similarity_a > 0.8 and pair.similarity_b > 0.8
    assert [(f.file_a, f.file_b) for f in pair.files] == [("python/nn.py", "python/nn.py")]
    alice, bob = (fingerprint("nn.py", (cls[s] / "python" / "nn.py").read_text(), boilerplate_hashes(NN_STARTER))
                  for s in ("alice", "bob"))
    _, (sim_a, sim_b), _ = compare_files(alice, bob)
    assert (pair.files[0].similarity_a, pair.files[0].similarity_b) == (round(sim_a, 4), round(sim_b, 4))
    # the passages shown side by side are the same code in both, wherever bob moved it
    assert pair.excerpts
    for e in pair.excerpts:
        assert e.line_a >= 1 and e.line_b >= 1
        assert e.text_a.splitlines()[0].strip() and e.text_b.splitlines()[0].strip()
    everyone = {(p.student_a, p.student_b): p.similarity for p in similar_pairs(cls, NN_STARTER, 0.0)}
    assert max(v for k, v in everyone.items() if "carol" in k) < 0.3
    assert ("dave", "erin") not in everyone  # the unchanged starter is boilerplate: nothing left


def test_without_the_starter_the_unchanged_starters_look_alike(cls):
    """What leaving the starter out of the comparison prevents."""
    pairs = {(p.student_a, p.student_b): p.similarity for p in similar_pairs(cls, None, 0.5)}
    assert pairs[("dave", "erin")] == 1.0


def test_screening_matches_copydetects_own_comparison(cls):
    """The all-pairs screening computes copydetect's measure: per student, the tokens of each file
    covered by matches in the other's file of the same name, over all the student's tokens."""
    (cls["alice"] / "helpers.py").write_text(INDEPENDENT_NN)  # a second file, found by name
    (cls["bob"] / "lib").mkdir()
    (cls["bob"] / "lib" / "helpers.py").write_text(disguised_copy(INDEPENDENT_NN))
    (cls["carol"] / "helpers.py").write_text(NN_REFERENCE.read_text())
    boilerplate = boilerplate_hashes(NN_STARTER)
    docs = [_Document(s, name, fingerprint(name, text, boilerplate))
            for s, folder in sorted(cls.items()) for name, text in code_files(folder).items()]
    students, share = similarity_matrix(cls, NN_STARTER)
    for i, a in enumerate(students):
        for j, b in enumerate(students):
            if a == b:
                continue
            overlap = sum(compare_files(x.fingerprint, y.fingerprint)[0]  # tokens of x matched in y
                          for x in docs if x.student == a for y in docs if y.student == b and y.key == x.key)
            coverage = sum(x.fingerprint.token_coverage for x in docs if x.student == a)
            assert share[i, j] == pytest.approx(overlap / coverage if coverage else 0.0), (a, b)
    assert share[students.index("alice"), students.index("bob")] > 0.8


def test_tokenising_in_worker_processes_gives_the_same_result(cls, monkeypatch):
    """Hashes are salted per process: only the filtered text may come back from a worker."""
    import autograder.similarity as similarity

    serial = similarity_matrix(cls, NN_STARTER, workers=1)
    monkeypatch.setattr(similarity, "PARALLEL_FROM", 0)
    parallel = similarity_matrix(cls, NN_STARTER, workers=2)
    assert serial[0] == parallel[0] and (serial[1] == parallel[1]).all()


def test_boilerplate_removal_keeps_repeated_code_that_is_not_boilerplate():
    repeated = "def f(values):\n    return sorted(v * 2 + 1 for v in values if v > 0)\n" * 3
    starter = "def g():\n    raise NotImplementedError('write this function')\n"
    plain = fingerprint("a.py", repeated)
    stripped = fingerprint("a.py", repeated, boilerplate_hashes_of(starter))
    assert stripped.token_coverage == plain.token_coverage > 0


def boilerplate_hashes_of(text: str) -> frozenset[int]:
    return frozenset(fingerprint("starter.py", text).hashes)


def test_notebook_code_cells_are_compared(tmp_path):
    code = disguised_copy(NN_REFERENCE.read_text())
    for student, markdown in (("ann", "My notes"), ("ben", "Totally different words")):
        notebook = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell("%matplotlib inline"),
            nbformat.v4.new_code_cell(code)])
        (tmp_path / student).mkdir()
        nbformat.write(notebook, tmp_path / student / "work.ipynb")
    (tmp_path / "ben" / "broken.ipynb").write_text("not json")
    assert set(code_files(tmp_path / "ben")) == {"work.ipynb"}
    assert "# %matplotlib inline" in code_files(tmp_path / "ann")["work.ipynb"]
    pairs = similar_pairs({"ann": tmp_path / "ann", "ben": tmp_path / "ben"}, None)
    assert len(pairs) == 1 and pairs[0].similarity == pytest.approx(1.0)


def test_similarity_page(cls, tmp_path):
    extra = f'NOTE = "{HOSTILE}"\n' + NN_REFERENCE.read_text()  # a student's string in the excerpt
    for student in ("alice", "bob"):
        (cls[student] / "python" / "extra.py").write_text(extra)
    pairs = similar_pairs(cls, NN_STARTER)
    page = write_similarity_report(pairs, tmp_path / "out", threshold=0.5).read_text()
    text = text_of(page)
    assert "<script" not in page and HOSTILE in text
    assert "alice and bob" in text and "python/extra.py" in text
    assert page.count('<div class="side">') == len(pairs[0].excerpts) > 0
    assert "by at least 50 % either way" in text and "for a human to look at" in text
    assert not re.search(r"plagiar|cheat|copied", text, re.I)
    empty = text_of(write_similarity_report([], tmp_path / "none").read_text())
    assert "No pair of submissions is above the threshold" in empty


def test_pair_similarity_is_the_larger_direction():
    assert Pair("a", "b", 0.2, 0.7).similarity == 0.7


def test_a_class_handed_in_as_zips_is_compared_like_the_folders(cls, tmp_path):
    """Zips are read in memory (nothing unpacked, each member capped); the course's util.py, which
    every student hands in unchanged, is left out."""
    import zipfile

    util = (ROOT / "solution" / "cmu-hw5" / "python" / "util.py").read_text()
    zips = {}
    for student, folder in cls.items():
        zips[student] = tmp_path / "zips" / f"{student}.zip"
        zips[student].parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(zips[student], "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(folder / "python" / "nn.py", f"{student}-hw5/python/nn.py")
            zf.writestr(f"{student}-hw5/python/util.py", util)
            zf.writestr(f"{student}-hw5/python/data.py", "x = 0\n" * 400_000)  # past the cap: left out
    folders = [(p.student_a, p.student_b, round(p.similarity, 6)) for p in similar_pairs(cls, NN_STARTER)]
    zipped = [(p.student_a, p.student_b, round(p.similarity, 6))
              for p in similar_pairs(zips, NN_STARTER, provided=frozenset({"util.py"}))]
    assert zipped == folders and folders[0][:2] == ("alice", "bob")
    assert set(code_files(zips["carol"], frozenset({"util.py"}))) == {"carol-hw5/python/nn.py"}
