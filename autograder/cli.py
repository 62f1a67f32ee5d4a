"""Command line: ``autograde SUBMISSION`` (short for ``autograde grade SUBMISSION``) and one
sub-command per job (``autograde help`` lists them).

    autograde alice.zip --spec specs/cmu-hw5.yaml --out reports/alice
    autograde validate specs/cmu-hw5.yaml --full
    autograde batch submissions/ --spec specs/cmu-hw5.yaml -j 2 --out reports/hw5
    autograde kit specs/cmu-hw5.yaml -o dist      # instructor: the students' self-check kit
    autograde check                               # student: in the homework folder
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from . import __version__
from .intake import IntakeError, find, stage
from .report.text import markup
from .kit import KitError
from .rubric.errors import RubricError
from .sandbox.layers import GraderBroken, SandboxUnavailable, detect

COMMANDS = ("grade", "validate", "demo", "batch", "kit", "check", "data", "fixtures", "layers", "help")
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_specs_dir() -> Path:
    env = os.environ.get("AUTOGRADE_SPECS")
    if env:
        return Path(env)
    for candidate in (Path.cwd() / "specs", REPO_ROOT / "specs"):
        if candidate.is_dir():
            return candidate
    return Path.cwd() / "specs"


def identify_scores(submission: Path, specs_dir: Path, console: Console | None = None) -> dict[Path, int]:
    """How many of each rubric's ``identify`` files the submission holds (read from the YAML alone: the
    rubrics are not validated here). A rubric that does not load is left out with a warning: one
    broken file must not stop every grade."""
    from .rubric.schema import find_specs, read_yaml

    identify = {}
    for path in find_specs(specs_dir):
        try:
            names = read_yaml(path).get("identify") or []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise RubricError(f"{path}: identify: a list of file names")
            identify[path.resolve()] = names
        except RubricError as exc:
            if console is not None:
                console.print(f"[yellow]warning:[/yellow] {escape(path.name)} is left out of assignment "
                              f"detection: {escape(str(exc).splitlines()[0])}")
    if not identify:
        raise RubricError(f"no rubrics in {specs_dir}; pass --spec")
    with tempfile.TemporaryDirectory() as tmp:
        staged = stage(submission, Path(tmp) / "s", {})
        return {path: sum(find(staged.root, name) is not None for name in names) for path, names in identify.items()}


def wrong_assignment(submission: Path, spec: Path, specs_dir: Path) -> str:
    """Why this submission may be another assignment's (graded with ``--spec``), or ""."""
    try:
        scores = identify_scores(submission, specs_dir)
    except (RubricError, IntakeError):
        return ""
    from .rubric.schema import load

    mine = next((n for p, n in scores.items() if Path(p).resolve() == spec.resolve()), None)
    if mine is None:
        return ""
    better = [Path(p).name for p, n in scores.items() if n > mine]
    if better:
        return f"its files match {', '.join(better)} better than {spec.name}: is it that assignment's?"
    if mine == 0:
        return (f"none of the files {spec.name} names ({', '.join(load(spec).identify)}) is in the "
                "submission: is it this assignment's?")
    return ""


def identify_spec(submission: Path, specs_dir: Path, console: Console | None = None) -> Path:
    """The one spec whose ``identify`` files the submission has most of; ambiguity is an error."""
    scores = identify_scores(submission, specs_dir, console)
    best = max(scores.values())
    winners = [p for p, n in scores.items() if n == best]
    if best == 0 or len(winners) > 1:
        names = ", ".join(p.name for p in (winners if best else scores))
        raise RubricError(f"cannot tell which assignment {submission.name} is ({names}); pass --spec")
    return winners[0]


def grade_command(args, console: Console) -> int:
    from .grading import Grader
    from .report.terminal import print_report
    from .report.writers import write_reports

    submission = Path(args.submission)
    if not submission.exists():
        raise IntakeError(f"{submission}: no such file or folder")
    spec = Path(args.spec) if args.spec else identify_spec(submission, Path(args.specs_dir), console)
    if (spec.parent / "kit.json").is_file():  # its reference is a recording: only `check` replays it
        raise RubricError(f"{spec} is a student kit's rubric: run autograde check {submission} --kit {spec.parent}")
    out = Path(args.out) if args.out else Path("reports") / _stem(submission)
    doubt = wrong_assignment(submission, spec, Path(args.specs_dir)) if args.spec else ""
    with Grader(spec, sandboxed=not args.no_sandbox, warm=False) as grader:
        report = grader.grade(submission, seed=args.seed, only=set(args.questions) if args.questions else None)
    if doubt:
        report.intake_problems.insert(0, f"wrong assignment? {doubt}")
    paths = write_reports(report, out)
    print_report(report, console, show_manual=args.show_manual)
    console.print(f"reports: {paths['results']}, {paths['report']}")
    return 0


def _stem(path: Path) -> str:
    return path.name[:-4] if path.name.endswith(".zip") else path.name


def validate_command(args, console: Console) -> int:
    from .validation import validate

    status = 0
    for spec in args.specs:
        result = validate(spec, full=args.full)
        for f in result.findings:
            mark = "[green]ok[/green]  " if f.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {Path(spec).name}: {f.subject}" + (f"\n      {f.detail}" if f.detail else ""))
        status |= 0 if result.ok else 1
    return status


def demo_command(args, console: Console) -> int:
    """Grade the bundled sample submissions of every rubric (what the README's first line runs)."""
    from .grading import Grader
    from .report.terminal import print_report
    from .report.writers import write_reports

    from .rubric.schema import find_specs, load

    samples_root = Path(args.specs_dir).resolve().parent / "fixtures" / "submissions"
    out_root = Path(args.out or "reports/demo")
    for spec_path in find_specs(Path(args.specs_dir)):
        rubric = load(spec_path)
        folder = samples_root / rubric.assignment
        samples = sorted(p for p in folder.iterdir() if p.is_dir() or p.suffix == ".zip") if folder.is_dir() else []
        if not samples:
            continue
        with Grader(rubric) as grader:
            for sample in samples:
                report = grader.grade(sample)
                write_reports(report, out_root / rubric.assignment / _stem(sample))
                print_report(report, console)
                console.print()
    console.print(f"reports written under {out_root}/")
    return 0


def batch_command(args, console: Console) -> int:
    """Grade every zip or folder in a directory; write per-student reports and the gradebooks."""
    from .batch import run_batch
    from .batch.discovery import DiscoveryError
    from .batch.timestamps import TimesError

    if args.jobs is not None and args.jobs < 1:
        raise IntakeError("-j must be at least 1")
    if args.student_timeout is not None and args.student_timeout <= 0:
        raise IntakeError("--student-timeout must be a positive number of seconds")
    try:
        result = run_batch(Path(args.submissions), Path(args.spec), Path(args.out) if args.out else None,
                           jobs=args.jobs, id_pattern=args.id_pattern, times=args.times, force=args.force,
                           scheduler=args.scheduler, sandboxed=not args.no_sandbox,
                           similarity_threshold=None if args.no_similarity else args.similarity_threshold,
                           console=console, student_timeout=args.student_timeout, only=args.questions)
    except (DiscoveryError, TimesError) as exc:
        raise IntakeError(str(exc)) from None
    rate = len(result.graded) / result.seconds if result.graded and result.seconds else 0
    console.print(f"{len(result.rows)} students: {len(result.graded)} graded now ({rate:.2f}/s), "
                  f"{len(result.skipped)} unchanged since the last run, {len(result.errors)} errors, "
                  f"{result.seconds:.1f} s")
    for row in result.rows:
        if row.summary.get("status") == "error":
            console.print(f"[red]error[/red] {markup(row.student.id)}: {markup(str(row.summary.get('message')))}")
    for note in result.notes:
        console.print(f"[yellow]note[/yellow] {markup(note)}")
    for name, path in result.paths.items():
        console.print(f"{name}: {path}")
    return 1 if result.errors else 0


def data_command(args, console: Console) -> int:
    """``autograde data`` lists every dataset; ``autograde data make NAME|all`` writes it."""
    from rich.table import Table

    from . import data

    if args.action == "add":
        if len(args.names) != 2:
            raise IntakeError("usage: autograde data add DATASET FOLDER")
        found = data.add(args.names[0], Path(args.names[1]), args.data_dir)
        console.print(f"[green]{found.name}[/green]: {found.origin}, {found.source} -> {found.folder}")
    if args.action == "make":
        makeable = [n for n, d in data.DATASETS.items() if not d.only_real]  # not the course's own photos
        names = makeable if args.names in ([], ["all"]) else args.names
        unknown = [name for name in names if name not in data.DATASETS]
        if unknown:
            raise IntakeError(f"unknown dataset {unknown[0]!r}; known: {', '.join(data.DATASETS)}")
        for found in _resolve_all(names, args.data_dir, args.seed):
            console.print(f"[green]{found.name}[/green]: {found.origin}, {found.source} -> {found.folder}")
    table = Table(title=f"datasets in {data.data_root(args.data_dir)}", title_justify="left")
    for column in ("dataset", "origin", "where", "size", "bytes"):
        table.add_column(column, overflow="fold")
    differ = []
    for dataset, found, note in data.status(args.data_dir):
        if found:
            verdict = found.verdict()
            differ += [dataset.name] if verdict.differs and found.origin == "synthetic" else []
            style = "red" if verdict.differs else "green" if verdict.state.startswith("matches") else "dim"
            table.add_row(dataset.name, found.origin, f"{found.folder}\n{found.source}",
                          f"{found.size_bytes / 1e6:.1f} MB", f"[{style}]{markup(verdict.describe())}[/{style}]")
        else:
            table.add_row(dataset.name, "-", note, "-", "-")
    console.print(table)
    if differ and args.action == "make":  # made here, yet not the calibrated bytes: the thresholds do not hold
        console.print(f"[red]{', '.join(differ)}: made here, yet not the bytes the rubrics' thresholds were "
                      "calibrated on (library versions differ? see autograder/data/manifest.py)[/red]")
        return 1
    return 0


def _resolve_all(names: list[str], data_dir, seed):
    """Each dataset found or made, one process per core: each is made from its own seed into its
    own folder, so making them side by side gives the same bytes as one after another."""
    import functools
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from . import data

    resolve = functools.partial(data.resolve, root=data_dir, seed=seed)
    if len(names) < 2 or (os.cpu_count() or 1) < 2:
        return [resolve(name) for name in names]
    with ProcessPoolExecutor(min(len(names), os.cpu_count()), mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(resolve, names))


def fixtures_command(args, console: Console) -> int:
    from . import fixtures

    root = Path(args.fixtures_dir)
    if args.action == "build":
        manifest = fixtures.build(root, args.names or None)
        console.print(f"rebuilt; {sum(len(s.files) for s in manifest.sets)} files in the manifest")
    problems = fixtures.verify(root)
    for p in problems:
        console.print(f"[red]FAIL[/red] {p.fixture}: {p.message}")
    if not problems:
        sets = fixtures.load(root).sets
        console.print(f"[green]ok[/green] {len(sets)} fixture sets, {sum(len(s.files) for s in sets)} files "
                      "match the manifest")
    return 1 if problems else 0


def kit_command(args, console: Console) -> int:
    """Write the students' self-check kit for each rubric given."""
    from .kit.build import KIT_SEED, build_kit

    status = 0
    for spec in args.specs:
        built = build_kit(spec, Path(args.out), seed=KIT_SEED if args.seed is None else args.seed)
        console.print(f"[green]kit[/green] {built.folder}: {built.replies} recorded reference replies")
        for note in built.notes:
            console.print(f"  {note}")
        if built.reference_short:
            status = 1
            console.print("[red]FAIL[/red] the reference solution falls short through the kit: "
                          + ", ".join(built.reference_short))
    return status


def check_command(args, console: Console) -> int:
    """Grade the homework in FOLDER with the self-check kit (public checks, recorded reference)."""
    from .kit.check import check, find_kit, print_check
    from .report.writers import write_reports

    homework = Path(args.folder)
    if not homework.exists():
        raise IntakeError(f"{homework}: no such file or folder")
    kit = find_kit(homework, args.kit)
    report = check(homework, kit)
    print_check(report, kit, console)
    if args.out:
        paths = write_reports(report, Path(args.out))
        console.print(f"reports: {paths['results']}, {paths['report']}")
    return 0


def layers_command(args, console: Console) -> int:
    layers = detect()
    for name in sorted(layers.available):
        console.print(f"[green]active[/green]  {name}")
    for name, why in layers.missing.items():
        console.print(f"[yellow]missing[/yellow] {name}: {why}")
    return 0


DESCRIPTION = "Grade neural-network homework: one submission, a whole class, or your own work with a kit."
EPILOG = """short form: autograde SUBMISSION [options] is autograde grade SUBMISSION [options]
(a submission folder named like a command: autograde grade check, or autograde ./check)

examples:
  autograde alice.zip --spec specs/cmu-hw5.yaml --out reports/alice
  autograde validate specs/cmu-hw5.yaml --full
  autograde batch submissions/ --spec specs/cmu-hw5.yaml -j 2 --questions Q3.1.1,Q4.2
  autograde kit specs/cmu-hw5.yaml -o dist      (instructor: the students' self-check kit)
  autograde check                               (student: in the homework folder)"""


def _questions(text: str) -> list[str]:
    ids = [q.strip() for q in text.split(",") if q.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("name at least one question id, e.g. Q3.1.1,Q4.2")
    return ids


def build_parser() -> argparse.ArgumentParser:
    """One sub-parser per command; no parser takes an abbreviation of an option (``--spec`` is
    never ``--specs-dir``)."""
    parser = argparse.ArgumentParser(prog="autograde", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"autograde {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, text: str, specs_dir: bool = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, allow_abbrev=False)
        if specs_dir:
            sub.add_argument("--specs-dir", default=str(default_specs_dir()), help="where rubrics live")
        return sub

    grade = command("grade", "grade one submission (a .zip or a folder) and write its reports", specs_dir=True)
    grade.add_argument("submission", help="a .zip or a folder")
    grade.add_argument("--spec", help="rubric YAML (default: the rubric in --specs-dir whose files the "
                                      "submission has)")
    grade.add_argument("--out", help="report folder (default reports/<submission>)")
    grade.add_argument("--questions", type=_questions, metavar="Q1,Q2",
                       help="grade only these questions (e.g. Q3.1.1,Q4.2)")
    grade.add_argument("--seed", type=int, default=None, help="seed for random inputs (default: derived)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code without isolation (trusted code only)")
    grade.add_argument("--show-manual", action="store_true", help="also list the questions a TA grades")

    validate = command("validate", "check a rubric: schema; with --full, the reference, starter, mutants "
                                   "and era variants")
    validate.add_argument("specs", nargs="+", help="rubric YAML files")
    validate.add_argument("--full", action="store_true",
                          help="also grade the reference (full marks), the starter (zero), the mutants "
                               "and the era variants")

    demo = command("demo", "grade the bundled sample submissions of every rubric", specs_dir=True)
    demo.add_argument("--out", help="report folder (default reports/demo)")

    batch = command("batch", "grade a class: every .zip or folder in a directory, then the gradebooks")
    batch.add_argument("submissions", help="a folder with one .zip or folder per student")
    batch.add_argument("--spec", required=True, help="rubric YAML")
    batch.add_argument("-j", "--jobs", type=int, help="grading processes (default: all cores)")
    batch.add_argument("--out", help="report folder (default reports/<assignment>)")
    batch.add_argument("--questions", type=_questions, metavar="Q1,Q2",
                       help="grade only these questions (a regrade of one question for a class)")
    batch.add_argument("--id-pattern", help="regex with a group (?P<id>...) that takes the student id "
                                            "from the file name (default: the name without .zip)")
    batch.add_argument("--times", help="CSV of submission times: student id, ISO time")
    batch.add_argument("--force", action="store_true", help="regrade students graded before")
    batch.add_argument("--scheduler", help="address of a Dask scheduler to grade on instead of locally")
    batch.add_argument("--student-timeout", type=float, metavar="SECONDS",
                       help="stop grading a student after this long and give an error row (default: "
                            "the rubric's grade ceiling x 1.25 + 300 s)")
    batch.add_argument("--no-sandbox", action="store_true",
                       help="run student code without isolation (trusted code only)")
    batch.add_argument("--similarity-threshold", type=float, default=0.5,
                       help="pairs at least this similar are listed for a human (default 0.5)")
    batch.add_argument("--no-similarity", action="store_true",
                       help="skip the similarity report (it compares every pair of students)")

    kit = command("kit", "write the students' self-check kit of each rubric")
    kit.add_argument("specs", nargs="+", help="rubric YAML files")
    kit.add_argument("-o", "--out", default="dist", help="the kits go to OUT/<assignment>/ (default dist)")
    kit.add_argument("--seed", type=int, default=None, help="the kit's input seed (default: fixed)")

    check = command("check", "student: check your homework with the course's kit")
    check.add_argument("folder", nargs="?", default=".", help="the homework folder (default: here)")
    check.add_argument("--kit", help="the kit folder (default: $AUTOGRADE_KIT, else a .autograde-kit/ "
                                     "folder here or above)")
    check.add_argument("--out", help="also write results.json and report.md there")

    data = command("data", "list, make or add the datasets the rubrics use")
    data.add_argument("action", nargs="?", choices=["list", "make", "add"], default="list")
    data.add_argument("names", nargs="*", help="make: datasets (default all); add: DATASET FOLDER")
    data.add_argument("--data-dir", help="default $AUTOGRADE_DATA, else ~/.cache/autograde/data")
    data.add_argument("--seed", type=int, help="seed of a synthetic dataset")

    fixtures = command("fixtures", "verify (or rebuild) the stored fixtures against their manifest")
    fixtures.add_argument("action", nargs="?", choices=["verify", "build"], default="verify")
    fixtures.add_argument("names", nargs="*", help="fixture sets to rebuild (default: all generated)")
    fixtures.add_argument("--fixtures-dir", default=str(default_specs_dir().parent / "fixtures"))

    command("layers", "which isolation layers work on this machine")
    help_ = command("help", "show this help, or a command's")
    help_.add_argument("topic", nargs="?", help="a command")
    return parser


def _with_command(argv: list[str]) -> list[str]:
    """``autograde SUB ...`` is ``autograde grade SUB ...``; a command named after options
    (``autograde --no-sandbox validate x``) is moved first."""
    if not argv or argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version"):
        return argv
    first = next((i for i, a in enumerate(argv) if a in COMMANDS), None)
    if first is not None and all(a.startswith("-") for a in argv[:first]):
        return [argv[first], *argv[:first], *argv[first + 1:]]
    return ["grade", *argv]


def help_command(args, console: Console) -> int:
    parser = build_parser()
    if args.topic in COMMANDS:
        parser.parse_args([args.topic, "--help"])  # prints the command's help and exits
    elif args.topic:
        raise IntakeError(f"no command {args.topic!r}; the commands: {', '.join(COMMANDS)}")
    parser.print_help()
    return 0


def _stop_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP (a batch supervisor, a closed terminal) unwind like Ctrl-C, so every
    grader closes its workers and removes its temp folder on the way out."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)


def main(argv: list[str] | None = None) -> int:
    argv = _with_command(list(sys.argv[1:] if argv is None else argv))
    _stop_cleanly_on_signals()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    console = Console(soft_wrap=True)  # a message is one line, whatever the terminal's width
    handlers = {"grade": grade_command, "validate": validate_command, "demo": demo_command,
                "layers": layers_command, "data": data_command, "fixtures": fixtures_command,
                "kit": kit_command, "check": check_command, "batch": batch_command, "help": help_command}
    try:
        return handlers[args.command](args, console)
    except (RubricError, IntakeError, SandboxUnavailable, KitError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")  # ours, several lines; names quoted by intake
        return 2
    except GraderBroken as exc:  # no report was written: nothing a TA could upload as a zero
        console.print(f"[red]grader error:[/red] {escape(str(exc))}")
        return 3


if __name__ == "__main__":
    sys.exit(main())
