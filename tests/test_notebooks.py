"""Notebook grading: a sandboxed kernel runs the cells once; a failing cell costs only its questions.

Small numpy notebooks written by each test (a kernel start is about a second); the handout-001
reference notebooks themselves are validated with the rubric in test_validation.py.
"""
from __future__ import annotations

import json
import textwrap

import nbformat
import pytest

from autograder.grading import Grader
from autograder.report.writers import write_reports
from autograder.sandbox.layers import detect

RUBRIC = """\
assignment: nb-test
title: Notebook test
reference: ref
files:
  hw: {{path: hw.ipynb, cell_time_s: {cell_s}, time_s: {total_s}, memory_mb: 512}}
questions:
  - id: Q1
    title: f doubles
    points: 1
    checks:
      - kind: evaluate
        probe:
          inputs: {{x: {{normal: [4, 3]}}}}
          steps: ["out = hw.f(x)"]
          observe: {{out: out}}
        thresholds:
          doubles: {{value: "mean(abs(out - 2 * x))", at_most: 0.000000001}}
  - id: Q2
    title: a name from the failing cell
    points: 1
    checks:
      - kind: evaluate
        probe: {{steps: [], observe: {{v: hw.broken}}}}
        thresholds:
          value: {{value: v, at_least: 1}}
  - id: Q3
    title: a name from after the slow cell
    points: 1
    checks:
      - kind: evaluate
        probe: {{steps: [], observe: {{v: hw.later}}}}
        thresholds:
          value: {{value: v, at_least: 1}}
  - id: Q4
    title: what the kernel could reach
    points: 1
    checks:
      - kind: evaluate
        probe: {{steps: [], observe: {{uid: hw.uid, net: hw.net, secret: hw.secret}}}}
        thresholds:
          uid: {{value: uid, at_least: 0}}
  - id: Q5
    title: figures
    points: 1
    checks:
      - {{kind: figures, source: hw, what: a line plot}}
"""

CELLS = [
    "import numpy as np\nimport matplotlib.pyplot as plt\nprint('Score: 100 / 100')",
    "def f(x):\n    return 2 * x",
    "broken = 1 / 0",
    "import time\nwhile True:\n    time.sleep(0.01)",
    "later = 1",
    textwrap.dedent("""\
        import os, socket
        uid = os.getuid()
        try:
            socket.create_connection(("10.0.0.1", 80), timeout=1)
            net = "connected"
        except OSError as exc:
            net = type(exc).__name__
        try:
            secret = open("/root/.bashrc").read()[:10]
        except OSError as exc:
            secret = type(exc).__name__"""),
    "plt.plot([0, 1, 2], [0, 1, 4])\nplt.title('curve')\nplt.show()",
]


def write_course(tmp_path, cells, cell_s=3, total_s=60):
    for folder in ("ref", "student"):
        (tmp_path / folder).mkdir()
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# homework")] + [nbformat.v4.new_code_cell(c) for c in cells]
        nbformat.write(nb, tmp_path / folder / "hw.ipynb")
    spec = tmp_path / "nb.yaml"
    spec.write_text(RUBRIC.format(cell_s=cell_s, total_s=total_s))
    return spec


def test_failing_and_slow_cells_cost_only_the_questions_that_need_them(tmp_path):
    spec = write_course(tmp_path, CELLS)
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student")
    scores = {q.id: q.score for q in report.questions}
    assert scores["Q1"] == 1.0                      # defined before the failures
    assert scores["Q2"] == 0.0                      # its cell raised ZeroDivisionError
    assert scores["Q3"] == 1.0                      # after the cell that timed out and was interrupted
    feedback = " ".join(report.question("Q2").feedback)
    assert "code cell 3" in feedback and "ZeroDivisionError" in feedback
    (run,) = report.notebooks
    assert [c.status for c in run.cells] == ["ok", "ok", "error", "timeout", "ok", "ok", "ok"]
    assert "Score: 100" not in json.dumps([q.feedback for q in report.questions])  # prints are not grades
    assert run.overhead_seconds < 30


def test_the_kernel_runs_in_the_sandbox(tmp_path):
    layers = detect()
    if not {"bubblewrap", "uid-drop", "seccomp"} <= layers.available:
        pytest.skip("needs the full sandbox: " + "; ".join(layers.missing.values()))
    from autograder.grading import Runners
    from autograder.intake import stage
    from autograder.sandbox.process import WorkerProcess

    spec = write_course(tmp_path, CELLS)
    with Grader(spec) as grader:  # the kernel's own view: uid 65534, no route out, root's files unreadable
        sub = stage(tmp_path / "student", tmp_path / "staged", grader.rubric.files)
        runners = Runners(WorkerProcess(str(sub.root), [], layers=layers), grader.rubric, sub, 0, True, layers,
                          tmp_path)
        try:
            reply = runners.for_names(["hw"]).request(
                {"op": "run", "modules": sub.module_paths(["hw"], grader.rubric.files),
                 "scenario": {"steps": [], "observe": {"uid": "hw.uid", "net": "hw.net", "secret": "hw.secret"}}}, {})
        finally:
            runners.close()
    assert reply.ok, reply
    assert reply.value["uid"] == 65534
    assert reply.value["net"] != "connected"
    assert reply.value["secret"] in ("FileNotFoundError", "PermissionError")


def test_a_dying_kernel_costs_the_rest_not_the_run(tmp_path):
    spec = write_course(tmp_path, [CELLS[1], "import os\nos._exit(3)", "later = 1"])
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student", only={"Q1", "Q3"})
    (run,) = report.notebooks
    assert [c.status for c in run.cells] == ["ok", "error", "not run"], run.problem
    assert "kernel died" in run.problem
    assert all(q.score == 0.0 for q in report.questions)   # nothing left to probe
    assert "kernel died" in " ".join(report.question("Q1").feedback)


def test_the_notebook_budget_stops_the_remaining_cells(tmp_path):
    cells = [CELLS[1], "import time\ntime.sleep(2.5)", "import time\ntime.sleep(2.5)", "later = 1"]
    spec = write_course(tmp_path, cells, cell_s=10, total_s=4)
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student", only={"Q1", "Q3"})
    (run,) = report.notebooks
    assert run.cells[0].status == "ok" and run.cells[-1].status == "not run"
    assert "time budget of 4 s" in run.problem
    assert report.question("Q1").score == 1.0


def test_reports_show_the_cells_the_figures_and_an_executed_copy(tmp_path):
    spec = write_course(tmp_path, [c for i, c in enumerate(CELLS) if i != 3])
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student", only={"Q2", "Q5"})
    paths = write_reports(report, tmp_path / "out")
    text = paths["report"].read_text()
    assert "## Notebooks" in text and "ZeroDivisionError" in text and "| 3 | error |" in text
    page = paths["html"].read_text()
    assert "<h2>Notebooks</h2>" in page and "ZeroDivisionError" in page and "figures/hw-1.png" in page
    executed = nbformat.read(tmp_path / "out" / "notebooks" / "hw.ipynb", as_version=4)
    assert any(o.get("ename") == "ZeroDivisionError" for c in executed.cells if c.cell_type == "code"
               for o in c.get("outputs", []))
    assert (tmp_path / "out" / "figures" / "hw-1.png").exists()          # the notebook's own figure
    q5 = report.question("Q5")
    assert q5.manual and q5.attachments                                  # and the TA's copy of it
    assert json.loads(paths["provenance"].read_text())["timing"]["notebooks"]["hw.ipynb"]["total_s"] > 0


def test_kernels_start_as_grading_begins_and_an_unused_one_leaves_nothing(tmp_path):
    from autograder.grading import Runners
    from autograder.intake import stage
    from autograder.sandbox.process import WorkerProcess

    spec = write_course(tmp_path, [CELLS[1]])
    with Grader(spec) as grader:
        sub = stage(tmp_path / "student", tmp_path / "staged", grader.rubric.files)
        runners = Runners(WorkerProcess(str(sub.root), [], sandboxed=False, scratch=tmp_path), grader.rubric, sub,
                          0, False, None, tmp_path)
        try:
            runners.launch_notebooks([q for q in grader.rubric.questions if q.is_manual])
            assert runners.sessions == {}                        # nothing probes a notebook: no kernel
            runners.launch_notebooks(grader.rubric.questions)
            (session,) = runners.sessions.values()
            process = session.client.km.provisioner.process
            assert process.poll() is None and session.run is None  # started, not waited for
        finally:
            runners.close()
    assert process.poll() is not None                            # never executed, still stopped


def test_a_probe_on_a_notebook_and_a_module_reads_past_the_import_events(tmp_path):
    """The kernel's worker announces each module it loads ("importing", "imported") in the reply
    file before its answer: the answer is still found."""
    from autograder.notebooks import NotebookBudget, NotebookSession
    from autograder.sandbox.launch import Limits

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 3")]
    nbformat.write(nb, tmp_path / "t.ipynb")
    (tmp_path / "extra.py").write_text("y = 4\n")
    session = NotebookSession("t", "t.ipynb", str(tmp_path), NotebookBudget(30, 60, 1024), [], Limits(),
                              seed=0, sandboxed=False)
    try:
        reply = session.request({"op": "run", "modules": {"t": {"path": "t.ipynb", "as": "notebook"},
                                                          "extra": {"path": "extra.py"}},
                                 "scenario": {"steps": [], "observe": {"v": "t.x + extra.y"}}}, {})
    finally:
        session.close()
    assert reply.ok and reply.value == {"v": 7}, reply
