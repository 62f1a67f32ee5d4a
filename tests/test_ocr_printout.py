"""``ocr_error``: a script's printout judged against several pages' true text (handout 004's Q4.4 and
Q7.1.4). Hand-made printouts with known truths; no training."""
from __future__ import annotations

import itertools
import json
import random
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.rubric import expr
from autograder.rubric.expr import cer, ocr_error
from conftest import edit_distance

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = [json.loads(p.read_text())["text"] for p in sorted((ROOT / "fixtures/hidden/cmu-hw5/ocr-pages").glob("*.json"))]
NAMES = ["page_01_list.jpg", "page_02_words.jpg", "page_03_short.jpg", "page_04_mixed.jpg"]
TOTAL = sum(len("".join(p.split())) for p in HIDDEN)  # 204
FREE = int(TOTAL + expr.ALLOWANCE_TIMES * TOTAL + expr.ALLOWANCE_PLUS)  # 1016
ENGLISH = {"E": 12.7, "T": 9.1, "A": 8.2, "O": 7.5, "I": 7.0, "N": 6.7, "S": 6.3, "H": 6.1, "R": 6.0,
           "D": 4.3, "L": 4.0, "C": 2.8, "U": 2.8, "M": 2.4, "W": 2.4, "F": 2.2, "G": 2.0, "Y": 2.0,
           "P": 1.9, "B": 1.5, "V": 1.0, "K": 0.8, "J": 0.15, "X": 0.15, "Q": 0.1, "Z": 0.07}


def printout(pages, names=NAMES, header="{name}") -> str:
    """What the reference run_q4.py prints: each file name, then the page's lines."""
    return "\n".join(header.format(name=n, i=i) + "\n" + p for i, (n, p) in enumerate(zip(names, pages), 1)) + "\n"


def misread(text: str, rate: float, rng: random.Random) -> str:
    """The text with a share of its letters replaced by a wrong one (white space kept)."""
    return "".join(c if c.isspace() or rng.random() >= rate else chr((ord(c) - 65 + 1) % 26 + 65) for c in text)


def random_letters(n: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    weights = np.array(list(ENGLISH.values()))
    drawn = "".join(rng.choice(list(ENGLISH), size=n, p=weights / weights.sum()))
    return "\n".join(drawn[i:i + 20] for i in range(0, n, 20))


# ---------------------------------------------------------------- the definition, on small cases
def _brute(out: str, pages: list[str], ordered: bool) -> float:
    """Every way of giving each page its own stretch of ``out``, the stretches in page order (or any
    order), never overlapping: the smallest mean of edits over page length."""
    stretches = [(i, j) for i in range(len(out) + 1) for j in range(i, len(out) + 1)]
    best = float("inf")
    for picked in itertools.product(stretches, repeat=len(pages)):
        spans = sorted(picked)
        if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
            continue
        if ordered and list(picked) != spans:
            continue
        best = min(best, np.mean([edit_distance(p, out[i:j]) / len(p) for p, (i, j) in zip(pages, picked)]))
    return best


@pytest.mark.parametrize("ordered", [False, True])
def test_matches_the_definition_by_brute_force(ordered):
    rng = random.Random(1)
    for _ in range(60):
        out = "".join(rng.choice("ABC ") for _ in range(rng.randint(0, 7)))
        pages = ["".join(rng.choice("ABC") for _ in range(rng.randint(1, 3))) for _ in range(rng.choice([1, 2, 3]))]
        expected = _brute(out.replace(" ", ""), pages, ordered)
        assert ocr_error(out, pages, 10 ** 6, ordered) == pytest.approx(expected), (out, pages)


def test_one_page_is_its_character_error_rate():
    rng = random.Random(2)
    for page in HIDDEN:
        out = "page_01.jpg\n" + misread(page, 0.3, rng) + "\naccuracy 0.87"
        assert ocr_error(out, [page]) == pytest.approx(cer(out, page))
    assert ocr_error("HELLO", "hello") == 0  # a single page may be given as a string


def test_pages_printed_apart_score_their_mean_character_error_rate():
    rng = random.Random(3)
    out = printout([misread(p, 0.35, rng) for p in HIDDEN])
    old = np.mean([cer(out, p) for p in HIDDEN])
    assert 0.2 < ocr_error(out, HIDDEN) == pytest.approx(old, abs=0.02)
    assert ocr_error(out, HIDDEN) >= old - 1e-9  # never kinder than matching each page anywhere


# ---------------------------------------------------------------- the cases calibrated in the rubric
def test_a_correct_printout_scores_zero_with_or_without_headers():
    assert ocr_error(printout(HIDDEN), HIDDEN) == 0
    assert ocr_error(printout([p.lower() for p in HIDDEN]), HIDDEN) == 0  # case and spaces ignored
    labelled = printout(HIDDEN, header="Image {i}: {name}\nRecognised text:") + "Test accuracy: 0.873\n"
    assert ocr_error(labelled, HIDDEN) == 0


def test_other_images_text_and_headers_fit_in_the_allowance():
    """run_q4.py reads the course's photos in the same folder: their text is printed too (~250
    characters against the pages' 204), with eight file names."""
    photos = ["TODOLIST 1MAKEATODOLIST 2CHECKOFFTHEFIRST THINGONTODOLIST 3REALIZEYOUHAVEALREADY "
              "COMPLETED2THINGS 4REWARDYOURSELFWITH ANAP", "ABCDEFG HIJKLMN OPQRSTU VWXYZ 1234567890",
              "HAIKUSAREEASY BUTSOMETIMESTHEYDONTMAKESENSE REFRIGERATOR",
              "DEEPLEARNING DEEPERLEARNING DEEPESTLEARNING"]
    both = printout(photos + HIDDEN, ["01_list.jpg", "02_letters.jpg", "03_haiku.jpg", "04_deep.jpg"] + NAMES,
                    header="Image {i}: {name}\nRecognised text:")
    assert ocr_error(both, HIDDEN) == 0 and ocr_error(both, photos) == 0


def test_pages_in_any_order_but_each_with_its_own_stretch():
    shuffled = printout(HIDDEN[::-1], NAMES[::-1])  # os.listdir's order is the file system's
    assert ocr_error(shuffled, HIDDEN) == 0
    assert ocr_error(shuffled, HIDDEN, None, True) > 0.4  # in the given order only: one page read
    # one printed page cannot serve two: the second copy of the truth must be found elsewhere
    assert ocr_error("HELLO", ["HELLO", "HELLO"]) == pytest.approx(0.5)
    assert ocr_error("HELLO HELLO", ["HELLO", "HELLO"]) == 0
    assert cer("HELLO", "HELLO") == 0  # cer alone would have matched both pages to the one line


def test_the_truth_printed_twice_or_thrice_is_free_more_often_is_not():
    once = len("".join(printout(HIDDEN).split()))  # 271 characters: 204 of text, 67 of file names
    assert ocr_error(printout(HIDDEN) * 2, HIDDEN) == 0
    assert ocr_error(printout(HIDDEN) * 3, HIDDEN) == 0
    for copies in (4, 5, 6):
        expected = (copies * once - FREE) / FREE  # 1084, 1355, 1626 printed of 1016 free
        assert ocr_error(printout(HIDDEN) * copies, HIDDEN) == pytest.approx(expected) and 0 < expected < 1
    assert ocr_error(printout(HIDDEN) * 8, HIDDEN) == 1


def test_length_beyond_the_free_length_counts():
    # free length: 2 characters of truth + 3 of allowance
    assert ocr_error("AB" + "X" * 3, ["AB"], 3) == 0
    assert ocr_error("AB" + "X" * 4, ["AB"], 3) == pytest.approx(0.2)  # 1 character of 5 too many
    assert ocr_error("AB" + "X" * 6, ["AB"], 3) == pytest.approx(0.6)
    assert ocr_error("AB" + "X" * 8, ["AB"], 3) == 1  # twice the free length
    assert ocr_error("A" + "X" * 4, ["AB"], 3) == pytest.approx(0.5)   # a letter short: 1 edit of 2


def test_junk_scores_the_worst_quickly():
    junk = random_letters(200_000)
    start = time.perf_counter()
    assert ocr_error(junk, HIDDEN) == 1.0
    assert time.perf_counter() - start < 0.5  # the length alone decides: no alignment
    assert np.mean([cer(junk, p) for p in HIDDEN]) < 0.7  # what cer alone gave it (4.6 of Q4.4's 8 points)
    # as long as the allowance lets through: no better than reading nothing right
    assert ocr_error(random_letters(FREE, 1), HIDDEN) > 0.6


def test_an_empty_printout_scores_the_worst():
    assert ocr_error("", HIDDEN) == 1.0
    assert ocr_error("page_01_list.jpg\npage_02_words.jpg\n", HIDDEN) > 0.8
    assert ocr_error("anything", ["", " "]) == 0.0  # no text to read, as cer


def test_empty_pages_count_as_read():
    assert ocr_error("AB", ["AB", ""]) == 0
    assert ocr_error("XY", ["AB", ""]) == pytest.approx(0.5)  # the mean over both pages


def test_rubric_expressions_call_it_and_q44_gives_junk_nothing():
    from autograder.checks.evaluate import Threshold
    from autograder.rubric.schema import load

    names = {"text": printout(HIDDEN), **{f"page{i}": np.array(p) for i, p in enumerate(HIDDEN, 1)}}
    assert expr.evaluate("ocr_error(text, [page1, page2, page3, page4])", names) == 0
    rubric = load(ROOT / "specs" / "cmu-hw5.yaml")
    checked = 0
    for question in rubric.questions:
        for check in question.checks:
            for threshold in (getattr(check, "thresholds", None) or {}).values():
                value = threshold.value if isinstance(threshold, Threshold) else threshold["value"]
                if "page1" not in str(value) or "ocr_error" not in str(value):
                    continue
                checked += 1
                for text, credit in ((printout(HIDDEN), 1.0), (random_letters(200_000), 0.0), ("", 0.0)):
                    assert threshold.credit(expr.evaluate(value, {**names, "text": text})) == credit
                # credit ends where random letters get to, as many as the free length lets through
                for seed in range(3):
                    junk = random_letters(FREE, seed)
                    assert threshold.credit(expr.evaluate(value, {**names, "text": junk})) < 0.15
    assert checked == 2  # Q4.4 and Q7.1.4 on the hidden pages
