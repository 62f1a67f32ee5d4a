"""``autograde kit SPEC -o DIR``: write what students get to check their work before the deadline.

    DIR/<assignment>/
      rubric.yaml          the rubric restricted to its public checks (:mod:`.restrict`)
      fixtures/...         the public fixture files those checks read
      provided/...         course files that replace a student's copy, unless they lie in the solution
      reference-replies/   replies.json + replies.npz: the reference's answers to the public
                           checks' requests under the kit's seed (:mod:`.recording`)
      kit.json             seed, grader version, source rubric hash, long-running questions
      README.txt           for students

The replies are recorded by grading the reference solution under the restricted rubric, so a
hidden check never sends a request and none of its answers can be in the kit.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import __version__
from ..grading import GradeReport, Grader, ReferenceSolution
from ..rubric.schema import Rubric, load
from .public_files import PublicFiles
from .recording import RecordingReference
from .restrict import REPLIES_FOLDER, restrict

KIT_SEED = 16_052_024  # one seed for every student: the TA's grade draws per-submission inputs
RUBRIC_FILE = "rubric.yaml"
KIT_FILE = "kit.json"
FORMAT = 1


@dataclass
class BuiltKit:
    folder: Path
    reference: GradeReport   # the reference solution graded through the kit, replies recorded
    notes: list[str]         # what stayed with the TA or shipped specially, for the instructor
    replies: int

    @property
    def reference_short(self) -> list[str]:
        """Public auto-graded questions where the reference itself fell short (a rubric problem)."""
        return [f"{q.id} {q.score:g}/{q.auto_max:g}" for q in self.reference.questions
                if not q.manual and not q.penalty and q.score < q.auto_max]


def build_kit(spec: str | Path, out: str | Path, seed: int = KIT_SEED) -> BuiltKit:
    rubric = load(spec)
    folder = Path(out) / rubric.assignment
    if folder.exists():
        if not (folder / KIT_FILE).is_file():
            raise FileExistsError(f"{folder} exists and is not a kit; choose another -o")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    restricted = restrict(rubric, PublicFiles([rubric.path(rubric.reference)]))
    for source, target in restricted.files.items():
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / target)
    write_rubric(restricted.rubric, folder / RUBRIC_FILE, rubric)
    (folder / REPLIES_FOLDER).mkdir()  # its reference: filled once the grade below has recorded it
    kit_rubric = load(folder / RUBRIC_FILE)

    with tempfile.TemporaryDirectory(prefix="autograde-kit-") as tmp:
        recorder = RecordingReference(ReferenceSolution(rubric, Path(tmp) / "reference"))
        with Grader(kit_rubric, sandboxed=False, reference=recorder) as grader:
            report = grader.grade(rubric.path(rubric.reference), seed=seed, trusted=True)
    recorder.recording.save(folder / REPLIES_FOLDER)
    built = BuiltKit(folder, report, restricted.notes, len(recorder.recording.replies))

    meta = {"format": FORMAT, "assignment": rubric.assignment, "title": rubric.title, "seed": seed,
            "grader_version": __version__, "source_rubric_sha256": rubric.digest,
            "long_running": restricted.long_running, "replies": built.replies,
            "reference_full_marks": not built.reference_short}
    (folder / KIT_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    (folder / "README.txt").write_text(readme(kit_rubric, meta))
    return built


def write_rubric(rubric: Rubric, path: Path, source: Rubric) -> None:
    data = rubric.model_dump(mode="json", by_alias=True, exclude_none=True)
    for question in data["questions"]:  # a check reads best with its kind first
        question["checks"] = [{"kind": c.pop("kind"), **c} for c in question["checks"]]
    header = (f"# Student self-check rubric for {source.assignment}, made by `autograde kit` from "
              f"{source.source.name} (sha256 {source.digest[:16]}).\n"
              "# Public checks only; hidden questions are listed with their points. Do not edit.\n")
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))


def readme(rubric: Rubric, meta: dict) -> str:
    hidden = [q for q in rubric.questions if q.visibility == "hidden"]
    return f"""Self-check kit: {rubric.title}

Check your homework against the public checks before you hand it in.

1. Install the course's grader, as the course says (the `autograde` command, version {meta['grader_version']}).
2. Put this folder into your homework folder and name it .autograde-kit
   (or anywhere above it; or set AUTOGRADE_KIT=/path/to/this/folder; or pass --kit FOLDER).
3. In your homework folder run:

       autograde check

   or `autograde check path/to/homework --kit path/to/this/folder`.

You see the score and feedback of every public check, exactly as the TA's grade shows them for
the same inputs. The TA's grade draws new random inputs for your submission, so hard-coding the
inputs or answers of this kit earns nothing.

Not checked here, and listed so you know:
* hidden checks ({len(hidden)} hidden question(s) and some hidden checks of public questions),
  graded after the deadline; you see their points;
* long-running questions (training scripts, whole pipelines), run when the TA grades;
* checks that need the reference solution on your own results (e.g. scoring the weights your
  training produced), marked "checked when the TA grades";
* write-ups and plots, graded by a TA.

Your code runs on your own machine with the isolation layers it has (no root, no bubblewrap is
fine: the check says which layers are missing); the TA's run uses the full sandbox.

Files: rubric.yaml (the public checks), fixtures/ (public files they read), reference-replies/
(the reference solution's answers to the public checks, as data), kit.json (seed and versions).
"""
