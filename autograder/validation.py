"""Validate a rubric the way an instructor comes to trust it (design.md, "Validation of the rubric").

1. the schema loads (names, kinds, tolerances, probe statements);
2. the reference solution earns full marks on every auto-graded question;
3. the blank starter earns nothing, and the grader still ends cleanly;
4. each mutant (a known-wrong edit of the reference, listed in the rubric's mutants file) loses
   points on exactly the questions it names, and keeps full marks everywhere else. Long-running
   questions (training scripts, whole pipelines) are re-graded only for the mutants that name them
   in ``loses``, ``may_lose`` or ``keeps``: the reference and the starter run them once, and one NIST36
   training or autoencoder run per mutant would make validation take half an hour.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .grading import GradeReport, Grader
from .rubric.schema import Rubric, load


class Mutant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    file: str = Field(description="path inside the reference solution")
    find: str = Field(description="text that occurs exactly once in that file")
    replace: str
    loses: list[str] = Field(description="question ids that must lose points; [] = a tolerated variant")
    may_lose: list[str] = Field(default_factory=list,
                                description="knock-on effects that depend on the random seed, e.g. a bad "
                                            "initialisation that sometimes still trains well enough")
    keeps: list[str] = Field(default_factory=list,
                             description="long-running questions to grade too, which must keep full "
                                         "marks (a tolerated variant of a script; a question whose "
                                         "script needs another's output)")


@dataclass
class Finding:
    subject: str
    ok: bool
    detail: str = ""


@dataclass
class ValidationResult:
    rubric: Rubric
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def add(self, subject: str, ok: bool, detail: str = "") -> None:
        self.findings.append(Finding(subject, ok, detail))


def load_mutants(rubric: Rubric) -> list[Mutant]:
    path = rubric.path(rubric.mutants)
    if path is None:
        return []
    data = yaml.safe_load(path.read_text()) or []
    return [Mutant.model_validate(item) for item in data]


def apply_mutant(reference: Path, mutant: Mutant, dest: Path) -> Path:
    shutil.copytree(reference, dest)
    target = dest / mutant.file
    text = target.read_text()
    count = text.count(mutant.find)
    if count != 1:
        raise ValueError(f"mutant {mutant.name!r}: {mutant.find!r} occurs {count} times in {mutant.file}")
    target.write_text(text.replace(mutant.find, mutant.replace))
    return dest


def auto_questions(report: GradeReport):
    return [q for q in report.questions if not q.manual and not q.penalty]


def validate(spec: str | Path, full: bool = True, mutant_names: list[str] | None = None) -> ValidationResult:
    rubric = load(spec)
    result = ValidationResult(rubric)
    result.add("schema", True, f"{len(rubric.questions)} questions, {rubric.total_points:g} points"
               + (f" + {rubric.extra_points:g} extra credit" if rubric.extra_points else ""))
    if not full:
        return result
    with Grader(rubric) as grader:
        reference = grader.grade(rubric.path(rubric.reference), trusted=True)
        short = [f"{q.id} {q.score:g}/{q.auto_max:g}: {'; '.join(q.feedback)[:300]}"
                 for q in auto_questions(reference) if q.score < q.auto_max]
        result.add("reference earns full marks", not short, "\n".join(short))

        if rubric.starter:
            starter = grader.grade(rubric.path(rubric.starter), trusted=True)
            scored = [f"{q.id} {q.score:g}" for q in auto_questions(starter) if q.score > 0]
            result.add("blank starter earns nothing", not scored, ", ".join(scored))

        for mutant in load_mutants(rubric):
            if mutant_names and mutant.name not in mutant_names:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    folder = apply_mutant(rubric.path(rubric.reference), mutant, Path(tmp) / "m")
                except ValueError as exc:
                    result.add(f"mutant: {mutant.name}", False, str(exc))
                    continue
                named = set(mutant.loses) | set(mutant.may_lose) | set(mutant.keeps)
                report = grader.grade(folder, only={q.id for q in rubric.questions
                                                    if not q.long_running or q.id in named})
            lost = {q.id for q in auto_questions(report) if q.score < q.auto_max}
            wanted = set(mutant.loses)
            ok = wanted <= lost <= wanted | set(mutant.may_lose)
            detail = "" if ok else (f"expected to lose {sorted(wanted)}, lost {sorted(lost)}; "
                                    + " | ".join(f"{q.id}: {'; '.join(q.feedback)[:200]}"
                                                 for q in auto_questions(report) if q.id in lost ^ wanted))
            result.add(f"mutant: {mutant.name}", ok, detail)
    return result
