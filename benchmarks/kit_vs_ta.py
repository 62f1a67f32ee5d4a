"""`autograde check` against the TA's grade with the kit's seed, check by check, for the blank starter
and every mutant of a rubric.

    python benchmarks/kit_vs_ta.py specs/cmu-hw5.yaml DIST     # DIST: where `autograde kit` wrote

Prints each submission's kit score and TA score on the public questions (the TA's also counts hidden
checks of public questions and what the kit leaves pending), the checks whose fractions differ
(should be none) and how many checks the kit left pending ("checked when the TA grades").
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path


from autograder.grading import Grader
from autograder.kit.build import KIT_SEED
from autograder.kit.check import Kit, check
from autograder.rubric.schema import load
from autograder.validation import apply_mutant, load_mutants


def compare(kit_report, ta_report, questions) -> tuple[list, list]:
    """Checks whose fractions differ, and checks the kit left pending (placeholders aside)."""
    differ, pending = [], []
    for qid in sorted(questions):
        for mine, theirs in zip(kit_report.question(qid).checks, ta_report.question(qid).checks, strict=True):
            if mine.pending:
                if mine.kind != "manual":
                    pending.append(f"{qid} {mine.label}")
            elif (mine.label, mine.fraction) != (theirs.label, theirs.fraction):
                differ.append((qid, mine.label, theirs.fraction, mine.fraction))
    return differ, pending


def main(spec: str, dist: str) -> None:
    rubric = load(spec)
    kit = Kit.open(Path(dist) / rubric.assignment)
    public = {q.id for q in kit.rubric.questions if q.visibility == "public" and not q.is_manual}
    agree = pending_total = 0
    with Grader(rubric) as ta, tempfile.TemporaryDirectory() as tmp:
        submissions = [("starter", rubric.path(rubric.starter))]
        for i, mutant in enumerate(load_mutants(rubric)):
            submissions.append((mutant.name, apply_mutant(rubric.path(rubric.reference), mutant, Path(tmp) / str(i))))
        for name, folder in submissions:
            by_ta = ta.grade(folder, seed=KIT_SEED, only=public)
            mine = check(folder, kit)
            differ, pending = compare(mine, by_ta, public)
            agree += not differ
            pending_total += len(pending)
            print(f"{name[:50]:50} kit {mine.score:7.3f} TA(public) {by_ta.score:7.3f} "
                  f"differing checks: {differ or 'none'}; pending: {len(pending)}")
    print(f"{agree}/{len(submissions)} submissions: every non-pending public check equal; "
          f"{pending_total} check(s) pending in all")


if __name__ == "__main__":
    main(*sys.argv[1:3])
