"""Small, safe arithmetic for rubric values: ``"sqrt(6 / (n_in + n_out))"``, ``"loss / y.shape[0]"``.

Rubrics are data, but thresholds often depend on randomised sizes. This evaluator walks the AST
itself (no ``eval``) and knows numbers, names, arithmetic, a few math functions and ``.shape``.
"""
from __future__ import annotations

import ast
import math
import operator

import numpy as np

def accuracy(probs, onehot) -> float:
    """Share of rows whose arg-max matches the one-hot label's (labels may also be class indices)."""
    probs, onehot = np.asarray(probs), np.asarray(onehot)
    labels = onehot.argmax(axis=1) if onehot.ndim == 2 else onehot.astype(int)
    return float(np.mean(probs.argmax(axis=1) == labels))


def relerr(a, b) -> float:
    """Relative error of two gradient arrays, ||a - b|| / max(||a||, ||b||); inf for NaN or a shape slip.

    The handouts print the sum of element-wise relative errors, which explodes on entries near zero
    (saturated units) even for a correct checker; the norm ratio does not.
    """
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return math.inf
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.inf
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def identical(a, b) -> float:
    """1.0 when two arrays are bit-for-bit equal (a numerical estimate never is), else 0.0."""
    return float(np.array_equal(np.asarray(a), np.asarray(b)))


def _iou(a, b) -> float:
    y1, x1, y2, x2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, y2 - y1) * max(0.0, x2 - x1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if inter > 0 else 0.0


def matched_boxes(found, truth, threshold: float = 0.5) -> int:
    """Greedy one-to-one matching of ``[y1, x1, y2, x2]`` boxes at IoU >= threshold."""
    found = np.asarray(found, dtype=float).reshape(-1, 4) if np.size(found) else np.zeros((0, 4))
    used, matched = set(), 0
    for t in np.asarray(truth, dtype=float).reshape(-1, 4):
        scores = [(_iou(f, t), i) for i, f in enumerate(found) if i not in used]
        best = max(scores, default=(0.0, None))
        if best[0] >= threshold:
            used.add(best[1])
            matched += 1
    return matched


def box_recall(found, truth) -> float:
    return matched_boxes(found, truth) / max(len(np.asarray(truth).reshape(-1, 4)), 1)


def box_precision(found, truth) -> float:
    n = len(np.asarray(found).reshape(-1, 4)) if np.size(found) else 0
    return matched_boxes(found, truth) / n if n else 0.0


def bw_ok(bw, image, truth) -> float:
    """1.0 for a float image in [0, 1] of the photo's size with dark characters on white."""
    bw = np.asarray(bw, dtype=float)
    if bw.shape != np.asarray(image).shape[:2] or bw.min() < 0 or bw.max() > 1:
        return 0.0
    inside = np.zeros(bw.shape, bool)
    for y1, x1, y2, x2 in np.asarray(truth, dtype=int).reshape(-1, 4):
        inside[y1:y2, x1:x2] = True
    return float(bw[inside].mean() < bw[~inside].mean() and bw[~inside].mean() > 0.5)


def has_shape(a, *dims) -> float:
    """1.0 when ``a`` is an array of exactly this shape, else 0.0."""
    try:
        return float(np.shape(a) == tuple(int(d) for d in dims))
    except (TypeError, ValueError):
        return 0.0


def count(items, item) -> int:
    """How often ``item`` occurs in a list (``count(calls, 'relu')``)."""
    return sum(1 for x in list(items) if x == item)


def count_containing(items, text) -> int:
    """How many strings of a list contain ``text`` (``count_containing(files, 'test')``)."""
    return sum(1 for x in list(items) if str(text) in str(x))


def count_figures(drawn, *fields) -> int:
    """How many figures (``figures_drawn(...)`` summaries) have every named count above zero:
    ``count_figures(drawn, 'axes_3d', 'surfaces', 'scatters')``."""
    return sum(1 for f in list(drawn) if all(float(f.get(k, 0) or 0) > 0 for k in fields))


def _largest_scatter(drawn) -> np.ndarray | None:
    """The (x, y) of the largest 3-D scatter among the figures drawn, if it is usable."""
    points = max((np.asarray(f.get("scatter_xy") or [], dtype=float) for f in list(drawn)),
                 key=len, default=np.zeros((0, 2)))
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3 or not np.all(np.isfinite(points)):
        return None
    return points


def pca_plane(drawn) -> float:
    """How much the largest 3-D scatter drawn looks like scores on two principal directions: the
    two coordinates uncorrelated and the first spread at least as wide. 1.0 when both hold (|corr|
    below 0.2), scaled down as the correlation grows; 0.0 when there is no such scatter."""
    points = _largest_scatter(drawn)
    if points is None:
        return 0.0
    x, y = points[:, 0] - points[:, 0].mean(), points[:, 1] - points[:, 1].mean()
    sx, sy = float(np.sqrt((x ** 2).mean())), float(np.sqrt((y ** 2).mean()))
    if sx == 0 or sx < sy * 0.999:
        return 0.0
    corr = abs(float((x * y).mean()) / (sx * sy)) if sy > 0 else 0.0
    return float(max(0.0, min(1.0, (0.5 - corr) / 0.3)))


def in_principal_plane(drawn, watched) -> float:
    """How well the largest 3-D scatter drawn lies in the plane of the first two principal
    components of a trajectory a watched function was given (``watched(hw3, 'plotPath')``): the
    smaller R² of its x and of its y regressed on the trajectory's two principal-component scores,
    best over the recorded trajectories with as many points as the scatter; 0.0 when none has.

    The scores come from the trajectory's Gram matrix, recorded in the sandbox: double-centred, its
    top two eigenpairs (λ, u) give scores u·√λ, the same as projecting the centred points on their
    principal directions. R² ignores sign, scale (whitening) and shift (centring on the last point);
    ``pca_plane`` then tells the first direction from the second. A script that never called the
    watched function (it drew with its own helper) is judged by ``pca_plane`` alone."""
    points = _largest_scatter(drawn)
    if points is None:
        return 0.0
    watched = dict(watched)
    if not watched.get("calls"):
        return pca_plane(drawn)
    best = 0.0
    for gram in watched.get("grams", []):
        gram = np.asarray(gram, dtype=float)
        n = len(points)
        if gram.shape != (n, n) or not np.all(np.isfinite(gram)):
            continue
        centre = np.eye(n) - 1.0 / n
        values, vectors = np.linalg.eigh(centre @ gram @ centre)
        scores = vectors[:, -2:] * np.sqrt(np.clip(values[-2:], 0.0, None))
        design = np.column_stack([np.ones(n), scores])
        fit = []
        for coordinate in points.T:
            residual = coordinate - design @ np.linalg.lstsq(design, coordinate, rcond=None)[0]
            spread = float(((coordinate - coordinate.mean()) ** 2).sum())
            fit.append(1.0 - float((residual ** 2).sum()) / spread if spread > 0 else 0.0)
        best = max(best, min(fit))
    return best


def closest_function(candidates, expected) -> float:
    """The smallest worst-case relative error of any candidate's values against ``expected``
    (``rate_functions(...)`` results against a schedule at the same t); inf when there is none."""
    expected = np.asarray(expected, dtype=float)
    errors = [float(np.max(np.abs(np.asarray(v, dtype=float) - expected) / np.abs(expected)))
              for v in dict(candidates).values() if np.shape(v) == expected.shape]
    return min(errors, default=math.inf)


def flat(a) -> np.ndarray:
    """Each item as one row: (N, 28, 28) images as (N, 784)."""
    a = np.asarray(a)
    return a.reshape(len(a), -1)


def _shape_key(shape) -> tuple:
    """A weight matrix counts the same either way round: the handouts' ``X.mm(W)`` keeps
    (in, out), ``nn.Linear`` keeps (out, in)."""
    shape = tuple(int(d) for d in shape)
    return tuple(sorted(shape)) if len(shape) == 2 else shape


def same_shapes(shapes, expected) -> float:
    """1.0 when a model's parameter shapes are exactly ``expected`` in any order (weights of
    dense layers either way round), else 0.0."""
    try:
        return float(sorted(map(_shape_key, shapes)) == sorted(map(_shape_key, expected)))
    except (TypeError, ValueError):
        return 0.0


def includes_shapes(shapes, expected) -> float:
    """1.0 when every shape of ``expected`` is among a model's parameter shapes (each used once)."""
    try:
        pool = list(map(_shape_key, shapes))
        for key in map(_shape_key, expected):
            pool.remove(key)
    except (TypeError, ValueError):
        return 0.0
    return 1.0


def is_distribution(scores) -> float:
    """1.0 when every row is a probability distribution (softmax output), 0.0 for logits."""
    s = np.asarray(scores, dtype=float)
    return float(s.ndim == 2 and np.all(s >= 0) and np.allclose(s.sum(axis=1), 1.0, atol=1e-3))


def all_finite(a) -> float:
    """1.0 when an array holds no NaN or inf."""
    return float(np.all(np.isfinite(np.asarray(a, dtype=float))))


def has_dim(shapes, n) -> float:
    """1.0 when some weight matrix has ``n`` rows or columns (a dense layer taking ``n`` inputs)."""
    return float(any(len(s) == 2 and int(n) in map(int, s) for s in shapes))


def psnr(truth, pred) -> float:
    """Average per-image PSNR in dB for rows of pixels in [0, 1] (``skimage``'s data_range 1)."""
    truth, pred = np.asarray(truth, dtype=float), np.asarray(pred, dtype=float)
    if truth.shape != pred.shape or not np.isfinite(pred).all():
        return -math.inf
    mse = np.maximum(((truth - pred) ** 2).reshape(len(truth), -1).mean(axis=1), 1e-12)
    return float(np.mean(-10 * np.log10(mse)))


def cosine(a, b) -> float:
    """Cosine of the angle between two arrays seen as vectors; nan for a shape slip or zeros."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    scale = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / scale) if a.shape == b.shape and scale > 0 else math.nan


def rank(a) -> float:
    """Numerical rank of a matrix (NumPy's SVD tolerance)."""
    a = np.asarray(a, dtype=float)
    return float(np.linalg.matrix_rank(a)) if a.ndim == 2 and np.isfinite(a).all() else math.nan


def _normal_text(text) -> str:
    return "".join(str(text).upper().split())


def cer(output, truth) -> float:
    """Character error rate of ``truth`` found in ``output``: the fewest edits turning the truth into
    some stretch of the output, over the truth's length. Case and white space are ignored, and text
    printed before or after (file names, progress lines) costs nothing, so a script's printout can be
    judged as it is."""
    out, ref = _normal_text(output)[:200_000], _normal_text(truth)
    if not ref:
        return 0.0
    # semi-global edit distance: free start and end in ``out``
    previous = np.zeros(len(out) + 1, dtype=np.int64)
    for i, ch in enumerate(ref, start=1):
        current = np.empty_like(previous)
        current[0] = i
        match = previous[:-1] + (np.frombuffer(out.encode("utf-32-le"), dtype=np.uint32) != ord(ch))
        current[1:] = np.minimum(previous[1:] + 1, match)
        # insertions along the row need a running minimum: current[j] = min(current[j], current[j-1] + 1)
        current = np.minimum.accumulate(current - np.arange(len(current))) + np.arange(len(current))
        previous = current
    return float(previous.min() / len(ref))


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _align_from(start: np.ndarray, out: np.ndarray, ref: str, weight: float) -> np.ndarray:
    """Edit-distance rows of ``ref`` against ``out`` (each edit costing ``weight``) begun from
    ``start``: ``start[p]`` is the cost of beginning ``ref``'s stretch at output position ``p``.
    Returns the last row: the cost of ending it at each position."""
    steps = weight * np.arange(len(out) + 1)
    previous = start
    for ch in ref:
        current = np.empty_like(previous)
        current[0] = previous[0] + weight
        current[1:] = np.minimum(previous[1:] + weight, previous[:-1] + weight * (out != ord(ch)))
        # insertions along the row: current[j] = min(current[j], current[j-1] + weight)
        previous = np.minimum.accumulate(current - steps) + steps
    return previous


# The free length of a printout: the pages' own total length T plus an allowance, by default 3 T + 200
# characters, for file names, "Image 1:" labels, an accuracy line, and the text of the other images in
# the same folder. handout 004's run_q4.py reads the course's photos and the hidden pages in one run:
# the reference prints 564 characters, 204 of them the hidden pages' text (free length 1016) and 246
# the photos' (free length 1184). Its printout twice over fits the photos' and costs the hidden
# pages +0.11 (1128 characters); three times costs 0.6 and 1.
ALLOWANCE_TIMES, ALLOWANCE_PLUS = 3.0, 200
MAX_UNORDERED = 8  # pages matched in any order: 2^8 subsets of them at most


def ocr_error(output, pages, allowance=None, ordered=False) -> float:
    """How badly a script's printout reads a set of pages, on the scale of the mean character error
    rate over the pages (``cer``'s): 0 perfect, 1 the worst.

    Each page's true text is matched to its own stretch of the printout, the stretches never
    overlapping (one printed line cannot serve two pages, and a long printout cannot offer each page
    its best-looking stretch); the pages may come in any order (the handout's ``os.listdir`` order is
    the file system's), or only in the order given when ``ordered`` is true. Text before, between and
    after the stretches (file names, labels, other images' text) is free. The value is the mean over
    the pages of each page's fewest edits over its length -- the mean of ``cer`` over the pages
    whenever they are printed apart -- plus a length penalty: with F the free length (the pages' total
    T plus ``allowance``, by default 3 T + 200), each character printed beyond F adds 1 / F, so a
    printout twice the free length scores 1 whatever it resembles (such a printout is not aligned at
    all: 200 000 random letters cost no time). Case and white space are ignored, as by ``cer``.
    At most ``MAX_UNORDERED`` non-empty pages unless ``ordered``."""
    if isinstance(pages, (str, bytes)) or np.ndim(pages) == 0:  # one page, maybe a 0-d array
        pages = [pages]
    refs = [_normal_text(p) for p in pages]
    total = sum(map(len, refs))
    if total == 0:
        return 0.0
    free = total + float(ALLOWANCE_TIMES * total + ALLOWANCE_PLUS if allowance is None else allowance)
    out = _normal_text(output)[: int(2 * free) + 1]
    penalty = max(0.0, len(out) - free) / free
    if penalty >= 1.0:
        return 1.0
    codes = _codes(out)
    found = [(ref, 1.0 / (len(refs) * len(ref))) for ref in refs if ref]
    if ordered:
        best = np.zeros(len(out) + 1)
        for ref, weight in found:
            best = np.minimum.accumulate(_align_from(best, codes, ref, weight))
    else:
        if len(found) > MAX_UNORDERED:
            raise ValueError(f"ocr_error matches at most {MAX_UNORDERED} pages in any order")
        # best[used][p]: the least cost of matching the pages in the set ``used`` (a bit mask), each to
        # its own stretch, all within out[:p]; a set comes after all of its subsets (smaller masks)
        best = {0: np.zeros(len(out) + 1)}
        for used in range(1 << len(found)):
            if used not in best:
                continue
            for k, (ref, weight) in enumerate(found):
                if used >> k & 1:
                    continue
                ended = np.minimum.accumulate(_align_from(best[used], codes, ref, weight))
                key = used | 1 << k
                best[key] = ended if key not in best else np.minimum(best[key], ended)
        best = best[(1 << len(found)) - 1]
    # rounded: the float weights 1 / (pages x length) add up to 0.4999999999999999 for a half
    return round(float(min(1.0, best[-1] + penalty)), 9)

YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}


def yes_no(answer) -> float:
    """1.0 for a yes (YES, Yes., true: YAML reads a bare yes as True), 0.0 for a no, nan otherwise."""
    if isinstance(answer, (bool, np.bool_)):
        return float(answer)
    word = str(answer).strip().strip(".!").strip().lower()
    return 1.0 if word in YES else 0.0 if word in NO else math.nan


# ---- behaviour of numpy hand-ins: threshold networks, momentum updates, PCA projections ----------
# (judged from what the work does, whatever its variables are called)


def _dyadic(a) -> tuple[np.ndarray, np.ndarray]:
    """Finite floats as exact integers: ``a == m * 2**e`` with int64 ``m`` (53 bits) and ``e``."""
    fraction, exponent = np.frexp(np.asarray(a, dtype=float))
    return (fraction * 2.0 ** 53).astype(np.int64), exponent.astype(np.int64) - 53


def _exact_sign(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sign (-1, 0, 1) of ``X @ W.T + b`` computed exactly. Floats are binary fractions, so each
    product is an integer times a power of two; the sums are done in Python integers (numpy object
    arrays, one hidden unit at a time), where a tie is exactly 0 however the weights are scaled."""
    mx, ex = _dyadic(X)
    mw, ew = _dyadic(W)
    mb, eb = _dyadic(b)
    rows = len(X)
    signs = np.empty((rows, len(W)), dtype=np.int8)
    for i in range(len(W)):
        mantissas = np.concatenate([mx.astype(object) * mw[i].astype(object),
                                    np.full((rows, 1), int(mb[i]), dtype=object)], axis=1)
        exponents = np.concatenate([ex + ew[i], np.full((rows, 1), eb[i])], axis=1)
        total = np.left_shift(mantissas, (exponents - exponents.min()).astype(object)).sum(axis=1)
        signs[:, i] = (total > 0).astype(np.int8) - (total < 0).astype(np.int8)
    return signs


def step_network(X, W1, b1, w2, b2) -> np.ndarray:
    """Outputs (0 or 1 per row of ``X``) of a two-layer network of threshold units, sigma(z) = 1 for
    z >= 0, with every pre-activation decided in exact arithmetic: floating point leaves +-1e-16
    where the exact value is 0 (``W1 @ x`` with weights 3.5 and -3.5 on equal inputs), which would
    judge a strict network as accepting ties. NaN everywhere when a weight is not finite."""
    X = np.asarray(X, dtype=float)
    W1 = np.asarray(W1, dtype=float)
    b1, w2 = np.asarray(b1, dtype=float).reshape(-1), np.asarray(w2, dtype=float).reshape(-1)
    b2 = np.asarray(b2, dtype=float).reshape(-1)
    if X.ndim != 2 or W1.shape != (len(b1), X.shape[1]) or w2.shape != b1.shape or b2.shape != (1,):
        raise ValueError(f"weights of shapes W1 {W1.shape}, b1 {b1.shape}, w2 {w2.shape}, b2 {b2.shape} "
                         f"do not make a network on {X.shape[1]} inputs")
    if not all(np.all(np.isfinite(a)) for a in (X, W1, b1, w2, b2)):
        return np.full(len(X), math.nan)
    hidden = (_exact_sign(X, W1, b1) >= 0).astype(float)
    return (_exact_sign(hidden, w2.reshape(1, -1), b2)[:, 0] >= 0).astype(float)


MOMENTUM_MIN_STATES = 5     # four updates: the first from zero accumulators, three to fit the rule
MOMENTUM_FIT = 1e-3         # relative residual of the fitted rule (exact arithmetic leaves ~1e-10)
MOMENTUM_CARRY = 0.1        # gamma below this is plain gradient descent
MOMENTUM_FIRST_STEP = 1e-6  # 1 - cosine of the first update with the negative gradient
MOMENTUM_MAX_STATES = 8
MOMENTUM_MAX_VALUES = 1_000_000  # recorded values of one parameter judged at most (the fit's matrix
                                 # holds states - 1 times as many)


def _momentum_fit(values, grads) -> dict | None:
    """Fit one parameter's recorded updates to the momentum rule.

    ``values[k]`` is the parameter after k updates, ``grads[k]`` the gradient update k used. With
    D_k = W_k - W_(k-1), the handout's M = gamma M - lr G; W = W + M (and its other common forms,
    v = gamma v + G; W = W - lr v with a constant lr) gives D_k = gamma D_(k-1) - lr_k G_k for k >= 2,
    and D_1 = -lr_1 G_1 when M starts at zero. gamma and each lr_k are fitted by least squares; the
    relative residual says whether the rule holds at all. None when the parameter had no gradient."""
    try:
        V, G = np.asarray(values, dtype=float), np.asarray(grads, dtype=float)
    except (TypeError, ValueError):
        return None
    if V.shape != G.shape or V.ndim < 2 or len(V) < MOMENTUM_MIN_STATES or V[0].size == 0:
        return None
    V, G = V[:MOMENTUM_MAX_STATES], G[:MOMENTUM_MAX_STATES]
    if V.size > MOMENTUM_MAX_VALUES:
        return None
    states = len(V)
    D = np.diff(V.reshape(states, -1), axis=0)
    G = G.reshape(states, -1)[1:]
    if not (np.all(np.isfinite(D)) and np.all(np.isfinite(G))) or not np.any(G):
        return None
    size = D.shape[1]
    y = D[1:].ravel()
    A = np.zeros((y.size, states - 1))
    A[:, 0] = D[:-1].ravel()
    for k in range(1, states - 1):
        A[(k - 1) * size:k * size, k] = -G[k]
    scale = np.linalg.norm(A, axis=0)
    scale[scale == 0] = 1.0
    coef = np.linalg.lstsq(A / scale, y, rcond=None)[0] / scale
    moved = float(np.linalg.norm(y))
    residual = float(np.linalg.norm(y - A @ coef)) / moved if moved > 0 else math.inf
    first = cosine(D[0], -G[0])
    return {"gamma": float(coef[0]), "rates": coef[1:], "residual": residual,
            "zero_start": bool(first >= 1 - MOMENTUM_FIRST_STEP)}


def _momentum_fits(trace) -> list[dict]:
    """Fits of every parameter of a ``parameter_updates(...)`` record that had gradients."""
    try:
        params = dict(dict(trace).get("params") or {})
    except (TypeError, ValueError):
        return []
    fits = []
    for record in list(params.values())[:64]:
        try:
            fit = _momentum_fit(record["values"], record["grads"])
        except (KeyError, TypeError, IndexError, ValueError, np.linalg.LinAlgError):
            fit = None
        if fit is not None:
            fits.append(fit)
    return fits


def _follows_rule(fit: dict) -> bool:
    return fit["residual"] <= MOMENTUM_FIT and bool(np.all(fit["rates"] > 0))


def momentum_share(trace) -> float:
    """Share of a network's parameters (those with gradients) whose recorded updates are momentum
    steps from zero-initialised accumulators: the rule D_k = gamma D_(k-1) - lr G_k holds with
    gamma >= 0.1 and the first update is a plain gradient step. 0.0 when no updates were recorded.
    Where the accumulators live (``params['m_W1']``, ``params['mW1']``, a dict of their own, globals,
    locals) does not matter: only the parameters' movements are read."""
    fits = _momentum_fits(trace)
    good = [f for f in fits if _follows_rule(f) and f["gamma"] >= MOMENTUM_CARRY and f["zero_start"]]
    return len(good) / len(fits) if fits else 0.0


def momentum_gamma(trace) -> float:
    """The momentum coefficient of the recorded updates: the median of gamma over the parameters
    whose updates follow the rule (plain gradient descent: 0); nan when none does."""
    gammas = [f["gamma"] for f in _momentum_fits(trace) if _follows_rule(f)]
    return float(np.median(gammas)) if gammas else math.nan


PROJECTION_MAX = 16   # candidate projections judged at most


def _bases(found, side: int) -> list[np.ndarray]:
    """Orthonormal (side, k) bases of the subspaces spanned by ``projections(...)`` candidates:
    the judge re-derives them (SVD) rather than trusting the sandbox's orthonormality."""
    bases = []
    for candidate in list(found or [])[:PROJECTION_MAX]:
        try:
            B = np.asarray(candidate, dtype=float)
        except (TypeError, ValueError):
            continue
        if B.ndim != 2 or side not in B.shape or not 0 < B.size <= side * side or not np.all(np.isfinite(B)):
            continue
        B = B if B.shape[0] == side else B.T
        U, s, _ = np.linalg.svd(B, full_matrices=False)
        k = int(np.sum(s > s[0] * 1e-8)) if s[0] > 0 else 0
        if 0 < k < side:
            bases.append(U[:, :k])
    return bases


def projection_dims(found, want, side=1024) -> float:
    """The dimension (rank) of the projection found that is closest to ``want``; nan when none."""
    dims = [b.shape[1] for b in _bases(found, int(side))]
    return float(min(dims, key=lambda k: (abs(k - want), k))) if dims else math.nan


def projection_psnr(found, x, train, most) -> float:
    """Average PSNR (dB) of held-out images ``x`` reconstructed by the judge with each projection
    found of at most ``most`` dimensions: the images' offset from the training mean projected and
    the mean added back, or (a projection fitted to uncentred data) the images projected as they
    are; clipped to [0, 1]. The best over projections and both ways; -inf when none is usable."""
    x = flat(np.asarray(x, dtype=float))
    mean = flat(np.asarray(train, dtype=float)).mean(axis=0)
    best = -math.inf
    for Q in _bases(found, x.shape[1]):
        if Q.shape[1] > most:
            continue
        for offset in (mean, np.zeros_like(mean)):
            recon = np.clip((x - offset) @ Q @ Q.T + offset, 0.0, 1.0)
            best = max(best, psnr(x, recon))
    return best


NUMPY_BEHAVIOUR = {"step_network": step_network, "momentum_share": momentum_share,
                   "momentum_gamma": momentum_gamma, "projection_dims": projection_dims,
                   "projection_psnr": projection_psnr}

# ---- behaviour of PyTorch training: credit that needs a model which learned, and searches counted by
# their training runs (the observations come from the sandbox's autograder.worker.instances)


class Untrained(ValueError):
    """A value that earns nothing because the model it describes did not learn."""


def counted_if(value, measure, floor, what="held-out score"):
    """``value`` when ``measure`` (a held-out accuracy, a reconstruction gain, a step count) reaches
    ``floor``; else the threshold earns nothing, and says why. The layers of a network that never
    learned are no work: ``counted_if(convolutions, max(accuracy(p, y), accuracy(pt, y)), 0.2)``."""
    measure, floor = float(measure), float(floor)
    if not measure >= floor:  # NaN too
        raise Untrained(f"{what} {measure:.3g} is below {floor:g}: credited only for a model that learned")
    return value


def gain_over_mean(recon, truth) -> float:
    """How much better than the mean image a reconstruction is: 1 - MSE(recon) / MSE(mean image),
    over held-out rows (1 perfect, 0 no better than drawing every image as their mean, negative
    worse); -inf for a shape slip or non-finite values."""
    truth, recon = flat(np.asarray(truth, dtype=float)), np.asarray(recon, dtype=float)
    if recon.size != truth.size or not np.isfinite(recon).all():
        return -math.inf
    recon = recon.reshape(truth.shape)
    baseline = float(((truth - truth.mean(axis=0)) ** 2).mean())
    return 1.0 - float(((recon - truth) ** 2).mean()) / baseline if baseline > 0 else -math.inf


def _runs(runs) -> list[dict]:
    """Training runs as the sandbox reported them (``training_runs(...)``), malformed entries dropped."""
    out = []
    for r in list(runs)[:100_000]:
        try:
            out.append({"created": float(r["created"]), "calls": float(r["calls"]), "first": float(r["first"]),
                        "last": float(r["last"]), "rows": [int(v) for v in list(r.get("rows", []))[:64]],
                        "during": [str(v) for v in list(r.get("during", []))[:16]]})
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return out


def _search_runs(runs, name) -> tuple[list[dict], bool]:
    """The training runs of a hyper-parameter search, and whether a function ``name`` bounds it.

    The runs whose training calls happened while a function ``name`` ran (a module-level function,
    a method, a nested one); when no such run exists (the loop over settings is written in
    ``__main__``, or the function only picks the best), the runs that ended before the final
    network's training began, the final network being the run trained longest (ties: the first)."""
    runs = _runs(runs)
    inside = [r for r in runs if str(name) in r["during"]]
    if inside or not runs:
        return inside, bool(inside)
    final = min(runs, key=lambda r: (-r["calls"], r["created"]))
    return [r for r in runs if r["last"] < final["first"]], False


def search_settings(runs, optimizers, name) -> int:
    """How many settings a search trained: its distinct training runs (models whose parameters
    changed, by hand or by an optimizer: :func:`_search_runs`), or, inside a function ``name``,
    the optimizers that stepped there when that is more (one model re-initialised per setting)."""
    search, bound = _search_runs(runs, name)
    stepped = 0
    if bound:
        for o in list(optimizers)[:100_000]:
            try:
                stepped += int(str(name) in [str(v) for v in o["during"]] and float(o["steps"]) > 0)
            except (KeyError, TypeError, ValueError):
                continue
    return max(len(search), stepped)


def search_test_files(runs, opens, files, name) -> int:
    """Test files read during the search (1 when no search was found): those opened while the
    function ``name`` ran (``files``, from ``watched(...)``), or, for a search without one, those
    opened (``opens``: ``[[file, time], ...]``) between its first and last training call."""
    search, bound = _search_runs(runs, name)
    if not search:
        return 1
    if bound:
        return count_containing(files, "test")
    start, end = min(r["first"] for r in search), max(r["last"] for r in search)
    hits = 0
    for entry in list(opens)[:100_000]:
        try:
            file, when = entry
            hits += int("test" in str(file) and start <= float(when) <= end)
        except (TypeError, ValueError):
            continue
    return hits


def search_test_arrays(runs, arg_rows, name, rows) -> int:
    """How often the search saw the test split (1 when no search was found): a search run called on
    an input of the test split's row count, and (with a function ``name``) arguments of that count
    handed to it (``arg_rows``, from ``watched(...)``)."""
    search, bound = _search_runs(runs, name)
    if not search:
        return 1
    seen = sum(1 for r in search if int(rows) in r["rows"])
    return seen + (count(arg_rows, int(rows)) if bound else 0)


BEHAVIOUR_METRICS = {"counted_if": counted_if, "gain_over_mean": gain_over_mean, "search_settings": search_settings,
                     "search_test_files": search_test_files, "search_test_arrays": search_test_arrays}


FUNCTIONS = {"sqrt": math.sqrt, "log": math.log, "exp": math.exp, "abs": abs, "min": min, "max": max,
             "int": int, "float": float, "log10": math.log10, "mean": lambda a: float(np.mean(a)),
             "accuracy": accuracy, "relerr": relerr, "identical": identical, "box_recall": box_recall,
             "box_precision": box_precision, "bw_ok": bw_ok, "has_shape": has_shape, "psnr": psnr,
             "cosine": cosine, "rank": rank, "cer": cer, "ocr_error": ocr_error, "yes_no": yes_no, "count": count, "count_containing": count_containing, "count_figures": count_figures, "flat": flat, "pca_plane": pca_plane, "in_principal_plane": in_principal_plane, "closest_function": closest_function,
             "same_shapes": same_shapes, "includes_shapes": includes_shapes, "has_dim": has_dim,
             "is_distribution": is_distribution, "all_finite": all_finite, **NUMPY_BEHAVIOUR, **BEHAVIOUR_METRICS}
ATTRIBUTES = {"shape", "size", "ndim"}
BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow, ast.Mod: operator.mod}
UNOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class ExprError(ValueError):
    pass


def names_in(text: str) -> set[str]:
    tree = _parse(text)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


def _parse(text: str) -> ast.Expression:
    try:
        return ast.parse(str(text), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"not an expression: {text!r}") from exc


def evaluate(text, names: dict):
    """Evaluate ``text`` (or return a number unchanged) with ``names`` bound."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return text
    return _eval(_parse(text).body, names, text)


def _eval(node, names, text):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):  # an expected architecture: [[784, 200], [200]]
        return [_eval(e, names, text) for e in node.elts]
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ExprError(f"unknown name {node.id!r} in {text!r}")
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        return BINOPS[type(node.op)](_eval(node.left, names, text), _eval(node.right, names, text))
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNOPS:
        return UNOPS[type(node.op)](_eval(node.operand, names, text))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
            and not node.keywords:
        return FUNCTIONS[node.func.id](*(_eval(a, names, text) for a in node.args))
    if isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES:
        return getattr(np.asarray(_eval(node.value, names, text)), node.attr)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return _eval(node.value, names, text)[node.slice.value]
    raise ExprError(f"{ast.dump(node)[:40]}... is not allowed in {text!r}")
