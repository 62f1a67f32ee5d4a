"""Restrict a rubric to what students may see: the public checks, and hidden ones by name and points only.

Every question and every check keeps its position: a check's inputs are drawn from
``(seed, question index, check index, case)``, so with the kit's seed a student's check draws
exactly the inputs a TA's grade with that seed draws. What may not travel becomes a ``manual``
placeholder of the same weight (it scores nothing and is listed as pending):

* a hidden question: id, title and points, one placeholder marked ``visibility: hidden``;
* a hidden check of a public question: a placeholder marked ``visibility: hidden``;
* a long-running question (a training script, a whole pipeline): left to the TA's run;
* a check reading a file no public fixture set vouches for: left to the TA's run.

TA instructions of manual and figures checks stay out (they may say what a good answer looks like).
Course files a rubric ``provided`` (e.g. handout 004's util.py) ship, wherever they are kept: the
rubric declares them handed out, and the TA's grade puts them in place of the student's copy too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from ..checks import kind_of
from ..checks.manual import Params as Manual
from ..rubric.probe import InputSpec
from ..rubric.schema import Question, Rubric

HIDDEN = "hidden check, graded after the deadline"
LONG = "checked when the TA grades: a long-running question (a time budget of {seconds:g} s)"
NEEDS_FILES = "checked when the TA grades (it reads files that stay with the TA)"
REPLIES_FOLDER = "reference-replies"


@dataclass
class Restricted:
    rubric: Rubric                                      # the kit's rubric (source paths inside the kit)
    files: dict[Path, str] = field(default_factory=dict)  # file to copy -> path inside the kit
    long_running: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)      # what stayed with the TA, for the instructor


def placeholder(check, instructions: str, hidden: bool = False) -> Manual:
    return Manual(kind="manual", name="hidden check" if hidden else (check.name or check.kind),
                  weight=check.weight, visibility="hidden" if hidden else None, instructions=instructions)


def file_inputs(node) -> list[InputSpec]:
    """Every input (also nested ``dict:`` entries and ``then:`` stages) that reads a file."""
    found = []
    if isinstance(node, InputSpec):
        if node.image is not None or node.json_field is not None:
            found.append(node)
        for child in (node.entries or {}).values():
            found += file_inputs(child)
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            found += file_inputs(getattr(node, name))
    elif isinstance(node, dict):
        for child in node.values():
            found += file_inputs(child)
    elif isinstance(node, list):
        for child in node:
            found += file_inputs(child)
    return found


def files_used(check, modules: set[str]) -> set[str]:
    """The submission files (rubric ``files`` keys) a check loads."""
    kind = kind_of(check)
    names = set(kind.module_names(check, modules)) if kind.uses_probe else set()
    source = getattr(check, "source", None)
    return names | ({source} if source else set())


class Restrictor:
    def __init__(self, rubric: Rubric, public):
        self.rubric = rubric
        self.public = public  # a PublicFiles
        self.out = Restricted(rubric=None)
        self.withheld_next_to: set[str] = set()  # scripts whose fixture placement stays with the TA

    def run(self) -> Restricted:
        rubric = self.rubric.model_copy(deep=True)
        placements = [self._placement(p) for p in rubric.data]
        rubric.questions = [self._question(q) for q in rubric.questions]
        used = {name for q in rubric.questions for c in q.checks if c.kind != "manual"
                for name in files_used(c, set(rubric.files))}
        rubric.data = [p for p in placements if p is not None and p.next_to in used]
        for key, spec in rubric.files.items():
            if spec.provided:  # a course file students are handed, put in place of their copy
                source = self.rubric.path(spec.provided)
                spec.provided = self._ship(source, f"provided/{key}/{source.name}")
                self.out.notes.append(f"ships {spec.path}: a course file the rubric provides "
                                      "(it replaces the student's copy, as in the TA's grade)")
        rubric.reference = REPLIES_FOLDER
        rubric.starter = rubric.mutants = rubric.variants = None
        self.out.rubric = rubric
        return self.out

    def _ship(self, source: Path, kit_path: str) -> str:
        self.out.files[source] = kit_path
        return kit_path

    def _placement(self, placement):
        if placement.fixture is None:
            return placement
        folder = self.rubric.path(placement.fixture)
        targets = [self.public.fixture_path(folder / name) for name in placement.files]
        if None in targets:
            self.withheld_next_to.add(placement.next_to)
            note = f"fixture {placement.fixture} stays with the TA (not a public fixture set)"
            if note not in self.out.notes:  # several scripts may read the same folder
                self.out.notes.append(note)
            return None
        for name, target in zip(placement.files, targets):
            self._ship(folder / name, target)
        placement.fixture = targets[0][: -len(placement.files[0]) - 1]
        return placement

    def _question(self, question: Question) -> Question:
        if question.visibility == "hidden":
            self.out.notes.append(f"{question.id}: hidden question, listed with its points only")
            hidden = Manual(kind="manual", name="hidden check", visibility="hidden", instructions=HIDDEN)
            return question.model_copy(update={"checks": [hidden]})
        if question.long_running and not question.is_manual:
            self.out.long_running.append(question.id)
            text = LONG.format(seconds=question.time_s)
            return question.model_copy(update={"checks": [placeholder(c, HIDDEN, hidden=True)
                                                          if c.visibility == "hidden" else placeholder(c, text)
                                                          for c in question.checks]})
        return question.model_copy(update={"checks": [self._check(c) for c in question.checks]})

    def _check(self, check):
        if check.visibility == "hidden":
            return placeholder(check, HIDDEN, hidden=True)
        if check.kind in ("manual", "figures"):
            return check.model_copy(update={"instructions": ""})
        if files_used(check, set(self.rubric.files)) & self.withheld_next_to:
            return placeholder(check, NEEDS_FILES)
        check = check.model_copy(deep=True)
        for spec in file_inputs(check):
            ref = spec.json_field if spec.json_field is not None else spec
            attr = "path" if spec.json_field is not None else "image"
            source = self.rubric.path(getattr(ref, attr))
            target = self.public.fixture_path(source)
            if target is None:
                self.out.notes.append(f"a check named {check.name or check.kind!r} reads "
                                      f"{getattr(ref, attr)}, which stays with the TA")
                return placeholder(check, NEEDS_FILES)
            setattr(ref, attr, self._ship(source, target))
        return check


def restrict(rubric: Rubric, public) -> Restricted:
    return Restrictor(rubric, public).run()
