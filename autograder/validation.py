"""Validate a rubric the way an instructor comes to trust it (design.md, "Validation of the rubric").

1. the schema loads (names, kinds, tolerances, probe statements);
2. the reference solution earns full marks on every auto-graded question;
3. the blank starter earns nothing, and the grader still ends cleanly;
4. each mutant (a known-wrong edit of the reference, listed in the rubric's mutants file) loses
   points on exactly the questions it names, and keeps full marks everywhere else. Long-running
   questions (training scripts, whole pipelines) are re-graded only for the mutants that name them
   in ``loses``, ``may_lose`` or ``keeps``: the reference and the starter run them once, and one NIST36
   training or autoencoder run per mutant would make validation take half an hour;
5. each era variant (the reference rewritten as students of other years wrote it: old library APIs,
   other paths and layouts, the rubric's variants file) earns full marks on the questions it names.
"""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(description="path inside the reference solution")
    find: str = Field(description="text that occurs exactly once in that file")
    replace: str


class Variant(BaseModel):
    """The reference as a student of another year handed it in: every edit applied, then laid out
    as ``layout`` says and zipped, as a TA receives it."""

    model_config = ConfigDict(extra="forbid")
    name: str
    why: str = Field("", description="the habits of the era it stands for")
    layout: Literal["course", "flat", "nested"] = Field(
        "course", description="course: the handout's folders; flat: every file at the zip's root; "
                              "nested: the course's folders one level deeper")
    edits: list[Edit] = Field(default_factory=list)
    as_notebook: list[str] = Field(default_factory=list,
                                   description="scripts handed in as Jupyter notebooks instead (the same "
                                               "code, a cell per block of top-level code), as in Colab")
    questions: list[str] = Field(description="questions it must earn full marks on")


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


def _load_list(rubric: Rubric, name: str | None, model):
    """A YAML list beside the rubric (its mutants, its variants), each item validated."""
    path = rubric.path(name) if name else None
    if path is None:
        return []
    return [model.model_validate(item) for item in yaml.safe_load(path.read_text()) or []]


def load_mutants(rubric: Rubric) -> list[Mutant]:
    return _load_list(rubric, rubric.mutants, Mutant)


def load_variants(rubric: Rubric) -> list[Variant]:
    return _load_list(rubric, rubric.variants, Variant)


def _edit(folder: Path, who: str, edit) -> None:
    target = folder / edit.file
    text = target.read_text()
    count = text.count(edit.find)
    if count != 1:
        raise ValueError(f"{who}: {edit.find!r} occurs {count} times in {edit.file}")
    target.write_text(text.replace(edit.find, edit.replace))


def apply_mutant(reference: Path, mutant: Mutant, dest: Path) -> Path:
    shutil.copytree(reference, dest)
    _edit(dest, f"mutant {mutant.name!r}", mutant)
    return dest


def make_variant(reference: Path, variant: Variant, dest: Path) -> Path:
    """The variant as a zip in ``dest``: the reference copied (links resolved), edited, laid out."""
    tree = dest / "tree"
    shutil.copytree(reference, tree)
    for edit in variant.edits:
        _edit(tree, f"variant {variant.name!r}", edit)
    for script in variant.as_notebook:
        _as_notebook(tree / script)
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    if variant.layout == "flat":
        names = [p.name for p in files]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ValueError(f"variant {variant.name!r}: a flat layout would merge {clash}")
        entries = {p.name: p for p in files}
    else:
        top = "submission/" if variant.layout == "nested" else ""
        entries = {top + p.relative_to(tree).as_posix(): p for p in files}
    archive = dest / "variant.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in entries.items():
            zf.write(path, name)
    return archive


def _as_notebook(script: Path) -> None:
    """``x.py`` becomes ``x.ipynb``: one code cell per block between two blank lines (PEP 8's gap
    between top-level definitions), run top to bottom as a student's notebook would be."""
    import nbformat

    blocks = [b.strip("\n") for b in script.read_text().split("\n\n\n") if b.strip()]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(b) for b in blocks])
    nbformat.write(notebook, script.with_suffix(".ipynb"))
    script.unlink()


def auto_questions(report: GradeReport):
    return [q for q in report.questions if not q.manual and not q.penalty]


PARTS = ("reference", "starter", "mutants", "variants")


def validate(spec: str | Path, full: bool = True, mutant_names: list[str] | None = None,
             parts: tuple[str, ...] = PARTS, share: tuple[int, int] = (0, 1)) -> ValidationResult:
    """Schema, then (``full``) the ``parts`` asked for. ``share=(i, n)``: only every n-th mutant and
    variant from the i-th, so that n processes validate one rubric side by side (the tests do)."""
    rubric = load(spec)
    result = ValidationResult(rubric)
    result.add("schema", True, f"{len(rubric.questions)} questions, {rubric.total_points:g} points"
               + (f" + {rubric.extra_points:g} extra credit" if rubric.extra_points else ""))
    if not full:
        return result
    index, of = share
    with Grader(rubric) as grader:
        if "reference" in parts:
            reference = grader.grade(rubric.path(rubric.reference), trusted=True)
            short = [f"{q.id} {q.score:g}/{q.auto_max:g}: {'; '.join(q.feedback)[:300]}"
                     for q in auto_questions(reference) if q.score < q.auto_max]
            result.add("reference earns full marks", not short, "\n".join(short))

        if rubric.starter and "starter" in parts:
            starter = grader.grade(rubric.path(rubric.starter), trusted=True)
            scored = [f"{q.id} {q.score:g}" for q in auto_questions(starter) if q.score > 0]
            result.add("blank starter earns nothing", not scored, ", ".join(scored))

        for mutant in load_mutants(rubric)[index::of] if "mutants" in parts else []:
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

        for variant in load_variants(rubric)[index::of] if "variants" in parts else []:
            if mutant_names and variant.name not in mutant_names:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    archive = make_variant(rubric.path(rubric.reference), variant, Path(tmp))
                except ValueError as exc:
                    result.add(f"variant: {variant.name}", False, str(exc))
                    continue
                report = grader.grade(archive, only=set(variant.questions))
            short = [f"{q.id} {q.score:g}/{q.auto_max:g}: {'; '.join(q.feedback)[:300]}"
                     for q in auto_questions(report) if q.id in variant.questions and q.score < q.auto_max]
            unknown = sorted(set(variant.questions) - {q.id for q in report.questions})
            result.add(f"variant: {variant.name}", not short and not unknown,
                       "\n".join(short + ([f"unknown questions {unknown}"] if unknown else [])))
    return result
