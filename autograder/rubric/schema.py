"""The rubric's typed schema and its loader, which points at the offending YAML key and line.

One YAML file per assignment under ``specs/``. Relative paths in it (reference solution, starter,
mutants) are relative to the YAML file.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..checks import AnyCheck
from ..sandbox.launch import Limits
from .errors import RubricError  # noqa: F401 - re-exported: schema.RubricError


class FileSpec(BaseModel):
    """A file the submission must (or may) contain, found by name anywhere in it."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="file name, or a tail of its path such as python/nn.py")
    required: bool = True
    run_as: Literal["module", "script", "notebook"] = Field(
        "module", description="module: imported; script: run once as __main__, its globals observed; "
                              "notebook (any .ipynb): executed once in a sandboxed Jupyter kernel, "
                              "its global names observed")
    after: list[str] = Field(default_factory=list,
                             description="scripts (keys of files) that run before this one in the same "
                                         "folder, as the course runs them: run_q4.py loads the "
                                         "q3_weights.pickle run_q3.py writes. They run first when they "
                                         "have not run yet; one that failed in this grade is not run "
                                         "again, and its files are then the hand-in's own copies")
    provided: str | None = Field(None, description="a course file (path relative to the rubric) that "
                                                  "replaces the student's copy")
    also: list[str] = Field(default_factory=list,
                            description="other names accepted for the same hand-in, tried in order "
                                        "(q1_weights.yaml for q1.py); .yaml/.json files load as data")
    pattern: str | None = Field(
        None, description="a regular expression on the file name (not its folder), tried after path and "
                          "also, for hand-ins students name freely (run_q71.py for run_q7_1_1.py); "
                          "matched in full and case-insensitively. Of several matches the shallowest "
                          "wins, then the shortest name, then the first in alphabetical order; the "
                          "report says which file was graded")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value):
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    watch: list[str] = Field(default_factory=list,
                             description="script: functions whose calls are recorded while it runs "
                                         "(arguments' sizes and a trajectory's inner products, files "
                                         "opened, optimizers created), read by probes with "
                                         "watched(module, name)")
    cell_time_s: float = Field(300.0, gt=0, description="notebook: wall time of one cell")
    time_s: float = Field(1800.0, gt=0, description="notebook: wall time of all its cells together")
    memory_mb: int | None = Field(None, ge=64, description="notebook: the kernel's memory budget "
                                                           "(default: the policy's)")

    @model_validator(mode="after")
    def _notebooks_run_as_notebooks(self):
        notebook = self.path.endswith(".ipynb")
        if notebook and self.run_as == "module":
            self.run_as = "notebook"
        elif notebook != (self.run_as == "notebook"):
            raise ValueError("run_as: notebook is for .ipynb files, and .ipynb files run as notebooks")
        return self

    def run_as_for(self, found: str) -> str:
        """How the file handed in runs: a notebook accepted in ``also`` (homework3.ipynb for
        homework3.py) runs as a notebook, whatever the main name's way."""
        return "notebook" if str(found).endswith(".ipynb") else self.run_as

    @property
    def names_text(self) -> str:
        return " or ".join([self.path, *self.also]) + (f" (or a name like /{self.pattern}/)"
                                                       if self.pattern else "")


class DataPlacement(BaseModel):
    """Dataset or fixture files put where the course's scripts look for them (``../data/`` from
    ``python/``). Only the files listed travel: a fixture's answers stay with the judge."""

    model_config = ConfigDict(extra="forbid")
    dataset: str | None = None
    fixture: str | None = Field(None, description="a fixture folder, relative to the rubric")
    files: list[str] = Field(description="files, or folders (an ImageFolder split) copied whole")
    next_to: str = Field(description="a key of `files`: placement is relative to that file's folder")
    into: str = Field("../data", description="folder, relative to next_to's folder")
    optional: bool = Field(False, description="skip quietly when the dataset is not installed "
                                              "(checks that need it say needs_data)")
    prefix: str = Field("", description="put before each file name, so two sets in one folder never collide")
    head: dict[str, int] = Field(
        default_factory=dict,
        description="keep only the first N items, so the sandbox gets what the course's code reads and "
                    "the rest (e.g. training images 20 000 on) stays held out for the judge: of these "
                    "entries of a file holding a dict of arrays (.pkl, .npz), or of the IDX (MNIST's "
                    "format) and .npy files of these names")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.dataset is None) == (self.fixture is None):
            raise ValueError("give exactly one of dataset or fixture")
        return self

    @model_validator(mode="after")
    def _head_names_listed_files(self):
        """A misspelt file name in ``head`` would hand the sandbox the whole file, held-out part
        included: where every file is cut by name (IDX, .npy), each name must be one listed."""
        names = {f.rsplit("/", 1)[-1] for f in self.files}
        if self.head and all(n.endswith("-ubyte") or n.endswith(".npy") for n in names):
            unknown = sorted(set(self.head) - names)
            if unknown:
                raise ValueError(f"head names files not listed in files: {', '.join(unknown)}")
        return self


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_s: float = Field(10.0, gt=0, description="wall time of one probe")
    import_time_s: float = Field(30.0, gt=0, description="wall time to import a student module")
    memory_mb: int = Field(2048, ge=64)
    question_s: float | None = Field(
        None, gt=0, description="hard wall-clock ceiling of one question, every probe and restart "
                                "included (default: derived from its probes' budgets)")
    grade_s: float | None = Field(
        None, gt=0, description="hard wall-clock ceiling of one whole grade (default: the sum of the "
                                "questions' ceilings); `autograde batch` stops a grade that outlives it")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed_imports: list[str] = Field(default_factory=list)
    shims: list[Literal["numpy_aliases", "matplotlib_agg", "skimage_compare_psnr"]] = Field(
        default_factory=list, description="deprecated, accepted so older rubrics load: every entry of the "
                                          "compatibility table (autograder/worker/compat.py) applies to every rubric")
    budget: Budget = Field(default_factory=Budget)
    limits: Limits = Field(default_factory=Limits)
    negative_total: bool = Field(False, description="let deductions take a grade below 0 (default: "
                                                    "the total is floored at 0)")


class LateTier(BaseModel):
    """Up to ``within_hours`` after the deadline (plus grace), the grade is multiplied by ``factor``."""

    model_config = ConfigDict(extra="forbid")
    within_hours: float = Field(gt=0)
    factor: float = Field(ge=0, le=1)


class LatePolicy(BaseModel):
    """The handout's late rule: a deadline with its time zone, tiers of factors, a factor after them.

    Handout 001's "50% off within two days, nothing after" is
    ``{deadline: ..., tiers: [{within_hours: 48, factor: 0.5}], after: 0}``."""

    model_config = ConfigDict(extra="forbid")
    deadline: AwareDatetime = Field(description="ISO 8601 with a UTC offset, e.g. 2023-03-19T23:59:00+05:30")
    grace_minutes: float = Field(0, ge=0, description="minutes after the deadline still counted on time")
    tiers: list[LateTier] = Field(default_factory=list, description="in increasing within_hours")
    after: float = Field(0.0, ge=0, le=1, description="factor once the last tier has passed")

    @model_validator(mode="after")
    def _increasing(self):
        hours = [t.within_hours for t in self.tiers]
        if hours != sorted(set(hours)):
            raise ValueError("tiers must have strictly increasing within_hours")
        return self

    def hours_late(self, submitted: datetime) -> float:
        """Hours after deadline + grace (0 or less: on time)."""
        due = self.deadline + timedelta(minutes=self.grace_minutes)
        return (submitted - due).total_seconds() / 3600

    def factor(self, submitted: datetime) -> float:
        late = self.hours_late(submitted)
        if late <= 0:
            return 1.0
        return next((t.factor for t in self.tiers if late <= t.within_hours), self.after)


LONG_RUNNING_S = 60.0


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Q: question numbering (Q2.1.1); T: handouts numbered by task (TDT4265's "Task 2a"); P: policies
    id: str = Field(pattern=r"^(Q|T|P)[0-9A-Za-z.\-]+$")
    title: str
    points: float = Field(ge=0)
    visibility: Literal["public", "hidden"] = "public"
    extra_credit: bool = False
    penalty: bool = Field(False, description="points are deducted when the checks fail; adds nothing")
    time_s: float | None = Field(None, gt=0)
    memory_mb: int | None = Field(None, ge=64)
    ceiling_s: float | None = Field(None, gt=0, description="hard wall-clock ceiling of this question "
                                                            "(default: the policy's question_s, or derived)")
    isolated: bool = Field(False, description="graded in a worker of its own, started for it and stopped "
                                              "after it: one worker keeps every script's globals, so a "
                                              "heavy script late in the rubric would pay for all before it")
    checks: list[AnyCheck] = Field(min_length=1)

    @property
    def is_manual(self) -> bool:
        return all(c.kind == "manual" for c in self.checks)

    @property
    def long_running(self) -> bool:
        """Runs a training script or a whole pipeline (a time budget above a minute)."""
        return (self.time_s or 0) > LONG_RUNNING_S


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignment: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    handout: str = ""
    stated_total: float | None = Field(None, description="the total printed on the handout")
    reference: str = Field(description="folder of the reference solution, relative to this file")
    starter: str | None = Field(None, description="folder of the blank starter code")
    mutants: str | None = Field(None, description="YAML list of known-wrong variants of the reference")
    variants: str | None = Field(None, description="YAML list of era variants: the reference as students of "
                                                   "other years wrote it, which must earn full marks")
    identify: list[str] = Field(default_factory=list, description="file names that mark a submission")
    data: list[DataPlacement] = Field(default_factory=list,
                                      description="dataset files the sandbox may read (never held-out labels)")
    datasets: list[str] = Field(default_factory=list,
                                description="datasets the checks use (autograder.data); reports say "
                                            "which copy, real or synthetic, a grade was computed on")
    files: dict[str, FileSpec]
    policy: Policy = Field(default_factory=Policy)
    late: LatePolicy | None = Field(None, description="late penalty applied by `autograde batch`")
    questions: list[Question]

    # set by the loader
    source: Path | None = Field(None, exclude=True)
    digest: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _consistent(self):
        ids = [q.id for q in self.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate question ids: {dupes}")
        from ..data import DATASETS

        unknown_data = sorted((set(self.datasets) | {d.dataset for d in self.data if d.dataset}) - set(DATASETS))
        if unknown_data:
            raise ValueError(f"unknown datasets {unknown_data}; known: {sorted(DATASETS)}")
        for key, spec in self.files.items():
            unknown_after = [a for a in spec.after if a not in self.files or a == key]
            if unknown_after:
                raise ValueError(f"files.{key}.after names {unknown_after}: not other keys of files")
        for placement in self.data:
            if placement.next_to not in self.files:
                raise ValueError(f"data.next_to {placement.next_to!r} is not a key of files")
            judged = DATASETS[placement.dataset].judge_files if placement.dataset else []
            leaked = [f for f in placement.files for j in judged if f == j or f.startswith(j.rstrip("/") + "/")
                      or j.startswith(f.rstrip("/") + "/")]
            if leaked:
                raise ValueError(f"data places {leaked}: the judge's own split never goes into a sandbox")
        modules = set(self.files)
        for q in self.questions:
            for check in q.checks:
                unknown_needs = set(check.needs_data) - set(DATASETS)
                if unknown_needs:
                    raise ValueError(f"{q.id}: needs_data {sorted(unknown_needs)} are not datasets")
                source = getattr(check, "source", None)
                if source is not None and source not in self.files:
                    raise ValueError(f"{q.id}: source {source!r} is not a key of files")
                probe = getattr(check, "probe", None)
                unknown = probe.unknown_names(modules) if probe else set()
                if unknown:
                    raise ValueError(f"{q.id}: names {sorted(unknown)} are neither inputs, files nor "
                                     "results of earlier steps")
        return self

    # -- derived ------------------------------------------------------------------------------
    def path(self, rel: str | None) -> Path | None:
        return None if rel is None else (self.source.parent / rel).resolve()

    @property
    def total_points(self) -> float:
        return sum(q.points for q in self.questions if not (q.extra_credit or q.penalty))

    @property
    def extra_points(self) -> float:
        return sum(q.points for q in self.questions if q.extra_credit and not q.penalty)

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)

    # -- wall-clock ceilings: nothing a submission does can make a grade longer than these -------
    def question_ceiling_s(self, question: Question) -> float:
        """The longest a question may take: each probe case may need an import and its run (a
        worker restarted after a time-out imports again), plus the longest notebook's budget (the
        first probe of a notebook executes it), plus a minute of slack for the judge."""
        if question.ceiling_s or self.policy.budget.question_s:
            return float(question.ceiling_s or self.policy.budget.question_s)
        budget = self.policy.budget
        per_case = (question.time_s or budget.time_s) + budget.import_time_s
        cases = sum(getattr(c, "cases", 1) for c in question.checks if c.kind != "manual")
        notebooks = max((f.time_s for f in self.files.values() if f.run_as == "notebook"
                         or any(a.endswith(".ipynb") for a in f.also)), default=0.0)
        return cases * per_case + notebooks + 60.0

    @property
    def grade_ceiling_s(self) -> float:
        """The longest one whole grade may take (the policy's grade_s, or the questions' sum)."""
        if self.policy.budget.grade_s:
            return float(self.policy.budget.grade_s)
        return sum(self.question_ceiling_s(q) for q in self.questions)


FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster than pure Python


def read_yaml(path: Path, text: str | None = None) -> dict:
    """A rubric file's mapping, unvalidated (what assignment detection needs from every rubric)."""
    try:
        text = path.read_text() if text is None else text
        data = yaml.load(text, Loader=FAST_LOADER)
    except OSError as exc:
        raise RubricError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RubricError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RubricError(f"{path}: a rubric is a YAML mapping")
    return data


def load(path: str | Path) -> Rubric:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RubricError(f"{path}: cannot read ({exc.strerror})") from None
    data = read_yaml(path, text)
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:  # the node tree (line numbers) is parsed only to explain a problem
        raise RubricError(_explain(path, exc, data, yaml.compose(text, Loader=FAST_LOADER))) from None
    rubric.source = path.resolve()
    rubric.digest = hashlib.sha256(text.encode()).hexdigest()
    named = [(key, getattr(rubric, key)) for key in ("reference", "starter", "mutants", "variants")]
    named += [(f"files.{key}.provided", spec.provided) for key, spec in rubric.files.items()]
    named += [(f"data[{i}].fixture", p.fixture) for i, p in enumerate(rubric.data)]
    for key, rel in named:
        if rel is not None and not rubric.path(rel).exists():
            raise RubricError(f"{path}: {key}: {rel!r} is not there ({rubric.path(rel)}); paths in a rubric "
                              "are relative to the folder the rubric file is in")
    for placement in rubric.data:
        absent = [f for f in placement.files if placement.fixture
                  and not (rubric.path(placement.fixture) / f).is_file()]
        if absent:
            raise RubricError(f"{path}: data placement lists {absent}, not found in {placement.fixture}")
    return rubric


def _explain(path: Path, exc: ValidationError, data, root) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s)"]
    for err in exc.errors()[:20]:
        loc = _without_union_tags(err["loc"])
        lines.append(f"  {_dotted(loc, data)} (line {_line_of(root, loc)}): {err['msg']}")
    return "\n".join(lines)


def _without_union_tags(loc) -> list:
    """Pydantic puts the discriminator (``checks.0.value.rtol``) and validator names in ``loc``."""
    kinds = _check_kinds()
    out = []
    for part in loc:
        after_check = len(out) >= 2 and out[-2] == "checks" and isinstance(out[-1], int)
        if (after_check and part in kinds) or (isinstance(part, str) and part.startswith("function-")):
            continue
        out.append(part)
    return out


def _check_kinds() -> set[str]:
    from ..checks import REGISTRY
    return set(REGISTRY)


def _dotted(loc, data) -> str:
    """``questions[3] (Q2.2.2).checks[0].rtol``: the path a human can find."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "id" in node:
                out += f" ({node['id']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def _line_of(node, loc) -> int:
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == part]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def find_specs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if re.match(r"^[a-z0-9\-]+\.yaml$", p.name))
