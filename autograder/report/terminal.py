"""The per-question table a TA or student sees in the terminal (rich).

What a submission controls (its path, feedback, notes) goes in through :func:`.text.markup`: shown,
never parsed as console markup (``[/batch, classes]`` would raise) nor as control characters.
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..grading import GradeReport
from .text import markup
from .writers import _fmt, summary_line


def print_report(report: GradeReport, console: Console | None = None, show_manual: bool = False,
                 show_layers: bool = True, elsewhere: dict[str, float] | None = None,
                 summary: str | None = None) -> None:
    """``elsewhere`` names points of a question checked by another run (the TA's, for a student's
    self-check): they count in the question's denominator and are said, not hidden."""
    console = console or Console()
    elsewhere = elsewhere or {}
    table = Table(title=f"{report.rubric.assignment} — {markup(report.submission)}", title_justify="left",
                  expand=True, show_lines=True)
    table.add_column("question", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("title and feedback", overflow="fold", ratio=1)
    for q in report.questions:
        if q.manual:
            if show_manual:
                table.add_row(q.id, f"– / {_fmt(q.points)}", "[dim]graded by a TA[/dim]")
            continue
        later = elsewhere.get(q.id, 0.0)
        full = q.score >= q.auto_max and not later
        style = "green" if full else "yellow" if q.score > 0 else "red"
        if q.penalty:
            style = "green" if q.score == 0 else "red"
        score = f"[{style}]{_fmt(q.score)} / {_fmt(q.auto_max + later)}[/{style}]"
        lines = [f"• {markup(line)}" for line in q.feedback]
        if later:
            lines.append(f"• {_fmt(later)} points checked when the TA grades (listed below)")
        passed = "all checks run here passed" if later else "all checks passed"
        feedback = "\n".join(lines) if q.feedback else "\n".join([f"[green]{passed}[/green]", *lines])
        table.add_row(q.id, score, f"[bold]{q.title}[/bold]\n{feedback}")
    console.print(table)
    for note in report.intake_problems:
        console.print(f"[yellow]note:[/yellow] {markup(note)}")
    missing = report.provenance.get("sandbox", {}).get("missing", {}) if show_layers else {}
    for name, why in missing.items():
        console.print(f"[yellow]sandbox layer missing ({name}):[/yellow] {markup(why)}")
    console.print(f"[bold]{summary or summary_line(report)}[/bold]")
