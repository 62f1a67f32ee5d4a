"""The grading pipeline: intake, then for every question its checks' probes and judges, then results.

    grade_submission("alice.zip", "specs/cmu-hw5.yaml")   # the one-call API

A :class:`Grader` keeps the rubric and the trusted reference worker alive across submissions (a
batch pays their start-up once); each submission gets its own sandboxed worker. Nothing a student
does can stop the loop: every failure is caught and costs only the question it touches.
"""
from __future__ import annotations

import hashlib
import itertools
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .checks import kind_of
from .checks.base import Attachment, Case, Outcome
from .checks.value import ReferenceFailed
from .intake import IntakeError, Submission, stage
from .notebooks import NotebookBudget, NotebookRun, NotebookSession
from .placement import HeadCache, provide_data
from .provenance import provenance
from .rubric.probe import modules_used
from .rubric.schema import Question, Rubric, load
from .sandbox.cgroups import sweep_stale as sweep_stale_cgroups
from .sandbox.layers import GraderBroken, detect
from .sandbox.process import MAX_CHAIN, MAX_COMPAT, Reply, WorkerProcess
from .tempdirs import private_dir, remove, sweep_stale


MAX_MESSAGES_PER_CHECK = 2


@dataclass
class CheckResult:
    label: str
    kind: str
    weight: float
    outcomes: list[Outcome]
    hidden: bool = False  # the rubric's visibility: its result is shown to students after the deadline

    @property
    def fraction(self) -> float:
        return sum(o.score for o in self.outcomes) / max(len(self.outcomes), 1)

    @property
    def pending(self) -> bool:
        return any(o.pending for o in self.outcomes)


@dataclass
class QuestionResult:
    id: str
    title: str
    max_score: float
    visibility: str
    extra_credit: bool
    penalty: bool = False
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    grader_error: str = ""
    not_run: list[str] = field(default_factory=list)  # checks left out: optional data not installed
    notes: list[str] = field(default_factory=list)    # what was graded, e.g. a file found by pattern

    @property
    def manual(self) -> bool:
        return bool(self.checks) and all(c.pending for c in self.checks)

    @property
    def points(self) -> float:
        """Points this question is worth: a penalty adds none."""
        return 0.0 if self.penalty else self.max_score

    @property
    def score(self) -> float:
        auto = [c for c in self.checks if not c.pending]
        weight = sum(c.weight for c in self.checks) or 1.0
        earned = sum(c.weight * c.fraction for c in auto) / weight
        if self.penalty:
            lost = sum(c.weight * (1 - c.fraction) for c in auto) / weight
            return round(-self.max_score * lost, 4)
        return round(self.max_score * earned, 4)

    @property
    def auto_max(self) -> float:
        weight = sum(c.weight for c in self.checks) or 1.0
        return round(self.points * sum(c.weight for c in self.checks if not c.pending) / weight, 4)

    @property
    def attachments(self) -> list[Attachment]:
        return [a for c in self.checks for o in c.outcomes for a in o.attachments]

    @property
    def ta_notes(self) -> list[str]:
        """What checks left for the TA: figures attached, instructions (not the bare default)."""
        return [f"{c.label}: {o.message}" for c in self.checks for o in c.outcomes
                if o.pending and o.message and o.message != "graded by a TA"]

    @property
    def feedback(self) -> list[str]:
        """One line per distinct problem; the same failure on several random cases is said once."""
        return self.feedback_of(self.checks)

    def part(self, hidden: bool) -> tuple[float, float, list[str]]:
        """The share of the score, of the auto-graded maximum and the feedback that comes from the
        checks whose visibility is hidden (or public): a Gradescope test of their own."""
        weight = sum(c.weight for c in self.checks) or 1.0
        mine = [c for c in self.checks if c.hidden == hidden]
        auto = [c for c in mine if not c.pending]
        return (round(self.points * sum(c.weight * c.fraction for c in auto) / weight, 4),
                round(self.points * sum(c.weight for c in auto) / weight, 4), self.feedback_of(mine))

    def feedback_of(self, checks: list[CheckResult]) -> list[str]:
        lines = [self.grader_error] if self.grader_error else []
        for c in checks:
            groups: dict[str, list[str]] = {}
            for o in c.outcomes:
                if o.message and not o.pending:
                    label, _, body = o.message.partition(": ") if o.message.startswith("case ") else ("", "", o.message)
                    groups.setdefault(body, []).append(label)
            for body, labels in list(groups.items())[:MAX_MESSAGES_PER_CHECK]:
                where = labels[0] if len(labels) == 1 else f"{len(labels)} cases, e.g. {labels[0]}"
                lines.append(f"{c.label}: " + (f"{where}: {body}" if where else body))
            hidden = sum(len(v) for v in list(groups.values())[MAX_MESSAGES_PER_CHECK:])
            if hidden:
                lines.append(f"{c.label}: {hidden} more failing case(s) like these")
        return lines


@dataclass
class GradeReport:
    rubric: Rubric
    submission: str
    questions: list[QuestionResult]
    provenance: dict
    intake_problems: list[str] = field(default_factory=list)
    fatal: str = ""
    notebooks: list[NotebookRun] = field(default_factory=list)

    @property
    def compat(self) -> list[dict]:
        """The old library APIs the student's code called, each bridged once (worker/compat.py)."""
        return self.provenance.get("compat", [])

    @property
    def score(self) -> float:
        """The sum of the questions, never below 0 (a deduction cannot make a grade negative)
        unless the rubric allows it."""
        total = round(sum(q.score for q in self.questions), 4)
        return total if self.rubric.policy.negative_total else max(0.0, total)

    @property
    def auto_max(self) -> float:
        return round(sum(q.auto_max for q in self.questions if not q.extra_credit), 4)

    @property
    def pending_points(self) -> float:
        return round(sum(q.points - q.auto_max for q in self.questions if not q.extra_credit), 4)

    def question(self, qid: str) -> QuestionResult:
        return next(q for q in self.questions if q.id == qid)


class GradingContext:
    """What a check kind may see while planning and judging: never the reference's files."""

    def __init__(self, rubric: Rubric, submission: Submission, seed: int):
        self.rubric = rubric
        self.submission = submission
        self.seed = seed
        self.visible = True
        self.key: tuple[int, int] = (0, 0)
        self.deadline: float | None = None            # time.monotonic() by which the question ends
        self.observed_imports: dict[str, str] = {}    # what the student's code imported as it ran

    def __enter__(self):
        from .rubric.probe import RUBRIC_DIR

        self._token = RUBRIC_DIR.set(self.rubric.source.parent)
        return self

    def __exit__(self, *exc):
        from .rubric.probe import RUBRIC_DIR

        RUBRIC_DIR.reset(self._token)

    def rng_for(self, params, case_index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *self.key, case_index])


class ReferenceUnavailable(Exception):
    """The reference cannot answer a request here (a student's self-check kit holds no solution):
    the case is left for the TA's grade, never passed or failed."""


class ReferenceSolution:
    """The trusted reference solution, staged once: its worker (and notebooks), outside the
    sandbox, kept for the whole batch."""

    def __init__(self, rubric: Rubric, folder: Path, heads: HeadCache | None = None):
        self.rubric = rubric
        self.folder = folder
        self.heads = heads or HeadCache(folder / "heads")
        self.staged = stage(rubric.path(rubric.reference), folder / "staged", rubric.files,
                            rubric.source.parent, trusted=True)
        self._placed: set[str] = set()  # files whose data is in place (placed when first asked for)
        self._runners: Runners | None = None

    def request(self, header: dict, inputs, names: list[str], *, time_s: float) -> Reply:
        """Run one follow-up request; ``header`` carries the scenario and seed, ``names`` the files."""
        if self._runners is None:
            worker = WorkerProcess(str(self.staged.root), self.rubric.policy.shims,
                                   self.rubric.policy.limits, sandboxed=False, scratch=self.folder)
            self._runners = Runners(worker, self.rubric, self.staged, 0, False, None, self.folder)
        wanted = set(names) | runs_after(self.rubric, names)
        if wanted - self._placed:
            provide_data(self.staged, self.rubric, self.heads, keys=wanted - self._placed)
            self._placed |= wanted
        modules = self.staged.module_paths(names, self.rubric.files)
        return self._runners.for_names(names).request(dict(header, modules=modules), inputs, time_s=time_s,
                                                      import_time_s=120)

    def close(self) -> None:
        if self._runners is not None:
            self._runners.close()
            self._runners = None


HEALTH_S = 60  # a worker's start-up and first answer, when the machine is busy


class Grader:
    """Grades submissions against one rubric. ``reference`` answers the checks' follow-up requests
    (anything with ``request`` and ``close``, e.g. a student kit's recorded replies); by default it
    is the rubric's reference solution."""

    def __init__(self, rubric: Rubric | str | Path, sandboxed: bool = True, reference=None, warm: bool = True):
        """``warm``: while one submission is graded, start the worker of the next (a class, a
        validation); a grader for one submission (``autograde SUB``, ``autograde check``) says False."""
        self.rubric = rubric if isinstance(rubric, Rubric) else load(rubric)
        self.sandboxed = sandboxed
        self.warm = warm
        self.layers = detect() if sandboxed else None
        sweep_stale()  # what graders killed outright on this machine left behind
        sweep_stale_cgroups()
        self._tmp = private_dir("grader")
        self.heads = HeadCache(self._tmp / "heads")
        try:
            self.reference = reference or ReferenceSolution(self.rubric, self._tmp / "reference", self.heads)
        except BaseException:
            remove(self._tmp)
            raise
        self._stagings = itertools.count(1)
        self._installed: dict[str, bool] = {}
        # the first spare worker is the health check too, started beside whatever comes first
        self._health_problem = ""
        self._spare: tuple[Path, WorkerProcess] | None = None
        self._spare_thread: threading.Thread | None = None
        self._launch_spare(health=True)
        imports = sorted({m for q in self.rubric.questions for c in q.checks for m in kind_of(c).judge_imports})
        if imports:  # imported beside staging and the workers' start-up, not on the first check's clock
            threading.Thread(target=_import_all, args=(imports,), name="judge-imports", daemon=True).start()

    def _launch_spare(self, health: bool = False) -> None:
        """Start a worker in the empty folder that the next submission will be staged into (the
        worker copies it in at its first request), so that the sandbox's and the interpreter's
        start-up are off that grade's clock. Launched from the caller's thread (a worker dies with
        the thread that launched it); its start-up and first answer are awaited in another. The
        first spare is the health check too: can a worker start here and import what every probe
        needs (NumPy)? It is asked in an empty folder of the grader's, so no submission can make it
        fail."""
        staging = self._tmp / f"submission-{next(self._stagings)}"
        try:
            (staging / "files").mkdir(parents=True)
            worker = WorkerProcess(str(staging / "files"), self.rubric.policy.shims, self.rubric.policy.limits,
                                   sandboxed=self.sandboxed, layers=self.layers, scratch=staging)
            worker.launch()
        except Exception as exc:  # noqa: BLE001 - whatever stops it, the grader cannot grade
            self._spare_failed(staging, None, str(exc)[-2000:], health)
            return
        self._spare_thread = threading.Thread(target=self._await_spare, args=(staging, worker, health),
                                              name="worker-health" if health else "worker-spare", daemon=True)
        self._spare_thread.start()

    def _await_spare(self, staging: Path, worker: WorkerProcess, health: bool) -> None:
        try:
            worker.wait_ready()
            reply = worker.request({"op": "ping"}, time_s=HEALTH_S, import_time_s=0)
        except Exception as exc:  # noqa: BLE001
            self._spare_failed(staging, worker, str(exc)[-2000:], health)
            return
        if reply.ok:
            self._spare = (staging, worker)
            return
        tail = worker.output.text()[-1500:] if getattr(worker, "output", None) else ""
        self._spare_failed(staging, worker, reply.describe() + (f"; its output ended: {tail}" if tail.strip() else ""),
                           health)

    def _spare_failed(self, staging: Path, worker: WorkerProcess | None, problem: str, health: bool) -> None:
        if worker is not None:
            worker.close()
        remove(staging)
        if health:
            self._health_problem = problem

    def _join_spare(self) -> None:
        if self._spare_thread is not None:
            self._spare_thread.join()

    def _claim_spare(self) -> tuple[Path, WorkerProcess | None]:
        """The staging folder and started worker for this grade (a fresh folder and a worker started
        at its first request when no spare is ready), and the next spare on its way if ``warm``."""
        self._join_spare()
        spare, self._spare = self._spare, None
        if spare is not None:  # its start-up was paid before this grade: not on this grade's clock
            spare[1].starts, spare[1].startup_seconds = 0, 0.0
        else:
            spare = (self._tmp / f"submission-{next(self._stagings)}", None)
        if self.warm:
            self._launch_spare()
        return spare

    def _ensure_healthy(self) -> None:
        self._join_spare()
        if self._health_problem:
            raise GraderBroken("the grader cannot grade on this machine: its sandboxed worker does not work "
                               f"({self._health_problem.strip()}). No grade was written; this is not the "
                               "student's doing (check the installation: autograde layers, pip install -e .)")

    def close(self) -> None:
        self._join_spare()  # it works in the folder removed below
        if self._spare:
            self._spare[1].close()
        try:
            self.reference.close()
        finally:
            remove(self._tmp)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- grading -----------------------------------------------------------------------------
    def grade(self, source: str | Path, seed: int | None = None,
              only: set[str] | None = None, trusted: bool = False) -> GradeReport:
        """Grade one submission; ``only`` limits grading to those question ids and ``trusted``
        follows file symlinks (both for validating the repository's own solutions)."""
        started = time.perf_counter()
        self._ensure_healthy()
        staging, worker = self._claim_spare()
        try:
            return self._grade_staged(source, staging, worker, seed, only, trusted, started)
        finally:
            remove(staging)  # a class's staged copies must not pile up until the grader closes

    def _grade_staged(self, source, staging: Path, worker: WorkerProcess | None, seed, only, trusted: bool,
                      started: float) -> GradeReport:
        try:
            submission = stage(source, staging / "files", self.rubric.files, self.rubric.source.parent,
                               trusted=trusted)
        except IntakeError as exc:
            if worker:
                worker.close()
            return self._unreadable(str(source), str(exc), started)
        provide_data(submission, self.rubric, self.heads, keys=None if only is None else self._files_read_by(only))
        if seed is None:
            seed = derive_seed(submission.digest, self.rubric.digest)
        ctx = GradingContext(self.rubric, submission, seed)
        prestarted = worker is not None
        worker = worker or WorkerProcess(str(submission.root), self.rubric.policy.shims, self.rubric.policy.limits,
                                         sandboxed=self.sandboxed, layers=self.layers, scratch=staging)
        runners = Runners(worker, self.rubric, submission, seed, self.sandboxed, self.layers, staging)
        selected = [(qi, q) for qi, q in enumerate(self.rubric.questions) if only is None or q.id in only]
        # questions judged on what the others ran (the import policy) come last; the report keeps
        # the rubric's order
        deferred = [(qi, q) for qi, q in selected if any(kind_of(c).deferred for c in q.checks)]
        order = [pair for pair in selected if pair not in deferred] + deferred
        ctx.observed_imports = runners.imports
        # scripts that chain may run their predecessors again (a fresh worker): once each, at most
        grade_ceiling = self.rubric.grade_ceiling_s + sum(map(runners.script_time_s, runners.chained_before()))
        grade_deadline = time.monotonic() + grade_ceiling
        results = []
        try:
            runners.launch_notebooks([q for _, q in selected])
            with ctx:
                for qi, question in order:
                    if time.monotonic() >= grade_deadline:
                        results.append(self._not_graded(question, f"the grade's time ceiling of "
                                                                  f"{grade_ceiling:g} s ran out"))
                        continue
                    ctx.deadline = min(grade_deadline, time.monotonic() + self.rubric.question_ceiling_s(question)
                                       + runners.chain_time_s(question))
                    if question.isolated:
                        worker.kill()  # the next request starts a clean worker
                    results.append(self._grade_question(qi, question, ctx, runners))
                    if question.isolated:
                        worker.kill()
            position = {q.id: i for i, (_, q) in enumerate(selected)}
            results.sort(key=lambda r: position[r.id])
        finally:
            runners.close()
            student_log = "\n".join(worker.logs)
            startup = worker.startup_seconds + sum(s.startup_seconds for s in runners.sessions.values())
            starts = worker.starts + sum(s.starts for s in runners.sessions.values())
        prov = provenance(self.rubric, submission.digest, seed, self.layers, sandboxed=self.sandboxed)
        prov["data"] = self.data_used()
        mark_uncalibrated(results, self.rubric, prov["data"])
        prov["timing"] = {"total_s": round(time.perf_counter() - started, 4),
                          "sandbox_startup_s": round(startup, 4), "worker_starts": starts,
                          "worker_started_before": prestarted,
                          "per_question_s": {r.id: round(r.seconds, 4) for r in results}}
        prov["timing"]["notebooks"] = {run.path: {"key": run.key, "total_s": round(run.seconds, 4),
                                                  "kernel_overhead_s": round(run.overhead_seconds, 4),
                                                  "peak_rss_mb": _mb(run.peak_rss_mb), "cgroup_peak_mb": _mb(run.peak_mb)}
                                       for run in runners.runs}
        prov["timing"]["scripts"] = dict(runners.script_runs)
        prov["student_output_tail"] = student_log[-4000:]
        prov["checks_not_run"] = [f"{r.id} {line}" for r in results for line in r.not_run]
        prov["compat"] = runners.compat
        notes = submission.problems + [f"required file {m} was not found in the submission"
                                       for m in submission.missing]
        notes += [f"the code opened {asked!r}, which is not there; it was given the course's {given}"
                  for asked, given in sorted(runners.redirects.items())]
        prov["paths_redirected"] = dict(sorted(runners.redirects.items()))
        notes += [chain_note(c, self.rubric) for c in runners.chain]
        prov["chain"] = runners.chain
        return GradeReport(self.rubric, str(source), results, prov, notes, notebooks=runners.runs)

    def _grade_question(self, qi: int, question: Question, ctx: GradingContext,
                        runners: "Runners") -> QuestionResult:
        started = time.perf_counter()
        result = QuestionResult(question.id, question.title, question.points, question.visibility,
                                question.extra_credit, question.penalty)
        budget = self.rubric.policy.budget
        try:
            for ci, params in enumerate(question.checks):
                ctx.key = (qi, ci)
                ctx.visible = (params.visibility or question.visibility) == "public"
                kind = kind_of(params)
                label = params.name or params.kind
                absent = [d for d in params.needs_data if not self.installed(d)]
                if absent:
                    result.not_run.append(f"{label}: not run, dataset {', '.join(absent)} is not installed "
                                          f"(autograde data add NAME FOLDER)")
                    continue
                if not kind.uses_probe:
                    outcomes = kind.evaluate(params, ctx)
                else:
                    outcomes = self._run_cases(kind, params, ctx, runners, question, budget)
                result.checks.append(CheckResult(label, params.kind, params.weight, outcomes,
                                                 hidden=(params.visibility or question.visibility) == "hidden"))
        except Exception as exc:  # noqa: BLE001 - a grader bug costs one question, never the run
            result.grader_error = f"internal grader error in {question.id}: {exc!r}"
            result.checks = [CheckResult("grader error", "error", 1.0, [Outcome(0.0, traceback.format_exc(-2))])]
        result.notes = graded_file_notes(question, self.rubric, ctx.submission)
        result.seconds = time.perf_counter() - started
        return result

    def _run_cases(self, kind, params, ctx, runners, question, budget) -> list[Outcome]:
        """Every case of one check; after a time-out the rest fail at once instead of waiting again."""
        absent = self._absent(kind, params, ctx)
        if absent:  # before planning: its cases may draw from a dataset nothing will read (made for nothing)
            return [kind.missing(params, absent)]
        outcomes: list[Outcome] = []
        timed_out: str | None = None
        for i, case in enumerate(kind.plan(params, ctx)):
            if not timed_out and ctx.deadline is not None and time.monotonic() >= ctx.deadline:
                timed_out = (f"{question.id}'s time ceiling of {self.rubric.question_ceiling_s(question):g} s "
                             "ran out")
            if timed_out:
                outcomes.append(Outcome(0.0, f"{case.label}: not run, {timed_out}"))
                continue
            outcome, status = self._run_case(kind, params, i, case, ctx, runners, question, budget)
            if status == "timeout":
                timed_out = f"{case.label.split(' (')[0]} timed out"
            outcomes.append(outcome)
        return outcomes

    def _absent(self, kind, params, ctx) -> str | None:
        names = kind.module_names(params, set(self.rubric.files))
        absent = [self.rubric.files[n].names_text for n in names if n not in ctx.submission.files]
        return f"{', '.join(absent)} was not found in the submission" if absent else None

    def _run_case(self, kind, params, index: int, case: Case, ctx, runners, question,
                  budget) -> tuple[Outcome, str]:
        names = kind.module_names(params, set(self.rubric.files))
        seed = int(ctx.rng_for(params, 10_000 + index).integers(2**31))  # the worker's np.random
        time_s = question.time_s or budget.time_s
        memory = question.memory_mb or budget.memory_mb
        files = self.rubric.files

        def ask(names: list[str], header: dict) -> Reply:
            return runners.request(names, dict(header, modules=ctx.submission.module_paths(names, files), seed=seed),
                                   case.inputs, time_s=time_s, import_time_s=budget.import_time_s,
                                   memory_mb=memory, deadline=ctx.deadline)

        student = ask(names, case.student)
        instead = kind.fallback(params, case) if student.status in ("timeout", "oom") else None
        if instead is not None:  # e.g. a training script past its budget: the weights handed in
            scenario, note = instead
            alt = ask(modules_used(scenario["steps"] + list(scenario["observe"].values()), set(files)),
                      {"op": "run", "scenario": scenario})
            if alt.ok:
                case.extra["instead"] = f"{student.describe()}; {note}"
                student = alt
        reference = None
        follow_up = kind.reference_request(params, case, student, ctx)
        if follow_up is not None:
            header, inputs, ref_names = follow_up
            try:
                reference = self.reference.request(dict(header, seed=seed), inputs, ref_names,
                                                   time_s=max(time_s * 10, 60))
            except ReferenceUnavailable as exc:
                return Outcome(0.0, f"{case.label}: {exc}", pending=True), student.status
        try:
            outcome = kind.judge(params, case, student, reference, ctx)
            if "instead" in case.extra:
                outcome.message = f"{case.label}: {case.extra['instead']}" + (f"; {outcome.message}"
                                                                               if outcome.message else "")
            return outcome, student.status
        except ReferenceFailed as exc:
            raise RuntimeError(f"the reference solution failed on {case.label}: {exc}") from None

    def _files_read_by(self, only: set[str]) -> set[str]:
        """The files the questions ``only`` run, and the scripts those run after: where data goes."""
        keys = {f for q in self.rubric.questions if q.id in only for f in probed_files(q, self.rubric)}
        return keys | runs_after(self.rubric, keys)

    def installed(self, name: str) -> bool:
        """Whether a dataset is there without generating it (the course's own photos cannot be)."""
        from . import data

        if name not in self._installed:
            self._installed[name] = data.resolve(name, make=False) is not None
        return self._installed[name]

    def data_used(self) -> list[dict]:
        """Which copy of each dataset the rubric uses: real or synthetic, and from where."""
        from . import data

        optional = {d.dataset for d in self.rubric.data if d.optional} | {
            name for q in self.rubric.questions for c in q.checks for name in c.needs_data}
        used = []
        for name in dict.fromkeys(self.rubric.datasets + [d.dataset for d in self.rubric.data if d.dataset]
                                  + sorted(optional)):
            if name in optional and not self.installed(name):
                used.append({"dataset": name, "origin": "not installed",
                             "source": "optional: the checks that need it were not run"})
                continue
            try:  # what this grade used was found or made while grading: nothing is made for the record
                found = data.resolve(name, make=False)
            except Exception as exc:  # noqa: BLE001 - a missing dataset is reported, never fatal here
                used.append({"dataset": name, "origin": "unavailable", "source": str(exc)})
                continue
            used.append(found.as_report() | {"bytes": found.verdict().describe()} if found else
                        {"dataset": name, "origin": "not made", "source": "no question of this grade needed it"})
        return used

    def _unreadable(self, source: str, message: str, started: float) -> GradeReport:
        """A submission that cannot be read earns nothing and loses nothing: 0, with the reason said
        once (in ``fatal``); deductions are not judged on code that was never read."""
        results = [unscored(q, "the submission could not be read") for q in self.rubric.questions]
        prov = provenance(self.rubric, None, None, self.layers, sandboxed=self.sandboxed)
        prov["timing"] = {"total_s": round(time.perf_counter() - started, 4)}
        return GradeReport(self.rubric, source, results, prov, [message], fatal=message)

    def _not_graded(self, question: Question, why: str) -> QuestionResult:
        return unscored(question, why)


def _import_all(modules: list[str]) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the judge that needs it imports it again and reports
            pass


def auto_points(rubric: Rubric) -> float:
    """The auto-graded points a rubric gives (``GradeReport.auto_max`` of a submission whose every
    check ran): the share of each question carried by checks the grader judges itself, extra credit
    and deductions left out. The class page's denominator, the same rule as every report's."""
    total = 0.0
    for q in rubric.questions:
        if q.extra_credit or q.penalty:
            continue
        weight = sum(c.weight for c in q.checks) or 1.0
        total += q.points * sum(c.weight for c in q.checks if not kind_of(c).ta_graded) / weight
    return round(total, 4)


def unscored(question: Question, why: str) -> QuestionResult:
    """A question not graded (no time left, nothing to read): no points, one line saying why, and
    the same automatic and TA shares as when it is graded."""
    result = QuestionResult(question.id, question.title, question.points, question.visibility,
                            question.extra_credit, question.penalty)
    if question.penalty:
        result.not_run.append(f"not judged: {why}")
        return result
    by_ta = [c for c in question.checks if kind_of(c).ta_graded]
    auto = [c for c in question.checks if not kind_of(c).ta_graded]
    if auto:
        result.checks.append(CheckResult("not graded", "none", sum(c.weight for c in auto),
                                         [Outcome(0.0, why)]))
    if by_ta:
        result.checks.append(CheckResult("graded by a TA", "manual", sum(c.weight for c in by_ta),
                                         [Outcome(0.0, "", pending=True)]))
    return result


class Runners:
    """Where a submission's probes run: its worker, or the sandboxed kernel of the notebook a probe
    names (one kernel per notebook, executed once, on first use)."""

    def __init__(self, worker: WorkerProcess, rubric: Rubric, submission: Submission, seed: int,
                 sandboxed: bool, layers, scratch: Path):
        self.worker, self.rubric, self.submission = worker, rubric, submission
        self.seed, self.sandboxed, self.layers = seed, sandboxed, layers
        self.scratch = scratch  # the grader's own folder for this submission (kernels' sockets)
        self.sessions: dict[str, NotebookSession] = {}
        self.imports: dict[str, str] = {}  # module -> where the student's code imported it
        self.redirects: dict[str, str] = {}  # a missing path the code opened -> the provided file it got
        self.compat: list[dict] = []       # old library APIs bridged, in the order they first fired
        self.chain: list[dict] = []        # files a chained script read: an earlier script's, or the hand-in's
        self.script_runs: dict[str, dict] = {}  # file key -> its first run's clock and memory, and how many runs

    def request(self, names: list[str], header: dict, value=None, **budgets) -> Reply:
        """One probe where it runs (worker or notebook); the imports it saw are kept for the policy,
        the bridged old APIs and the chained files for the report.

        A script that runs after others (``after:``, run_q4.py after run_q3.py) has them run first in
        the same worker when this worker has not run them yet (a fresh worker, a grade of one
        question), within their own time; one that failed in this grade is not run again, and the
        files it would have written are the hand-in's own copies."""
        runner = self.for_names(names)
        before = self._predecessors(header.get("modules", {}), runner)
        if before:
            extra = sum(self.script_time_s(p) for p in before if not runner.has_loaded(p))
            chained = dict(header, modules={**self.submission.module_paths(before, self.rubric.files),
                                            **header["modules"]})
            reply = self._measured(runner, chained, value,
                                   dict(budgets, import_time_s=budgets.get("import_time_s", 30.0) + extra))
            if any(p in runner.fatal_imports for p in before):  # it failed here: go on without it
                self._keep(reply)
                reply = self._measured(runner, header, value, budgets)
        else:
            reply = self._measured(runner, header, value, budgets)
        self._keep(reply)
        return reply

    def _measured(self, runner, header: dict, value, budgets: dict) -> Reply:
        """``runner.request``; a request that ran scripts for the first time in this worker is what they
        need, on the grader's clock and the cgroup's memory count (provenance, budgets' figures)."""
        if runner is not self.worker:
            return runner.request(header, value, **budgets)
        fresh = [n for n in header.get("modules", {}) if n in self.rubric.files and not runner.has_loaded(n)]
        started = time.monotonic()
        reply = runner.request(header, value, **budgets)
        if not fresh:
            return reply
        rss, cgroup = runner.peaks_mb()
        for name in fresh:
            if runner.has_loaded(name):  # its first run keeps the figures; a rerun (a fresh worker) is counted
                self.script_runs.setdefault(name, {"run_s": round(time.monotonic() - started, 3), "peak_rss_mb": _mb(rss),
                                                   "cgroup_peak_mb": _mb(cgroup), "runs": 0})["runs"] += 1
        return reply

    def _keep(self, reply: Reply) -> None:
        for module, where in reply.imports.items():
            self.imports.setdefault(module, where)
        for asked, given in reply.redirects.items():
            self.redirects.setdefault(asked, given)
        seen = {(c["shim"], c["old"]) for c in self.compat}
        self.compat += [c for c in reply.compat if (c["shim"], c["old"]) not in seen][:MAX_COMPAT - len(self.compat)]
        known = {(c["script"], c["file"]) for c in self.chain}
        self.chain += [c for c in reply.chain if (c["script"], c["file"]) not in known][:MAX_CHAIN - len(self.chain)]

    def _predecessors(self, modules: dict, runner, named_too: bool = False) -> list[str]:
        """The scripts the named ones run after, transitively, in the rubric's order: those in the
        submission, not named already (unless ``named_too``), and not failed in this worker's grade."""
        if runner is not self.worker:
            return []
        wanted = runs_after(self.rubric, modules)
        return [n for n in self.rubric.files if n in wanted and (named_too or n not in modules)
                and n in self.submission.files and n not in runner.fatal_imports]

    def chained_before(self) -> list[str]:
        """Every script some other script of the submission runs after."""
        return self._predecessors({n: {} for n in self.rubric.files}, self.worker, named_too=True)

    def chain_time_s(self, question: Question) -> float:
        """The time this question's scripts' predecessors may take to run first (none loaded yet)."""
        before = self._predecessors({n: {} for n in probed_files(question, self.rubric)}, self.worker)
        return sum(self.script_time_s(p) for p in before if not self.worker.has_loaded(p))

    def script_time_s(self, name: str) -> float:
        """A script's own time: the largest budget of the questions that run it."""
        budget = self.rubric.policy.budget
        return max([q.time_s or budget.time_s for q in self.rubric.questions if name in probed_files(q, self.rubric)]
                   or [budget.time_s])

    def for_names(self, names: list[str]):
        notebooks = [n for n in names if self._is_notebook(n)]
        return self._session(notebooks[0]) if notebooks else self.worker

    def launch_notebooks(self, questions: list[Question]) -> None:
        """Start the kernel of every notebook these questions probe, without waiting: each kernel's
        start-up then overlaps the worker's checks and the other notebooks' cells."""
        for name in sorted(set().union(*(probed_files(q, self.rubric) for q in questions))):
            if self._is_notebook(name):
                self._session(name).launch()

    def _is_notebook(self, name: str) -> bool:
        found = self.submission.files.get(name)
        return found is not None and self.rubric.files[name].run_as_for(found.name) == "notebook"

    def _session(self, key: str) -> NotebookSession:
        if key not in self.sessions:
            spec, policy = self.rubric.files[key], self.rubric.policy
            budget = NotebookBudget(spec.cell_time_s, spec.time_s, spec.memory_mb or policy.budget.memory_mb)
            rel = str(self.submission.files[key].relative_to(self.submission.root))
            self.sessions[key] = NotebookSession(key, rel, str(self.submission.root), budget, policy.shims,
                                                 policy.limits, self.seed, self.sandboxed, self.layers,
                                                 watch=spec.watch, scratch=self.scratch)
        return self.sessions[key]

    @property
    def runs(self) -> list[NotebookRun]:
        return [s.run for s in self.sessions.values() if s.run is not None]

    def close(self) -> None:
        self.worker.close()
        for session in self.sessions.values():
            session.close()


def chain_note(record: dict, rubric: Rubric) -> str:
    """Which copy of a chained file a script used, in the words of the report."""
    def path(key: str) -> str:
        return rubric.files[key].path if key in rubric.files else key

    if record["from"]:
        return f"{path(record['script'])} read {record['file']}, written by {path(record['from'])} earlier in this grade"
    before = " or ".join(path(a) for a in record["after"]) or "an earlier script"
    return f"{path(record['script'])} read {record['file']} as handed in ({before} did not write one in this grade)"


def runs_after(rubric: Rubric, names) -> set[str]:
    """The scripts the named files run after (``after:``), transitively."""
    found, todo = set(), [n for n in names if n in rubric.files]
    while todo:
        for before in rubric.files[todo.pop()].after:
            if before not in found:
                found.add(before)
                todo.append(before)
    return found


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def probed_files(question: Question, rubric: Rubric) -> set[str]:
    """The rubric's files this question's checks load in a worker or a kernel."""
    used: set[str] = set()
    for params in question.checks:
        kind = kind_of(params)
        if kind.uses_probe:
            used.update(kind.module_names(params, set(rubric.files)))
    return used


def datasets_read_by(question: Question, rubric: Rubric) -> set[str]:
    """The datasets this question's checks read: placed next to the files it runs, or drawn as inputs."""
    files = probed_files(question, rubric)
    files |= runs_after(rubric, files)
    names = {p.dataset for p in rubric.data if p.dataset and p.next_to in files}

    def refs(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("dataset"), dict) and "name" in node["dataset"]:
                names.add(node["dataset"]["name"])
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    refs([c.model_dump() for c in question.checks])
    return names


def mark_uncalibrated(results: list[QuestionResult], rubric: Rubric, data_used: list[dict]) -> None:
    """A question judged on data other than what its thresholds were calibrated on says so."""
    from .data.manifest import uncalibrated

    differ = uncalibrated(data_used)
    if not differ:
        return
    for result in results:
        for name in sorted(datasets_read_by(rubric.question(result.id), rubric) & set(differ)):
            result.notes.append(f"judged on a copy of {name} that {differ[name]}")


def graded_file_notes(question: Question, rubric: Rubric, submission: Submission) -> list[str]:
    """Which file was graded, for the files of this question found by a name pattern rather than by
    their name: the student and the TA must be able to see that ``run_q71.py`` stood for Q7.1.1."""
    return [f"graded {submission.by_pattern[name]} as {question.id}'s {rubric.files[name].path} "
            f"(no file of that name; this one's name fits the pattern)"
            for name in sorted(probed_files(question, rubric)) if name in submission.by_pattern]


def derive_seed(submission_digest: str, rubric_digest: str) -> int:
    """Per-submission inputs: the same submission and rubric always get the same seed (regrades)."""
    return int(hashlib.sha256(f"{submission_digest}:{rubric_digest}".encode()).hexdigest()[:8], 16)


def grade_submission(source: str | Path, spec: str | Path, seed: int | None = None) -> GradeReport:
    with Grader(spec) as grader:
        return grader.grade(source, seed=seed)


__all__ = ["Grader", "GraderBroken", "GradeReport", "auto_points", "ReferenceSolution", "ReferenceUnavailable", "grade_submission", "__version__"]
