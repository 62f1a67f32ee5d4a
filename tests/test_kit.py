"""The student self-check kit: nothing hidden inside it, and ``autograde check`` grades the public
checks as a TA's grade with the kit's seed does (handouts 001 and 004)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from autograder import fixtures
from autograder.checks.manual import Params as Manual
from autograder.grading import Grader, ReferenceSolution
from autograder.intake import stage
from autograder.kit import KitError
from autograder.kit.build import KIT_SEED, build_kit
from autograder.kit.check import OWN_MACHINE, Kit, check, find_kit, not_checked_here, print_check
from autograder.kit.recording import NOT_RECORDED, Recording, RecordingReference, request_key
from autograder.rubric.schema import load
from autograder.sandbox import as_student
from autograder.sandbox.layers import HINTS, Layers
from autograder.sandbox.process import Reply
from autograder.validation import apply_mutant, load_mutants
from autograder.worker.protocol import ObservedError

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"apl405-hw2": ROOT / "specs" / "apl405-hw2.yaml", "cmu-hw5": ROOT / "specs" / "cmu-hw5.yaml"}


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    built = {name: build_kit(spec, out) for name, spec in SPECS.items()}
    return {name: (b, Kit.open(b.folder)) for name, b in built.items()}


def kit_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def effective_visibility(question, check) -> str:
    return check.visibility or question.visibility


def public_auto(report, kit):
    """Public, auto-graded questions the kit scores (not penalties, not left to the TA)."""
    return [q for q in report.questions if not q.manual and not q.penalty
            and kit.rubric.question(q.id).visibility == "public"]


# ------------------------------------------------------------------------------------------
# (a) nothing hidden in the kit


@pytest.mark.parametrize("name", list(SPECS))
def test_kit_holds_no_solution_file_and_no_hidden_fixture(kits, name):
    built, kit = kits[name]
    rubric = load(SPECS[name])
    files = kit_bytes(built.folder)
    digests = {hashlib.sha256(b).hexdigest() for b in files.values()}
    provided = {fixtures.sha256(rubric.path(s.provided)) for s in rubric.files.values() if s.provided}
    solution = [p for p in rubric.path(rubric.reference).rglob("*") if p.is_file()]
    assert solution
    for path in solution:
        if fixtures.sha256(path) in provided:  # a course file students are handed (util.py)
            continue
        content = path.read_bytes()
        assert fixtures.sha256(path) not in digests, f"{path} is in the kit"
        assert not any(content.strip() in b for b in files.values()), f"{path}'s content is in the kit"
    hidden = {d for s in fixtures.load(ROOT / "fixtures").sets if s.visibility == "hidden" for d in s.files.values()}
    assert hidden and not hidden & digests
    assert not any(b"fixtures/hidden" in b for b in files.values())
    for data in files.values():  # what the kit stores loads as data, never as pickles
        assert not data.startswith(b"\x80")
    with np.load(built.folder / "reference-replies" / "replies.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def _leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def strings_of(model) -> set[str]:
    """The distinctive texts of a check or rubric: names, statements, expressions, paths."""
    return {s for s in _leaves(model.model_dump(mode="json")) if isinstance(s, str) and len(s) > 12}


@pytest.mark.parametrize("name", list(SPECS))
def test_hidden_checks_are_placeholders_without_their_content(kits, name):
    _, kit = kits[name]
    rubric = load(SPECS[name])
    text = (kit.folder / "rubric.yaml").read_text()
    public = set().union(*(strings_of(c) for q in rubric.questions for c in q.checks
                           if effective_visibility(q, c) == "public"))
    hidden_only = set().union(*(strings_of(c) for q in rubric.questions for c in q.checks
                                if effective_visibility(q, c) == "hidden")) - public
    assert hidden_only
    assert not hidden_only & strings_of(kit.rubric)
    hidden_names = {c.name for q in rubric.questions for c in q.checks
                    if effective_visibility(q, c) == "hidden" and c.name and c.name not in public}
    assert not [n for n in hidden_names if n in text]
    for source_q, kit_q in zip(rubric.questions, kit.rubric.questions, strict=True):
        assert (kit_q.id, kit_q.title, kit_q.points) == (source_q.id, source_q.title, source_q.points)
        if source_q.visibility == "hidden":
            assert [c.kind for c in kit_q.checks] == ["manual"] and kit_q.checks[0].visibility == "hidden"
            continue
        for source_c, kit_c in zip(source_q.checks, kit_q.checks, strict=True):
            if effective_visibility(source_q, source_c) == "hidden":
                assert kit_c.kind == "manual" and kit_c.weight == source_c.weight


@pytest.mark.parametrize("name", list(SPECS))
def test_no_reference_reply_of_a_hidden_check(kits, name):
    """Grade the reference with only the hidden checks (positions kept, kit seed): none of the
    requests they send to the reference has its reply in the kit."""
    built, kit = kits[name]
    rubric = load(SPECS[name])
    hidden_only = rubric.model_copy(deep=True)
    ids = set()
    for question in hidden_only.questions:
        if question.long_running:
            continue
        for i, c in enumerate(question.checks):
            if effective_visibility(question, c) == "public":
                question.checks[i] = Manual(kind="manual", weight=c.weight)
            elif c.kind != "manual":
                ids.add(question.id)
    with tempfile.TemporaryDirectory() as tmp:
        recorder = RecordingReference(ReferenceSolution(rubric, Path(tmp) / "reference"))
        with Grader(hidden_only, sandboxed=False, reference=recorder) as grader:
            grader.grade(rubric.path(rubric.reference), seed=KIT_SEED, trusted=True, only=ids)
    hidden_keys = set(recorder.recording.replies)
    assert hidden_keys, "the hidden checks sent no reference request: this test would prove nothing"
    stored = set(Recording.load(built.folder / "reference-replies").replies)
    assert not hidden_keys & stored


# ------------------------------------------------------------------------------------------
# (b) the same scores as the TA's grade with the kit's seed


def copy_of(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest, symlinks=False)
    return dest


LAPTOP = Layers(frozenset({"rlimits"}), {n: HINTS[n] for n in ("bubblewrap", "cgroup-memory", "cgroup-pids",
                                                                  "uid-drop", "kill-tree", "seccomp")})


@pytest.fixture(scope="module")
def reference_checks(kits, tmp_path_factory):
    """``autograde check`` on a copy of each reference solution. Handout 001's runs as on a laptop
    without root or bubblewrap (only rlimits), with the kit inside the homework as .autograde-kit."""
    import autograder.grading

    reports = {}
    for name, (built, kit) in kits.items():
        rubric = load(SPECS[name])
        homework = copy_of(rubric.path(rubric.reference), tmp_path_factory.mktemp(name) / "ref")
        if name == "apl405-hw2":
            shutil.copytree(built.folder, homework / ".autograde-kit")
            with pytest.MonkeyPatch.context() as patch:
                patch.delenv("AUTOGRADE_REQUIRE_SANDBOX", raising=False)
                patch.setattr(autograder.grading, "detect", lambda: LAPTOP)
                reports[name] = check(homework, find_kit(homework))
        else:
            reports[name] = check(homework, kit)
    return reports


@pytest.mark.parametrize("name", list(SPECS))
def test_reference_earns_full_marks_and_starter_nothing(kits, reference_checks, name, tmp_path):
    built, kit = kits[name]
    rubric = load(SPECS[name])
    assert not built.reference_short
    questions = public_auto(reference_checks[name], kit)
    assert questions
    for q in questions:
        assert q.auto_max > 0 and q.score == q.auto_max, (q.id, q.score, q.feedback)
        assert not any(c.pending and c.kind != "manual" for c in q.checks), q.id  # nothing left unreplayed
    starter = check(copy_of(rubric.path(rubric.starter), tmp_path / "starter"), kit)
    assert {q.id: q.score for q in public_auto(starter, kit)} == {q.id: 0 for q in public_auto(starter, kit)}
    assert all(q.score == 0 for q in starter.questions if q.penalty)


MUTANTS = {"apl405-hw2": "a network that also accepts equal neighbours (the official marking's half credit)",
           "cmu-hw5": "batches in the original order"}


@pytest.mark.parametrize("name", list(SPECS))
def test_mutant_scores_as_the_ta_grades_it_with_the_kit_seed(kits, name, tmp_path):
    _, kit = kits[name]
    rubric = load(SPECS[name])
    mutant = next(m for m in load_mutants(rubric) if m.name == MUTANTS[name])
    folder = apply_mutant(rubric.path(rubric.reference), mutant, tmp_path / "mutant")
    public = {q.id for q in kit.rubric.questions if q.visibility == "public" and not q.is_manual}
    with Grader(rubric) as grader:
        ta = grader.grade(folder, seed=KIT_SEED, only=public)
    student = check(folder, kit)
    lost = set()
    for qid in public:
        by_ta, here = ta.question(qid), student.question(qid)
        for c, t in zip(here.checks, by_ta.checks, strict=True):
            if c.pending:  # left to the TA: never a fake pass or fail
                assert c.kind == "manual" or all(NOT_RECORDED in o.message for o in c.outcomes if o.pending)
                continue
            assert (c.label, c.fraction) == (t.label, t.fraction), qid
        if len(here.checks) == len(by_ta.checks) and not any(c.pending for c in here.checks):
            assert (here.score, here.feedback) == (by_ta.score, by_ta.feedback)
        if here.score < here.auto_max:
            lost.add(qid)
    assert set(mutant.loses) & public <= lost


# ------------------------------------------------------------------------------------------
# (c) hidden checks listed with their points; the output on a machine without the sandbox


def test_hidden_questions_and_checks_are_listed_with_points(kits, reference_checks):
    for name, (_, kit) in kits.items():
        rubric = load(SPECS[name])
        rows = {(r.question, r.why): r.points for r in not_checked_here(reference_checks[name], kit)}
        expected = {}
        for q in rubric.questions:
            total = sum(c.weight for c in q.checks)
            hidden = sum(c.weight for c in q.checks if effective_visibility(q, c) == "hidden")
            if q.visibility == "hidden":
                expected[q.id] = q.points
            elif hidden and not q.long_running:
                expected[q.id] = q.points * hidden / total
        assert expected
        assert {qid: rows.get((qid, "hidden check, graded after the deadline")) for qid in expected} == expected
    assert kits["apl405-hw2"][1].rubric.question("Q2").points == 2


def test_the_header_the_rows_and_the_footer_add_up_to_the_handout(kits):
    """Points checked here, checked when the TA grades and graded from the write-up make the handout's
    total; a question the kit checks only in part shows its TA denominator, not "all checks passed"."""
    import re

    _, kit = kits["cmu-hw5"]
    report = check(ROOT / "fixtures" / "submissions" / "cmu-hw5" / "alice", kit)  # her run_q2 is not recorded
    out = io.StringIO()
    print_check(report, kit, Console(file=out, width=240))
    text = out.getvalue()
    header = re.search(r"([\d.]+) / ([\d.]+) points checked here; ([\d.]+) checked when the TA grades .*?; "
                       r"([\d.]+) graded by a TA from the write-up; handout total ([\d.]+)", text)
    assert header, text
    _, here, later, write_up, total = map(float, header.groups())
    assert here + later + write_up == pytest.approx(total) == kit.rubric.total_points
    footer = re.search(r"Graded by a TA from the write-up: ([\d.]+) points", text)
    assert footer and float(footer.group(1)) == write_up
    row = next(line for line in text.splitlines() if line.startswith("│ Q2.4.1"))
    assert "2.5 / 5 " in row, row  # its run_q2.py check needs the reference: the TA's run scores it
    assert "2.5 points checked when the TA grades" in text


def test_check_runs_with_bubblewrap_and_cgroups_missing(kits, reference_checks):
    """What a laptop without root or bubblewrap has: the grade is the same, and it says so."""
    _, kit = kits["apl405-hw2"]
    report = reference_checks["apl405-hw2"]
    assert report.provenance["sandbox"]["active"] == ["rlimits"]
    assert report.question("Q1").score == 3
    out = io.StringIO()
    print_check(report, kit, Console(file=out, width=200))
    text = out.getvalue()
    assert "isolation layers missing here: bubblewrap, cgroup-memory" in text and OWN_MACHINE in text
    assert "Q2" in text and "hidden check, graded after the deadline" in text


def test_kit_folder_inside_the_homework_is_not_graded(reference_checks):
    report = reference_checks["apl405-hw2"]  # its .autograde-kit/ sits in the homework folder
    assert report.question("Q1").score == 3 and not report.intake_problems
    with tempfile.TemporaryDirectory() as tmp:
        staged = stage(report.submission, Path(tmp) / "s", {})
        assert not any(".autograde-kit" in p.parts for p in staged.root.rglob("*"))


def test_find_kit_here_above_env_and_by_assignment(kits, tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRADE_KIT", raising=False)
    built, _ = kits["apl405-hw2"]
    homework = tmp_path / "course" / "hw2"
    shutil.copytree(load(SPECS["apl405-hw2"]).path("../solution/apl405-hw2"), homework)
    with pytest.raises(KitError, match="no self-check kit found"):
        find_kit(homework)
    shutil.copytree(built.folder.parent, tmp_path / "course" / ".autograde-kit")  # both kits, one above
    assert find_kit(homework).meta["assignment"] == "apl405-hw2"  # picked by the homework's files
    monkeypatch.setenv("AUTOGRADE_KIT", str(kits["cmu-hw5"][0].folder))
    assert find_kit(homework).meta["assignment"] == "cmu-hw5"  # the environment comes first
    assert find_kit(homework, str(built.folder)).meta["assignment"] == "apl405-hw2"


def test_cli_check_prints_the_table_and_what_is_left(kits, tmp_path, capsys, monkeypatch):
    from autograder.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    built, _ = kits["apl405-hw2"]
    homework = copy_of(load(SPECS["apl405-hw2"]).path("../solution/apl405-hw2"), tmp_path / "hw2")
    assert main(["check", str(homework), "--kit", str(built.folder.parent), "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "3 / 3" in text and "Not checked here" in text and "hidden check, graded after the deadline" in text
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    scored = {t["number"]: t["score"] for t in results["tests"]}
    assert scored["Q1"] == 3 and all(scored[q] == t["max_score"] for q, t in
                                     zip(scored, results["tests"]))  # the answer checks too
    assert main(["check", str(homework), "--kit", str(tmp_path / "nowhere")]) == 2
    assert main([str(homework), "--spec", str(built.folder / "rubric.yaml")]) == 2  # a kit is for check
    assert "is a student kit's rubric: run autograde check" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------
# the recording itself


def test_recording_round_trips_data_and_keys_follow_the_request(tmp_path):
    header = {"op": "run", "scenario": {"steps": ["p = nn.softmax(x)"], "observe": {"p": "p"}}, "seed": 7}
    x = np.arange(6.0).reshape(2, 3)
    key = request_key(header, {"x": x}, ["nn"])
    assert key == request_key(dict(header), {"x": x.copy()}, ["nn"])
    assert key != request_key(header, {"x": x + 1e-12}, ["nn"])
    assert key != request_key(dict(header, seed=8), {"x": x}, ["nn"])
    assert key != request_key(header, {"x": x.astype(np.float32)}, ["nn"])
    value = {"p": x / 2, "pair": (1, "a"), "bad": ObservedError("ValueError", "no")}
    Recording({key: Reply("ok", value=value, notes=[{"module": "nn"}])}).save(tmp_path)
    back = Recording.load(tmp_path).replies[key]
    assert back.ok and back.notes == [{"module": "nn"}]
    assert np.array_equal(back.value["p"], x / 2) and back.value["pair"] == (1, "a")
    assert repr(back.value["bad"]) == "ValueError: no"


@pytest.mark.slow  # an operating-system integration test (about 5 s): bwrap, setpriv, a fresh interpreter
@pytest.mark.skipif(not as_student.possible(), reason="needs root, bwrap and setpriv to run the check as uid 65534")
def test_autograde_check_as_nobody_without_bubblewrap(kits, tmp_path):
    """The real thing: uid 65534, no bwrap on PATH (an empty file in its place), no cgroups."""
    built, _ = kits["apl405-hw2"]
    shared = Path(tempfile.mkdtemp(prefix="autograde-nobody-"))
    try:
        homework = copy_of(load(SPECS["apl405-hw2"]).path("../solution/apl405-hw2"), shared / "hw2")
        kit = copy_of(built.folder, shared / "kit")
        as_student.share(shared)
        argv = as_student.argv(shared, ROOT, without_bwrap=True)
        env = {"PATH": os.environ["PATH"], "COLUMNS": "200"}
        reachable = subprocess.run(argv + ["-c", "pass"], capture_output=True, text=True, timeout=60, cwd=shared, env=env)
        if reachable.returncode != 0:  # e.g. a tox venv whose folders uid 65534 may not enter
            pytest.skip(f"this interpreter cannot run as uid 65534 here: {reachable.stderr.strip()[:200]}")
        done = subprocess.run(argv + ["-m", "autograder", "check", str(homework), "--kit", str(kit)],
                              capture_output=True, text=True, timeout=120, cwd=shared, env=env)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 / 3" in done.stdout
    assert "isolation layers missing here: bubblewrap" in done.stdout and "uid-drop" in done.stdout


# ------------------------------------------------------------------------------------------
# a toy course: which files ship, and what is left to the TA


TOY_RUBRIC = """
assignment: toy
title: Toy course
reference: ../solution/toy
files:
  mod: {path: mod.py}
questions:
  - id: Q1
    title: double
    points: 2
    checks:
      - kind: value
        name: double of the public values
        cases: 1
        probe:
          inputs: {x: {json: {path: ../fixtures/public/toy/data.json, field: items.v}}}
          steps: ["y = mod.double(x)"]
          observe: {y: y}
      - kind: value
        name: double of values no manifest vouches for
        cases: 1
        probe:
          inputs: {x: {json: {path: ../fixtures/loose/data.json, field: items.v}}}
          steps: ["y = mod.double(x)"]
          observe: {y: y}
  - id: Q2
    title: judged with the reference on the student's own output
    points: 2
    checks:
      - kind: evaluate
        name: scaled by the reference
        probe: {inputs: {x: {normal: [3]}}, steps: ["y = mod.double(x)"], observe: {y: y}}
        then: {steps: ["z = mod.triple(y)"], observe: {z: z}}
        thresholds:
          close: {value: "relerr(z, 6 * x)", at_most: 1.0e-9}
      - kind: value
        name: needs the course's photos
        needs_data: [ocr-photos]
        probe: {inputs: {x: {normal: [3]}}, steps: ["y = mod.double(x)"], observe: {y: y}}
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADE_DATA", str(tmp_path / "no-data"))  # the photos are not installed
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "toy.yaml").write_text(TOY_RUBRIC)
    (tmp_path / "solution" / "toy").mkdir(parents=True)
    (tmp_path / "solution" / "toy" / "mod.py").write_text("def double(x):\n    return 2 * x\n\n\n"
                                                          "def triple(x):\n    return 3 * x\n")
    data = json.dumps({"items": [{"v": 1.0}, {"v": 2.5}]})
    for folder in ("public/toy", "loose"):
        (tmp_path / "fixtures" / folder).mkdir(parents=True)
        (tmp_path / "fixtures" / folder / "data.json").write_text(data)
    fixtures.save(tmp_path / "fixtures", fixtures.Manifest(sets=[fixtures.FixtureSet(
        name="toy", folder="public/toy", visibility="public",
        files=fixtures.files_of(tmp_path / "fixtures" / "public" / "toy"))]))
    return tmp_path


def test_toy_kit_ships_vouched_files_and_leaves_the_rest_to_the_ta(toy, tmp_path):
    from autograder.data import resolve

    if resolve("ocr-photos", make=False) is not None:
        pytest.skip("the course's photos are installed system-wide here")
    built = build_kit(toy / "specs" / "toy.yaml", tmp_path / "dist")
    kit = Kit.open(built.folder)
    assert (built.folder / "fixtures" / "public" / "toy" / "data.json").is_file()
    assert not (built.folder / "fixtures" / "loose").exists()
    checks = kit.rubric.question("Q1").checks
    assert checks[0].probe.inputs["x"].json_field.path == "fixtures/public/toy/data.json"
    assert checks[1].kind == "manual"  # a file no public fixture set vouches for stays with the TA

    student = tmp_path / "student"
    student.mkdir()
    (student / "mod.py").write_text("def double(x):\n    return 2 * x + 1e-3\n")  # close, not right
    report = check(student, kit)
    assert report.question("Q1").checks[0].fraction == 0  # the recorded reference says 2x
    q2 = report.question("Q2")
    assert q2.checks[0].pending and NOT_RECORDED in q2.checks[0].outcomes[0].message
    assert q2.score == 0 and q2.auto_max == 0  # pending: neither passed nor failed
    rows = {r.title: (r.points, r.why) for r in not_checked_here(report, kit)}
    assert rows["judged with the reference on the student's own output: scaled by the reference"] == (1.0, NOT_RECORDED)
    points, why = rows["judged with the reference on the student's own output: needs the course's photos"]
    assert points == 1.0 and "ocr-photos is not installed" in why
    assert rows["double: double of values no manifest vouches for"][0] == 1.0
