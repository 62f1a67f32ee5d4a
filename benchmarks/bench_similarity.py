"""Time to compare a class's code pairwise, on generated variants of handout 004's solution.

    python benchmarks/bench_similarity.py [--students 200] [--pairs 10] [--naive]

Each student hands in nn.py, run_q2.py and q4.py, made from the reference solution: variables
renamed, functions reordered, expressions written another way (operands swapped, ``np.dot`` for
``@``, ``np.transpose`` for ``.T``, keyword arguments reordered, results named; each at a rate
drawn per student, 30-70 %) and statements of their own inserted (30-60 %), so that students differ
roughly the way separately written code does.
``--pairs`` of them are planted near-copies of another student (renamed, reordered, 5 % inserted).
The starter code is boilerplate. Prints the wall time of ``similar_pairs`` (fingerprinting,
screening every pair, describing the flagged ones) and of the HTML page, the pairs found, and
whether every planted pair is among them. ``--naive`` also times copydetect's ``compare_files`` on
every same-named file pair, the obvious way, for comparison.
"""
from __future__ import annotations

import argparse
import ast
import random
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from autograder.similarity import similar_pairs, similarity_matrix, write_similarity_report

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "solution" / "cmu-hw5" / "python"
STARTER = ROOT / "specs" / "cmu-hw5" / "starter"
FILES = ("nn.py", "run_q2.py", "q4.py")
FILLERS = ("{v} = np.zeros({n})", "{v} = {n} * {m} + len(str({n}))", "print('step', {n}, {m})",
           "{v} = [{n}, {m}] if {n} > {m} else []", "assert {n} >= 0, 'check {m}'")


def rename(source: str, prefix: str) -> str:
    """Every function-local name and argument spelt differently (the module's own API kept)."""
    tree = ast.parse(source)
    api = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    keep = api | {"np", "plt", "len", "range", "print", "float", "int", "str", "max", "min", "sum",
                  "abs", "zip", "enumerate", "list", "dict", "open", "True", "False", "None"}

    class Rename(ast.NodeTransformer):
        def visit_arg(self, node):
            node.arg = prefix + node.arg
            return node

        def visit_Name(self, node):
            if node.id not in keep and not node.id.startswith("__"):
                node.id = prefix + node.id
            return node

    tree = Rename().visit(tree)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    rest = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    functions = [n for n in rest if isinstance(n, ast.FunctionDef)]
    if len(functions) == len(rest):
        random.shuffle(rest)  # a module of functions only: any order works
    tree.body = imports + rest
    return ast.unparse(tree) + "\n"


def own_statements(source: str, rate: float, rng: random.Random) -> str:
    """Statements of the student's own after the reference's simple statements (same indent)."""
    compound = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef)
    after = {node.end_lineno: node.col_offset for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.stmt) and not isinstance(node, compound) and node.col_offset > 0}
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        out.append(line)
        if number in after and rng.random() < rate:
            filler = rng.choice(FILLERS).format(v=f"t{rng.randrange(1000)}", n=rng.randrange(100),
                                                m=rng.randrange(100))
            out.append(" " * after[number] + filler)
    return "\n".join(out) + "\n"


class Restyle(ast.NodeTransformer):
    """The same computation written another way, each choice taken at ``rate``: operands of + and *
    swapped, ``a @ b`` as ``np.dot(a, b)``, ``x.T`` as ``np.transpose(x)``, keyword arguments
    reordered, ``return expr`` through a named result."""

    def __init__(self, rng: random.Random, rate: float):
        self.rng, self.rate = rng, rate

    def chance(self) -> bool:
        return self.rng.random() < self.rate

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.Add, ast.Mult)) and self.chance():
            node.left, node.right = node.right, node.left
        elif isinstance(node.op, ast.MatMult) and self.chance():
            return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "dot", ast.Load()), [node.left, node.right], [])
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr == "T" and self.chance():
            return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "transpose", ast.Load()), [node.value], [])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if len(node.keywords) > 1 and self.chance():
            self.rng.shuffle(node.keywords)
        return node

    def visit_Return(self, node):
        self.generic_visit(node)
        if node.value is not None and not isinstance(node.value, ast.Name) and self.chance():
            name = f"result{self.rng.randrange(100)}"
            return [ast.Assign([ast.Name(name, ast.Store())], node.value, lineno=0),
                    ast.Return(ast.Name(name, ast.Load()))]
        return node


class Hoist(ast.NodeTransformer):
    """Arguments computed into a named variable first (``u = -bound`` before the call), at ``rate``:
    what breaks up the long one-line statements separately written code rarely shares."""

    def __init__(self, rng: random.Random, rate: float):
        self.rng, self.rate = rng, rate

    def generic_visit(self, node):
        super().generic_visit(node)
        for name in ("body", "orelse"):
            body = getattr(node, name, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                setattr(node, name, [new for stmt in body for new in self.hoisted(stmt)])
        return node

    def hoisted(self, stmt):
        if not isinstance(stmt, (ast.Assign, ast.Expr, ast.Return, ast.AugAssign)):
            return [stmt]
        before = []
        for call in [n for n in ast.walk(stmt) if isinstance(n, ast.Call)]:
            for i, arg in enumerate(call.args):
                if not isinstance(arg, (ast.Name, ast.Constant, ast.Starred)) and self.rng.random() < self.rate:
                    name = f"arg{self.rng.randrange(1000)}"
                    before.append(ast.Assign([ast.Name(name, ast.Store())], arg, lineno=0))
                    call.args[i] = ast.Name(name, ast.Load())
        return before + [stmt]


def restyle(source: str, rate: float, rng: random.Random) -> str:
    tree = Hoist(rng, rate).visit(Restyle(rng, rate).visit(ast.parse(source)))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def starter_as_generated(root: Path) -> Path:
    """The starter code written out by ``ast.unparse`` too: the generated students' code is, and
    real students keep the starter's own layout (``return a, b`` stays without parentheses)."""
    for path in STARTER.rglob("*.py"):
        target = root / path.relative_to(STARTER)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(ast.unparse(ast.parse(path.read_text())) + "\n")
    return root


def make_class(root: Path, students: int, pairs: int, seed: int = 0) -> tuple[dict[str, Path], set]:
    rng = random.Random(seed)
    random.seed(seed)
    texts = {name: ast.unparse(ast.parse((REFERENCE / name).read_text())) for name in FILES}
    folders, planted = {}, set()
    for n in range(students - pairs):
        style, rate = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.6)
        folders[f"s{n:03d}"] = {name: own_statements(restyle(rename(t, f"v{n}_"), style, rng), rate, rng)
                                for name, t in texts.items()}
    originals = rng.sample(sorted(folders), pairs)
    for n, original in enumerate(originals):
        copier = f"c{n:03d}"
        folders[copier] = {name: own_statements(rename(t, f"c{n}_"), 0.05, rng)
                           for name, t in folders[original].items()}
        planted.add(tuple(sorted((original, copier))))
    paths = {}
    for student, files in folders.items():
        (root / student).mkdir(parents=True)
        for name, text in files.items():
            (root / student / name).write_text(text)
        paths[student] = root / student
    return paths, planted


def naive(submissions: dict[str, Path], starter: Path) -> float:
    """copydetect's compare_files on every same-named file pair (fingerprints made once)."""
    from copydetect import compare_files

    from autograder.similarity import boilerplate_hashes, fingerprint

    started = time.perf_counter()
    boilerplate = boilerplate_hashes(starter)
    prints = {s: {n: fingerprint(n, (p / n).read_text(), boilerplate) for n in FILES} for s, p in submissions.items()}
    for a, b in combinations(sorted(prints), 2):
        for name in FILES:
            compare_files(prints[a][name], prints[b][name])
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process: on a shared machine, wall time says more about the neighbours."""
    return time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=10, help="planted near-copies")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=None,
                        help="tokenising processes (default: all cores); 1 makes the CPU time complete")
    parser.add_argument("--naive", action="store_true", help="also time compare_files on every pair")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        submissions, planted = make_class(Path(tmp) / "class", args.students, args.pairs)
        starter = starter_as_generated(Path(tmp) / "starter")
        started, cpu = time.perf_counter(), cpu_seconds()
        pairs = similar_pairs(submissions, starter, threshold=args.threshold, workers=args.workers)
        compared, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        started = time.perf_counter()
        page = write_similarity_report(pairs, Path(tmp) / "out", threshold=args.threshold)
        written = time.perf_counter() - started
        found = {(p.student_a, p.student_b) for p in pairs}
        n_pairs = args.students * (args.students - 1) // 2
        print(f"{args.students} students x {len(FILES)} files ({n_pairs} student pairs), threshold {args.threshold}")
        print(f"similar_pairs: {compared:.2f} s wall, {cpu:.2f} s CPU in this process"
              f"{'' if args.workers == 1 else ' (forkserver workers not counted)'}; similarity.html: {written:.2f} s ({page.stat().st_size // 1024} KiB)")
        print(f"pairs flagged: {len(pairs)}; planted near-copies found: {len(planted & found)} of {len(planted)}; "
              f"others flagged: {len(found - planted)}")
        if pairs:
            planted_scores = sorted(p.similarity for p in pairs if (p.student_a, p.student_b) in planted)
            print(f"similarity of planted pairs: {planted_scores[0]:.2f}-{planted_scores[-1]:.2f}")
        students, share = similarity_matrix(submissions, starter)
        either_way = np.maximum(share, share.T)
        unplanted = [either_way[i, j] for i, j in combinations(range(len(students)), 2)
                     if (students[i], students[j]) not in planted]
        print(f"similarity of the other pairs: median {np.median(unplanted):.2f}, "
              f"99th percentile {np.percentile(unplanted, 99):.2f}, highest {max(unplanted):.2f}")
        if args.naive:
            print(f"naive compare_files on every pair: {naive(submissions, starter):.2f} s")


if __name__ == "__main__":
    main()
