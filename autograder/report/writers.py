"""Write a grade: Gradescope's ``results.json``, a readable ``report.md``, and ``provenance.json``.

``results.json`` follows Gradescope's autograder specification, so it can be uploaded as is:
top-level ``score``/``execution_time``/``output``/``tests``, each test with ``name``, ``number``
(the question id), ``score``, ``max_score``, ``output`` and ``visibility``. Manual questions are not
tests there (a TA grades them in Gradescope); they are listed under ``extra_data.manual``.

Every string that can come from a submission (file names, notes, feedback, intake problems) goes
through :mod:`.text` here, so none of it can forge a table row or a line of our own.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..grading import GradeReport, QuestionResult
from ..worker.compat import sentence as compat_sentence
from .text import markdown, visible

VISIBILITY = {"public": "visible", "hidden": "after_published"}


def _fmt(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def results_json(report: GradeReport) -> dict:
    tests = []
    for q in report.questions:
        if q.manual:
            continue
        hidden = [c for c in q.checks if c.hidden and not c.pending]
        if q.penalty or not hidden or len(hidden) == len([c for c in q.checks if not c.pending]):
            tests.append(_test(q, q.id, q.title, q.score, q.auto_max, q.feedback,
                               "hidden" if hidden else q.visibility))
            continue
        # a question with checks of both kinds: students see the public ones' test now, and the
        # hidden ones' (their score, feedback and inputs) only once grades are published
        for is_hidden, title in ((False, q.title), (True, f"{q.title}: checks shown after grades are published")):
            score, most, feedback = q.part(is_hidden)
            tests.append(_test(q, q.id, title, score, most, feedback, "hidden" if is_hidden else "public"))
    manual = [{"number": q.id, "name": q.title, "max_score": q.points, "extra_credit": q.extra_credit,
               "notes": [visible(n) for n in q.ta_notes], "figures": [rel for _, rel in attachment_paths(q)]}
              for q in report.questions if q.manual]
    return {
        "score": report.score,
        "execution_time": report.provenance.get("timing", {}).get("total_s"),
        "output": "\n".join([summary_line(report), *map(visible, report.intake_problems + compat_lines(report))]),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"manual": manual, "provenance": report.provenance},
    }


def _test(q: QuestionResult, number: str, title: str, score: float, most: float, feedback: list[str],
          visibility: str) -> dict:
    return {"name": f"{number} {title}", "number": number, "score": score, "max_score": most,
            "output": "\n".join(map(visible, q.notes + (feedback or ["All checks passed."]))),
            "visibility": VISIBILITY[visibility], "tags": _tags(q)}


def compat_lines(report: GradeReport) -> list[str]:
    """One line per old library API the student's code called and the grader bridged (the old call
    and where it came from were reported by the sandbox: escaped like any student text)."""
    return [compat_sentence(c) for c in report.compat]


def _tags(q: QuestionResult) -> list[str]:
    return sorted({c.kind for c in q.checks} | ({"extra-credit"} if q.extra_credit else set())
                  | ({"penalty"} if q.penalty else set()))


def summary_line(report: GradeReport) -> str:
    r = report.rubric
    return (f"{r.assignment}: {_fmt(report.score)} / {_fmt(report.auto_max)} auto-graded points; "
            f"{_fmt(report.pending_points)} points graded by a TA; handout total {_fmt(r.total_points)}"
            + (f" + {_fmt(r.extra_points)} extra credit" if r.extra_points else ""))


def report_markdown(report: GradeReport) -> str:
    r, p = report.rubric, report.provenance
    lines = [f"# {r.title}", "", f"Submission: {markdown(report.submission)}  ", summary_line(report), ""]
    about = report.intake_problems + compat_lines(report)
    if about:
        lines += ["## About the submission", ""] + [f"* {markdown(m)}" for m in about] + [""]
    lines += ["## Questions", "", "| question | score | time | result |", "|---|---:|---:|---|"]
    for q in report.questions:
        if q.manual:
            result = "graded by a TA"
            score = f"– / {_fmt(q.points)}"
        else:
            result = "passed" if not q.feedback else "see below"
            score = f"{_fmt(q.score)} / {_fmt(q.auto_max)}"
        flags = " (extra credit)" if q.extra_credit else " (deduction)" if q.penalty else ""
        lines.append(f"| {q.id} {q.title}{flags} | {score} | {q.seconds:.2f} s | {result} |")
    lines += ["", "## Feedback", ""]
    for q in report.questions:
        if q.manual or not (q.feedback or q.notes):
            continue
        lines += [f"### {q.id} {q.title} ({_fmt(q.score)} / {_fmt(q.auto_max)})", ""]
        lines += [f"* {markdown(msg)}" for msg in q.notes + q.feedback] + [""]
    ta = [q for q in report.questions if q.ta_notes or q.attachments]
    if ta:
        lines += ["## For the TA", ""]
        for q in ta:
            lines += [f"### {q.id} {q.title} ({_fmt(q.points)} points)", ""]
            lines += [f"* {markdown(note)}" for note in q.ta_notes] + [""]
            lines += [f"![{markdown(a.caption)}]({path})  " for a, path in attachment_paths(q)] + [""]
    if report.notebooks:
        lines += notebook_sections(report)
    sandbox = p.get("sandbox", {})
    if p.get("checks_not_run"):
        lines += ["## Checks not run", ""] + [f"* {line}" for line in p["checks_not_run"]] + [""]
    lines += ["## Provenance", "",
              f"* grader {p.get('grader_version')}, rubric `{p['rubric']['file']}` sha256 `{p['rubric']['sha256'][:16]}`",
              f"* submission sha256 `{(p.get('submission_sha256') or '-')[:16]}`, seed `{p.get('seed')}`",
              f"* Python {p.get('python')}; " + ", ".join(f"{k} {v}" for k, v in p.get("libraries", {}).items()),
              f"* sandbox layers active: {', '.join(sandbox.get('active', [])) or 'none'}"]
    lines += [f"* data: {d['dataset']} ({d['origin']}): {d['source']}" for d in p.get("data", [])]
    for name, why in sandbox.get("missing", {}).items():
        lines.append(f"* **missing layer {name}**: {why}")
    timing = p.get("timing", {})
    if timing:
        lines.append(f"* wall time {timing.get('total_s')} s, of which sandbox start-up "
                     f"{timing.get('sandbox_startup_s', 0)} s ({timing.get('worker_starts', 0)} worker starts"
                     + ("; one more started before the grade" if timing.get("worker_started_before") else "") + ")")
    return "\n".join(lines) + "\n"


def notebook_sections(report: GradeReport) -> list[str]:
    """Each executed notebook for the TA: its cells' status, what failed and why, and its figures."""
    lines = ["## Notebooks", ""]
    for run in report.notebooks:
        lines += [f"### {markdown(run.path)}", "",
                  f"{run.summary()} (kernel start and stop {run.overhead_seconds:.2f} s). "
                  f"Executed copy: {markdown(notebook_copy_path(run))}."
                  + (f" **{markdown(run.problem)}.**" if run.problem else ""), ""]
        if run.failures:
            lines += ["| cell | status | time | error | first line |", "|---|---|---:|---|---|"]
            for c in run.failures:
                first = next((line for line in c.source.splitlines() if line.strip()), "").strip()[:60]
                error = c.error.splitlines()[0][:160] if c.error else ""
                lines.append(f"| {c.number} | {c.status} | {c.seconds:.1f} s | {markdown(error)} | {markdown(first)} |")
            lines.append("")
        lines += [f"![{markdown(a.caption)}]({path})  " for a, path in notebook_figure_paths(run)] + [""]
    return lines


def notebook_copy_path(run) -> str:
    return f"notebooks/{Path(run.path).name}"


def notebook_figure_paths(run) -> list[tuple]:
    stem = Path(run.path).stem
    return [(a, f"figures/{stem}-{i + 1}.png") for i, a in enumerate(run.figures)]


def attachment_paths(q: QuestionResult) -> list[tuple]:
    """Where each of a question's attachments is written, relative to the report folder."""
    stem = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in q.id)
    return [(a, f"figures/{stem}-{i + 1}{Path(a.name).suffix or '.png'}") for i, a in enumerate(q.attachments)]


def write_reports(report: GradeReport, out: Path, release: bool = True) -> dict[str, Path]:
    """results.json, report.md, provenance.json, report.html and the figures under ``out``;
    ``release=False`` keeps hidden questions' feedback out of report.html."""
    from .html import write_report_html  # html builds on this module's helpers

    out.mkdir(parents=True, exist_ok=True)
    for q in report.questions:
        for attachment, rel in attachment_paths(q):
            (out / rel).parent.mkdir(exist_ok=True)
            (out / rel).write_bytes(attachment.data)
    for run in report.notebooks:
        for attachment, rel in notebook_figure_paths(run):
            (out / rel).parent.mkdir(exist_ok=True)
            (out / rel).write_bytes(attachment.data)
        if run.executed is not None:
            import nbformat

            (out / "notebooks").mkdir(exist_ok=True)
            nbformat.write(run.executed, out / notebook_copy_path(run))
    paths = {"results": out / "results.json", "report": out / "report.md", "provenance": out / "provenance.json"}
    paths["results"].write_text(json.dumps(results_json(report), indent=2))
    paths["report"].write_text(report_markdown(report))
    paths["provenance"].write_text(json.dumps(report.provenance, indent=2))
    paths["html"] = write_report_html(report, out, release=release)
    return paths
