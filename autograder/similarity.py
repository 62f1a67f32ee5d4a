"""Pairwise code similarity across a class: the pairs a human may want to look at side by side.

    pairs = similar_pairs({"alice": Path("subs/alice"), ...}, starter=Path("specs/cmu-hw5/starter"))
    write_similarity_report(pairs, Path("reports/hw5"))

The measure is copydetect's (0.5): code is tokenised with pygments and filtered (names become ``V``,
function names ``F``, strings ``S``; comments and whitespace dropped), every 25-character k-gram of
the filtered text is hashed, and the similarity of file A to file B is the share of A's tokens
covered by k-grams that also occur in B. It is reported both ways (a short file copied into a long
one is 100 % of the short file). The starter code's k-grams are boilerplate: they are removed
before comparing, so handing in the unchanged starter makes no one similar.

Speed: each distinct file is fingerprinted once (``copydetect.CodeFingerprint``; pygments'
tokenising is most of the cost, so it runs in worker processes for a large class). Comparing every
pair with ``copydetect.compare_files`` would cost 1-2 ms a file pair, a minute or more for 200
students with three files each (``benchmarks/bench_similarity.py --naive``), so the screening computes the same token overlap for one file against all the others at once with
numpy (a sparse hash-presence matrix and interval cover counts). The pairs above the threshold are
then compared file by file the way ``compare_files`` does, which also gives the matching passages
shown in the report (for the ``DETAILED_PAIRS`` most similar pairs).

Files are compared with files of the same name (``nn.py`` with ``nn.py``), wherever they are in the
submission: handouts fix the file names, and it keeps the work linear in the number of files.
Python's ``hash`` is salted per process, but with copydetect's default window of 1 every k-gram is
kept, so the scores do not depend on the salt.
"""
from __future__ import annotations

import io
import logging
import multiprocessing
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np
from copydetect import CodeFingerprint
from copydetect.utils import filter_code, find_fingerprint_overlap, get_copied_slices, get_token_coverage
from scipy import sparse

K = 25  # copydetect's default noise threshold: the shortest matching filtered text that counts
MAX_FILE_BYTES = 1_000_000  # larger "code" is generated data, not something a student typed
MAX_MEMBERS = 2_000  # files read from one zip
EXCERPTS_PER_FILE = 3
DETAILED_PAIRS = 200  # passages for the most similar pairs only; thousands mean the threshold is too low
EXCERPT_LINES = 14
PARALLEL_FROM = 60  # distinct files; fewer are tokenised faster than worker processes start
SKIP_PARTS = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".git"}


@dataclass(frozen=True)
class Excerpt:
    """One matching passage, as the two students wrote it (line numbers are 1-based)."""

    file_a: str
    line_a: int
    text_a: str
    file_b: str
    line_b: int
    text_b: str


@dataclass(frozen=True)
class FileMatch:
    file_a: str
    file_b: str
    similarity_a: float  # share of file_a's tokens also found in file_b
    similarity_b: float


@dataclass
class Pair:
    """Two students whose code overlaps; ``similarity_a`` is the share of a's code found in b's."""

    student_a: str
    student_b: str
    similarity_a: float
    similarity_b: float
    files: list[FileMatch] = field(default_factory=list)
    excerpts: list[Excerpt] = field(default_factory=list)

    @property
    def similarity(self) -> float:
        return max(self.similarity_a, self.similarity_b)


@dataclass
class _Document:
    student: str
    name: str  # path inside the submission, for the report
    fingerprint: CodeFingerprint

    @property
    def key(self) -> str:
        return Path(self.name).name


# -- reading code ------------------------------------------------------------------------------
def code_files(folder: Path, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """The Python code of a submission (a folder or a zip, as a class is handed in): each ``.py``
    file, and each notebook's code cells. ``skip``: file names the course provides (``util.py``),
    which every student has."""
    found: dict[str, str] = {}
    for rel, read in _members(Path(folder)):
        path = PurePosixPath(rel)
        if SKIP_PARTS & set(path.parts) or path.suffix not in (".py", ".ipynb") or path.name in skip:
            continue
        try:
            text = read().decode("utf-8", errors="replace")
            found[rel] = notebook_code(text) if path.suffix == ".ipynb" else text
        except Exception as exc:  # noqa: BLE001 - an unreadable member or notebook is left out, not fatal
            logging.getLogger(__name__).info("similarity: skipping %s in %s: %s", rel, folder, exc)
    return found


def _members(source: Path):
    """(relative path, reader) for each regular file of a folder or a zip, none larger than
    ``MAX_FILE_BYTES``. A zip is read in memory, never unpacked: each member's reader stops after
    the cap whatever its header declares, and there are at most ``MAX_MEMBERS`` of them."""
    if source.is_file():
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, ValueError):
            return
        with archive:
            for info in archive.infolist()[:MAX_MEMBERS]:
                if info.is_dir() or info.file_size > MAX_FILE_BYTES:
                    continue
                yield info.filename.replace("\\", "/").lstrip("/"), partial(_capped_member, archive, info)
        return
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
            yield path.relative_to(source).as_posix(), path.read_bytes


def _capped_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with archive.open(info) as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("larger than its header says")
    return data


def notebook_code(text: str) -> str:
    """A notebook's code cells, one after another; IPython magics (``%``, ``!``) become comments."""
    import nbformat

    notebook = nbformat.reads(text, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    lines = [("# " + line) if line.lstrip().startswith(("%", "!")) else line
             for cell in cells for line in cell.splitlines()]
    return "\n".join(lines) + "\n"


def filtered(text: str) -> tuple[str, np.ndarray]:
    """copydetect's tokenise-and-filter step (pygments): most of the time a fingerprint takes."""
    return filter_code(text, "code.py", "python")


def filter_all(texts: list[str], workers: int | None = None) -> list[tuple[str, np.ndarray]]:
    """:func:`filtered` for many texts, over several processes when there are enough of them.
    Only the filtered text travels back: k-gram hashes use Python's ``hash``, salted per process,
    so they are computed in this one."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(texts) < PARALLEL_FROM:
        return [filtered(t) for t in texts]
    context = multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                          else "spawn")  # never fork a process that may run threads
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return list(pool.map(filtered, texts, chunksize=max(1, len(texts) // (4 * workers))))
    except (BrokenProcessPool, OSError) as exc:  # e.g. a __main__ read from stdin cannot be re-imported
        logging.getLogger(__name__).warning("similarity: tokenising in this process (%s)", exc)
        return [filtered(t) for t in texts]


def fingerprint(name: str, text: str, boilerplate: frozenset[int] = frozenset(),
                filtered_text: tuple[str, np.ndarray] | None = None) -> CodeFingerprint:
    """copydetect's fingerprint of one file (every k-gram kept), without the boilerplate k-grams.

    ``filtered_text`` is :func:`filtered` of ``text`` when already computed. The boilerplate is
    removed here rather than by copydetect's ``boilerplate`` argument: copydetect 0.5 intersects with
    ``assume_unique=True`` while a file's k-grams repeat, which also drops repeated k-grams that are
    not boilerplate at all."""
    code, offsets = filtered_text if filtered_text is not None else filtered(text)
    fp = CodeFingerprint(name, K, 1, filter=False, fp=io.StringIO(code))
    fp.raw_code, fp.offsets = text, offsets  # as CodeFingerprint(filter=True) would have them
    if boilerplate:
        fp.hash_idx = {h: idx for h, idx in fp.hash_idx.items() if h not in boilerplate}
        fp.hashes = set(fp.hash_idx)
        fp.token_coverage = get_token_coverage(fp.hash_idx, K, len(fp.filtered_code))
    return fp


def boilerplate_hashes(starter: Path | None) -> frozenset[int]:
    if starter is None:
        return frozenset()
    return frozenset(h for name, text in code_files(starter).items() for h in fingerprint(name, text).hashes)


# -- comparing ---------------------------------------------------------------------------------
def similar_pairs(submissions: dict[str, Path], starter: Path | None, threshold: float = 0.5,
                  workers: int | None = None, provided: frozenset[str] = frozenset()) -> list[Pair]:
    """Pairs of students whose code overlaps by at least ``threshold`` either way, highest first.
    ``workers``: processes for tokenising (default: all cores); ``provided``: file names the course
    hands out (left out)."""
    students, documents = read_class(submissions, starter, workers, provided)
    share = shares(documents, students)
    either_way = np.maximum(share, share.T)
    found = sorted(zip(*np.nonzero(np.triu((either_way >= threshold) & (either_way > 0), k=1))),
                   key=lambda ij: (-round(either_way[ij], 4), ij))
    by_student: dict[str, list[_Document]] = {}
    for doc in documents:
        by_student.setdefault(doc.student, []).append(doc)
    return [describe_pair(students[i], students[j], float(share[i, j]), float(share[j, i]),
                          by_student.get(students[i], []), by_student.get(students[j], []),
                          passages=rank < DETAILED_PAIRS)
            for rank, (i, j) in enumerate(found)]


def similarity_matrix(submissions: dict[str, Path], starter: Path | None,
                      workers: int | None = None) -> tuple[list[str], np.ndarray]:
    """The students (sorted) and ``share[i, j]``: the share of i's code also found in j's."""
    students, documents = read_class(submissions, starter, workers)
    return students, shares(documents, students)


def read_class(submissions: dict[str, Path], starter: Path | None, workers: int | None = None,
               provided: frozenset[str] = frozenset()) -> tuple[list[str], list[_Document]]:
    """Every student's code files, fingerprinted once per distinct text (files handed in unchanged
    are common), the starter's k-grams left out."""
    boilerplate = boilerplate_hashes(starter)
    files = [(student, name, text) for student, folder in sorted(submissions.items())
             for name, text in code_files(folder, provided).items()]
    distinct = list(dict.fromkeys(text for _, _, text in files))
    prints = {text: fingerprint("code.py", text, boilerplate, f)
              for text, f in zip(distinct, filter_all(distinct, workers))}
    documents = [_Document(student, name, prints[text]) for student, name, text in files]
    return sorted(submissions), documents


def shares(documents: list[_Document], students: list[str]) -> np.ndarray:
    overlap, coverage = token_overlaps(documents, students)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(overlap / coverage[:, None])


def token_overlaps(documents: list[_Document], students: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``overlap[i, j]``: how many of student i's (non-boilerplate) tokens are covered by k-grams
    that also occur in student j's file of the same name; ``coverage[i]``: all of i's tokens.
    The same numbers as ``compare_files``, for all pairs at once."""
    index = {s: n for n, s in enumerate(students)}
    overlap = np.zeros((len(students), len(students)))
    coverage = np.zeros(len(students))
    groups: dict[str, list[_Document]] = {}
    for doc in documents:
        groups.setdefault(doc.key, []).append(doc)
        coverage[index[doc.student]] += doc.fingerprint.token_coverage
    for group in groups.values():
        owners = np.array([index[d.student] for d in group])
        positions, ids, presence = _presence(group)
        in_group = np.zeros_like(overlap)
        for row, doc in enumerate(group):
            covered = _covered_tokens(positions[row], presence[:, ids[row]].toarray(),
                                      len(doc.fingerprint.filtered_code))
            covered[owners == owners[row]] = 0  # a student's own files are not evidence
            # two files of the same name in one submission: the closer one counts
            np.maximum.at(in_group[owners[row]], owners, covered)
        overlap += in_group
    return overlap, coverage


def _presence(group: list[_Document]):
    """Per document its fingerprint positions and their k-gram ids, and a (documents x k-grams)
    sparse matrix of which document contains which k-gram."""
    vocabulary: dict[int, int] = {}
    positions, ids, rows, cols = [], [], [], []
    for row, doc in enumerate(group):
        pos, hid = [], []
        for h, where in doc.fingerprint.hash_idx.items():
            column = vocabulary.setdefault(h, len(vocabulary))
            rows.append(row)
            cols.append(column)
            pos.extend(where)
            hid.extend([column] * len(where))
        positions.append(np.asarray(pos, dtype=np.int64))
        ids.append(np.asarray(hid, dtype=np.int64))
    presence = sparse.csc_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                                 shape=(len(group), max(len(vocabulary), 1)))
    return positions, ids, presence


def _covered_tokens(starts: np.ndarray, matched: np.ndarray, length: int) -> np.ndarray:
    """For each row of ``matched`` (which of the k-grams starting at ``starts`` the other document
    also has), how many tokens the union of the matching intervals [start, start + K) covers."""
    n = matched.shape[0]
    if len(starts) == 0 or n == 0:
        return np.zeros(n)
    width = length + K + 1
    r, c = np.nonzero(matched)
    delta = np.bincount(r * width + starts[c], minlength=n * width) - np.bincount(
        r * width + starts[c] + K, minlength=n * width)
    depth = np.cumsum(delta[: n * width].reshape(n, width), axis=1)
    return (depth > 0).sum(axis=1).astype(float)


def describe_pair(a: str, b: str, share_a: float, share_b: float, docs_a: list[_Document],
                  docs_b: list[_Document], passages: bool = True) -> Pair:
    """The file pairs with their similarities and (``passages``) the longest matching passages."""
    pair = Pair(a, b, round(share_a, 4), round(share_b, 4))
    by_key = {d.key: d for d in docs_b}
    for doc in docs_a:
        other = by_key.get(doc.key)
        match = None if other is None else _match(doc.fingerprint, other.fingerprint)
        if match is None:
            continue
        sim_a, sim_b, slices_a, slices_b = match
        pair.files.append(FileMatch(doc.name, other.name, sim_a, sim_b))
        if passages:
            pair.excerpts.extend(matching_passages(doc, other, slices_a, slices_b))
    pair.files.sort(key=lambda f: -max(f.similarity_a, f.similarity_b))
    pair.excerpts.sort(key=lambda e: -len(e.text_a))
    return pair


def _match(fa: CodeFingerprint, fb: CodeFingerprint):
    """``compare_files`` without its mapping to raw text: both similarities and the matching spans
    of the filtered texts (one overlap search serves the scores and the passages)."""
    idx_a, idx_b = find_fingerprint_overlap(fa.hashes, fb.hashes, fa.hash_idx, fb.hash_idx)
    if len(idx_a) == 0:
        return None
    slices_a, slices_b = get_copied_slices(idx_a, K), get_copied_slices(idx_b, K)
    sim_a = float(np.sum(slices_a[1] - slices_a[0]) / fa.token_coverage) if fa.token_coverage else 0.0
    sim_b = float(np.sum(slices_b[1] - slices_b[0]) / fb.token_coverage) if fb.token_coverage else 0.0
    return round(sim_a, 4), round(sim_b, 4), slices_a, slices_b


def matching_passages(doc_a: _Document, doc_b: _Document, slices_a: np.ndarray, slices_b: np.ndarray,
                      limit: int = EXCERPTS_PER_FILE) -> list[Excerpt]:
    """The longest passages of a's file that also occur in b's, each next to where b has it."""
    fa, fb = doc_a.fingerprint, doc_b.fingerprint
    excerpts = []
    for start, end in sorted(zip(*slices_a), key=lambda s: s[0] - s[1])[:limit]:
        # the k-gram that opens a's passage (hashed as copydetect does), and where b has it
        where_b = fb.hash_idx.get(hash(fa.filtered_code[start:start + K]), [])
        inside = np.nonzero((slices_b[0] <= where_b[0]) & (where_b[0] < slices_b[1]))[0] if where_b else []
        if len(inside) == 0:
            continue
        b_start, b_end = slices_b[:, inside[0]]
        line_a, text_a = _lines(fa, int(start), int(end))
        line_b, text_b = _lines(fb, int(b_start), int(b_end))
        excerpts.append(Excerpt(doc_a.name, line_a, text_a, doc_b.name, line_b, text_b))
    return excerpts


def _raw_offset(fp: CodeFingerprint, filtered_index: int) -> int:
    """Where a position of the filtered text is in the file as written (compare_files' mapping)."""
    offsets = fp.offsets
    if len(offsets) == 0:
        return filtered_index
    k = np.clip(np.searchsorted(offsets[:, 0], filtered_index), 0, offsets.shape[0] - 1)
    return filtered_index + int(offsets[k, 1])


def _lines(fp: CodeFingerprint, start: int, end: int) -> tuple[int, str]:
    """The whole lines around a filtered-text span, at most EXCERPT_LINES of them."""
    raw = fp.raw_code
    lo, hi = _raw_offset(fp, start), _raw_offset(fp, max(end - 1, start)) + 1
    first = raw.rfind("\n", 0, lo) + 1
    last = raw.find("\n", hi)
    lines = raw[first: len(raw) if last < 0 else last].splitlines()
    skipped = 0
    while len(lines) > 1 and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        lines.pop(0)  # a passage starts at code, not at the comments before it
        skipped += 1
    if len(lines) > EXCERPT_LINES:
        lines = lines[:EXCERPT_LINES] + ["..."]
    return raw.count("\n", 0, first) + 1 + skipped, "\n".join(lines)


# -- the page ----------------------------------------------------------------------------------
def write_similarity_report(pairs: list[Pair], out: Path, threshold: float | None = None) -> Path:
    """``out/similarity.html``: the pairs, highest first, with matching passages side by side."""
    from .report.templating import render

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "similarity.html"
    path.write_text(render("similarity.html", pairs=sorted(pairs, key=lambda p: -p.similarity),
                           threshold=threshold, k=K, detailed=DETAILED_PAIRS))
    return path
