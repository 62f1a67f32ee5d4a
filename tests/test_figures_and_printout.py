"""Deliverables that are pictures or printed text: figures captured in the sandbox and attached for
the TA, and a script's printout judged by the judge (``printed``)."""
from __future__ import annotations

import textwrap
import time

import pytest

from autograder.grading import Grader
from autograder.report.writers import write_reports
from autograder.rubric.schema import load

RUBRIC = """
assignment: figures-demo
title: figures and printouts
reference: ref
files:
  plots: {path: plots.py, run_as: script}
policy: {shims: [matplotlib_agg], budget: {time_s: 30, import_time_s: 30}}
questions:
  - id: Q1
    title: a confusion matrix
    points: 2
    checks:
      - {kind: figures, source: plots, what: a 36x36 confusion matrix, select: {image_shape: [36, 36]}}
  - id: Q2
    title: a loss curve
    points: 1
    checks:
      - {kind: figures, source: plots, what: a loss curve, select: {lines: true}}
  - id: Q3
    title: the script prints its result
    points: 1
    checks:
      - kind: evaluate
        probe: {steps: ["text = printed(plots)"], observe: {n: "len(text)"}}
        thresholds: {n: {value: n, at_least: 5}}
"""

DRAWS = """
import sys
import matplotlib.pyplot as plt
import numpy as np
print("hello world", sys.stdout.isatty(), sys.stdout.encoding)
for i in range(3):                      # shown in a loop: every state is kept once
    plt.plot(np.arange(10) * i)
    plt.pause(1500)                      # would sleep 25 minutes under Agg without the capture
plt.show()
plt.figure()
plt.imshow(np.random.rand(36, 36))
plt.savefig('confusion.png')
plt.figure()
plt.imshow(np.zeros((8, 8)))             # left open, blank: not a valid figure
"""


def grade(tmp_path, script: str):
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    (tmp_path / "ref").mkdir(exist_ok=True)
    (tmp_path / "ref" / "plots.py").write_text(textwrap.dedent(DRAWS))
    sub = tmp_path / "student"
    sub.mkdir(exist_ok=True)
    (sub / "plots.py").write_text(textwrap.dedent(script))
    with Grader(load(tmp_path / "rubric.yaml")) as grader:
        return grader.grade(sub)


def test_figures_are_captured_selected_and_attached(tmp_path):
    started = time.perf_counter()
    report = grade(tmp_path, DRAWS)
    assert time.perf_counter() - started < 60  # plt.pause did not sleep
    q1, q2, q3 = report.questions
    assert q1.manual and q2.manual  # the TA grades the pictures
    assert len(q1.attachments) == 1 and len(q2.attachments) == 3
    assert all(a.data.startswith(b"\x89PNG") for a in q1.attachments + q2.attachments)
    assert q3.score == 1
    paths = write_reports(report, tmp_path / "out")
    text = paths["report"].read_text()
    assert "## For the TA" in text and "](figures/Q1-1.png)" in text
    assert (tmp_path / "out" / "figures" / "Q1-1.png").read_bytes() == q1.attachments[0].data


def test_a_script_that_draws_nothing_is_noted_for_the_ta(tmp_path):
    report = grade(tmp_path, "print('no plots here')\n")
    q1, q2, q3 = report.questions
    assert q1.manual and q2.manual and not q1.attachments
    assert "drew no figure" in q1.ta_notes[0] and q3.score == 1
    report = grade(tmp_path, "raise SystemExit(3)\n")
    assert report.questions[0].manual and "stopped early" in report.questions[0].ta_notes[0]


def test_unmatched_figures_are_all_attached_for_the_ta(tmp_path):
    report = grade(tmp_path, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n")
    q1 = report.questions[0]
    assert q1.manual and len(q1.attachments) == 1
    assert "none looked like a 36x36 confusion matrix" in q1.ta_notes[0]


def test_character_error_rate_matches_a_plain_edit_distance():
    import random

    from autograder.rubric.expr import cer

    from conftest import edit_distance

    def brute(out: str, ref: str) -> float:  # min over every stretch of the output
        return min(edit_distance(ref, out[i:j]) for i in range(len(out) + 1) for j in range(i, len(out) + 1)) / len(ref)

    rng = random.Random(0)
    for _ in range(200):
        out = "".join(rng.choice("ABC ") for _ in range(rng.randint(0, 9)))
        ref = "".join(rng.choice("ABC") for _ in range(rng.randint(1, 5)))
        assert cer(out, ref) == pytest.approx(brute(out.replace(" ", ""), ref))
    assert cer("page 1.jpg\nhello world\n", "HELLO WORLD") == 0


def test_psnr_rank_and_shapes():
    import numpy as np

    from autograder.rubric.expr import has_shape, psnr, rank

    x = np.zeros((3, 4))
    assert psnr(x, x + 0.1) == pytest.approx(20.0)
    assert psnr(x, np.full((3, 5), 0.1)) == -np.inf and psnr(x, x + np.nan) == -np.inf
    assert rank(np.outer(np.arange(4), np.arange(5))) == 1
    assert has_shape(x, 3, 4) == 1 and has_shape(x, 4, 3) == 0 and has_shape("text", 4) == 0


OPTIONAL = """
assignment: optional-data
title: a check on data an instructor may not have
reference: ref
files:
  plots: {path: plots.py, run_as: script}
data:
  - {dataset: ocr-photos, files: [01_list.jpg], next_to: plots, into: ../images, optional: true}
questions:
  - id: Q1
    title: reads a photo
    points: 1
    checks:
      - kind: evaluate
        needs_data: [ocr-photos]
        probe: {steps: ["text = printed(plots)"], observe: {n: "len(text)"}}
        thresholds: {n: {value: n, at_least: 1}}
      - kind: evaluate
        probe: {steps: ["text = printed(plots)"], observe: {n: "len(text)"}}
        thresholds: {n: {value: n, at_least: 1}}
"""


def test_checks_on_data_that_is_not_installed_are_left_out_and_said(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADE_DATA", str(tmp_path / "empty-data"))
    (tmp_path / "rubric.yaml").write_text(OPTIONAL)
    for folder in ("ref", "student"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "plots.py").write_text("import os\nprint(os.path.isdir('../images'))\n")
    with Grader(load(tmp_path / "rubric.yaml")) as grader:
        report = grader.grade(tmp_path / "student")
    q1 = report.questions[0]
    assert q1.score == 1 and q1.auto_max == 1 and len(q1.checks) == 1
    assert "ocr-photos is not installed" in q1.not_run[0]
    assert report.provenance["checks_not_run"] == [f"Q1 {q1.not_run[0]}"]
    assert "## Checks not run" in write_reports(report, tmp_path / "out")["report"].read_text()


def test_huge_and_endless_figures_stay_cheap(tmp_path):
    started = time.perf_counter()
    report = grade(tmp_path, """
import matplotlib.pyplot as plt
import numpy as np
fig = plt.figure(figsize=(500, 500))     # 30 000 px square at the capture's resolution
plt.imshow(np.random.rand(36, 36))
plt.show()
for i in range(400):                     # the same debugging plot, shown again and again
    plt.plot([0, 1], [0, 1])
    plt.show()
print('done')
""")
    q1, q2, q3 = report.questions
    assert q3.score == 1 and len(q1.attachments) == 1 and len(q2.attachments) == 1
    assert time.perf_counter() - started < 60


def test_a_landscape_scatter_is_judged_on_the_principal_components_of_the_watched_trajectory():
    import numpy as np

    from autograder.rubric.expr import in_principal_plane, pca_plane
    from autograder.worker import watch

    rng = np.random.default_rng(0)
    steps = rng.normal(size=(41, 300)) * np.linspace(3, 0.1, 300)   # wide first parameters: raw is tempting
    trajectory = np.cumsum(steps, axis=0).astype(np.float32)
    centred = trajectory - trajectory.mean(axis=0)
    scores = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T

    def plotPath(model, x, y, points):  # a starter-like signature; only the trajectory matters
        return points

    watch.wrap("plotPath", plotPath)(None, np.zeros((2500, 784)), np.zeros(2500),
                                     [list(np.split(row, [100])) for row in trajectory])  # per-layer lists
    record = watch.record_of("plotPath")
    assert [g.shape for g in record["grams"]] == [(41, 41)]              # data (2 500 rows) is not kept

    def drawn(xy):
        return [{"scatter_xy": np.asarray(xy).tolist()}]

    assert in_principal_plane(drawn(scores), record) > 0.999
    assert in_principal_plane(drawn(scores / scores.std(0) - scores[-1]), record) > 0.999  # whitened, shifted
    assert in_principal_plane(drawn(trajectory[:, :2]), record) < 0.9                    # two raw parameters
    assert in_principal_plane(drawn(centred @ rng.normal(size=(300, 2))), record) < 0.5   # random directions
    assert in_principal_plane(drawn(scores[:30]), record) == 0.0                          # not this trajectory
    assert pca_plane(drawn(scores[:, ::-1])) == 0.0                                       # swapped: the other test
    no_call = {"calls": 0, "grams": []}
    assert in_principal_plane(drawn(scores), no_call) == pca_plane(drawn(scores)) == 1.0  # own helper: pca_plane
