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
                 show_layers: bool = True) -> None:
    console = console or Console()
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
        full = q.score >= q.auto_max
        style = "green" if full else "yellow" if q.score > 0 else "red"
        if q.penalty:
            style = "green" if q.score == 0 else "red"
        score = f"[{style}]{_fmt(q.score)} / {_fmt(q.auto_max)}[/{style}]"
        feedback = ("\n".join(f"• {markup(line)}" for line in q.feedback) if q.feedback
                    else "[green]all checks passed[/green]")
        table.add_row(q.id, score, f"[bold]{q.title}[/bold]\n{feedback}")
    console.print(table)
    for note in report.intake_problems:
        console.print(f"[yellow]note:[/yellow] {markup(note)}")
    missing = report.provenance.get("sandbox", {}).get("missing", {}) if show_layers else {}
    for name, why in missing.items():
        console.print(f"[yellow]sandbox layer missing ({name}):[/yellow] {markup(why)}")
    console.print(f"[bold]{summary_line(report)}[/bold]")
