"""Probe scenarios as rubric data: randomised inputs, a few call statements, named observations.

A probe is what the sandbox runs. Its inputs are drawn by the grader from the submission's seed
(so hard-coded answers fail and a regrade reproduces them), sent to the worker, and the very same
inputs are given to the reference solution.
"""
from __future__ import annotations

import ast
import contextvars
from pathlib import Path
from typing import Annotated, Any, Union

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from . import expr

Shape = list[Union[int, str]]
GENERATOR_KINDS = ("normal", "uniform", "onehot", "simplex", "randint", "value", "dim", "entries",
                   "distinct_rows", "text", "dataset", "image", "json_field")


def names_used(texts: list[str]) -> set[str]:
    """Every name these statements or expressions mention."""
    used = set()
    for text in texts:
        used |= {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
    return used


def modules_used(texts: list[str], known_modules: set[str]) -> list[str]:
    """Which of the rubric's files these statements refer to (so the worker loads just those)."""
    return sorted(names_used(texts) & known_modules)


ALLOWED_NODES = (ast.Module, ast.Expression, ast.Assign, ast.Expr, ast.Call, ast.Name, ast.Attribute,
                 ast.Subscript, ast.Constant, ast.Tuple, ast.List, ast.Dict, ast.BinOp, ast.UnaryOp,
                 ast.keyword, ast.Slice, ast.Load, ast.Store, ast.operator, ast.unaryop)


def _check_nodes(tree, text):
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            raise ValueError(f"{type(node).__name__} is not allowed in {text!r}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ValueError(f"private attribute {node.attr!r} in {text!r}")


def check_statement(text: str) -> None:
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        raise ValueError(f"not a Python statement: {text!r} ({exc.msg})") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.Assign, ast.Expr)):
        raise ValueError(f"a step is one assignment or call: {text!r}")
    _check_nodes(tree, text)


def check_expression(text: str) -> str:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a Python expression: {text!r} ({exc.msg})") from None
    _check_nodes(tree, text)
    return text


def check_statements(steps: list[str]) -> list[str]:
    for step in steps:
        check_statement(step)
    return steps


# rubric field types: validated when the rubric loads, so a typo never reaches a sandbox
Steps = Annotated[list[str], AfterValidator(check_statements)]
Expression = Annotated[str, AfterValidator(check_expression)]



class DataRef(BaseModel):
    """Values from a dataset of :mod:`autograder.data`: ``{name: nist36, file: nist36_test.mat, key: test_data}``.

    ``.mat``/``.npz``/``.npy`` give arrays, ``.jpg``/``.png`` a float image in [0, 1], ``.json``/``.yaml``
    the entry ``key`` (then ``field`` of each item, like ``chars.bbox`` for :class:`JsonRef`).
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    file: str
    key: str | None = Field(None, description=".mat key, .npz entry, or JSON/YAML entry; none for .npy "
                                             "and IDX files; images or labels for an ImageFolder split")
    field: str | None = Field(None, description="JSON/YAML: this field of each item of the entry")
    rows: tuple[int, int] | None = Field(
        None, description="[start, stop): only these rows, e.g. the part of a training split the "
                          "course's code never reads, held out for the judge")


class JsonRef(BaseModel):
    """Values from a JSON file (relative to the rubric): ``field: chars.bbox`` -> [c["bbox"] for c in chars]."""

    model_config = ConfigDict(extra="forbid")
    path: str
    field: str


class InputSpec(BaseModel):
    """One input: exactly one generator kind, plus its modifiers.

    ``normal: [N, D]`` (``scale``, ``shift``), ``uniform: [N]`` (``low``, ``high``),
    ``onehot: [N, C]``, ``simplex: [N, C]`` (rows of probabilities), ``randint: [N]`` (``low``,
    ``high``), ``distinct_rows: [N, D]`` (rows that identify their index), ``dim: N`` (an integer),
    ``value: <literal>``, ``text: <string>``, ``dict: {key: <input>}``.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    normal: Shape | None = None
    uniform: Shape | None = None
    onehot: Shape | None = None
    simplex: Shape | None = None
    randint: Shape | None = None
    distinct_rows: Shape | None = None
    value: Any = None
    dim: str | int | None = None
    text: str | None = None
    entries: dict[str, "InputSpec"] | None = Field(None, alias="dict")
    dataset: DataRef | None = None
    image: str | None = Field(None, description="an image file (relative to the rubric): float RGB in [0, 1]")
    json_field: JsonRef | None = Field(None, alias="json")
    scale: float = 1.0
    shift: float = 0.0
    low: float = -1.0
    high: float = 1.0
    dtype: str = "float64"

    @model_validator(mode="after")
    def _one_kind(self):
        chosen = [k for k in GENERATOR_KINDS if getattr(self, k) is not None]
        if len(chosen) != 1:
            names = ", ".join(k.replace("entries", "dict").replace("json_field", "json") for k in GENERATOR_KINDS)
            raise ValueError(f"give exactly one of {names} (got {chosen or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in GENERATOR_KINDS if getattr(self, k) is not None)


class Probe(BaseModel):
    """What the worker runs: ``dims`` (ranges or expressions), ``inputs``, ``steps``, ``observe``."""

    model_config = ConfigDict(extra="forbid")
    dims: dict[str, Union[int, list[int], str]] = Field(default_factory=dict)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    steps: Steps
    observe: dict[str, Expression]

    def module_names(self, known_modules: set[str]) -> list[str]:
        return modules_used(self.steps + list(self.observe.values()), known_modules)

    def unknown_names(self, known_modules: set[str]) -> set[str]:
        """Names neither inputs, modules, assigned by an earlier step, nor safe builtins."""
        from ..worker.scenario import SAFE_BUILTINS

        known = set(self.inputs) | known_modules | set(SAFE_BUILTINS) | {"np"}
        unknown = set()
        for step in self.steps:
            tree = ast.parse(step)
            loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            unknown |= loads - known
            known |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for text in self.observe.values():
            unknown |= {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)} - known
        return unknown


# --------------------------------------------------------------------------------------------
# drawing dims and inputs


def draw_dims(spec: dict, rng: np.random.Generator) -> dict[str, int]:
    dims: dict[str, int] = {}
    for name, rule in spec.items():
        if isinstance(rule, list):
            dims[name] = int(rng.integers(rule[0], rule[1] + 1))
        else:
            dims[name] = int(expr.evaluate(rule, dims))
    return dims


def draw_inputs(specs: dict[str, InputSpec], dims: dict, rng: np.random.Generator) -> dict:
    return {name: draw(spec, dims, rng) for name, spec in specs.items()}


_DATA_CACHE: dict[tuple, np.ndarray] = {}
# the rubric being graded: file inputs are relative to it (set by the grader around planning)
RUBRIC_DIR: contextvars.ContextVar = contextvars.ContextVar("rubric_dir")


def load_image(path: Path) -> np.ndarray:
    key = ("image", str(path))
    if key not in _DATA_CACHE:
        import skimage
        import skimage.io

        _DATA_CACHE[key] = skimage.img_as_float(skimage.io.imread(path))
    return _DATA_CACHE[key]


def load_json_field(path: Path, field: str) -> np.ndarray:
    import json

    value = json.loads(path.read_text())
    head, _, rest = field.partition(".")
    items = value[head]
    return np.array([item[rest] for item in items] if rest else items)


IMAGE_FOLDER_SIDE = 256


def load_image_folder(folder: Path, key: str | None) -> np.ndarray:
    """A split in torchvision's ImageFolder layout (``<class>/<image>``): ``key: images`` gives the
    images as uint8 (N, H, W, 3) in ImageFolder's order, ``key: labels`` their class indices (class
    folders sorted, as ImageFolder numbers them). Images of different sizes (the real flowers17) are
    cropped to their central square and resized to 256 x 256 so they stack; the student's own
    transform (Resize, CenterCrop) still applies to them in the sandbox."""
    from PIL import Image

    if key not in ("images", "labels"):
        raise ValueError(f"{folder}: an image folder gives key 'images' or 'labels', not {key!r}")
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    files = [(i, f) for i, c in enumerate(classes) for f in sorted((folder / c).iterdir()) if f.is_file()]
    if key == "labels":
        return np.array([i for i, _ in files])
    images = [np.asarray(Image.open(f).convert("RGB")) for _, f in files]
    if len({im.shape for im in images}) > 1:
        images = [_square(im, IMAGE_FOLDER_SIDE) for im in images]
    return np.stack(images)


def _square(image: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = Image.fromarray(image[top:top + s, left:left + s])
    return np.asarray(crop.resize((side, side), Image.BILINEAR))


def load_data_array(ref: DataRef) -> np.ndarray:
    """Loaded once per process: a held-out split is reused by every submission of a batch."""
    key = (ref.name, ref.file, ref.key, ref.field, ref.rows)
    if key not in _DATA_CACHE:
        from ..data import resolve

        path = resolve(ref.name).folder / ref.file
        if path.is_dir():
            value = load_image_folder(path, ref.key)
        elif path.suffix == ".mat":
            import scipy.io
            value = scipy.io.loadmat(path)[ref.key]
        elif path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            value = load_image(path)
        elif path.suffix in (".json", ".yaml", ".yml"):
            import yaml  # JSON is YAML

            items = yaml.safe_load(path.read_text())[ref.key]
            if ref.field:
                items = [item[ref.field] for item in items]
            elif isinstance(items, list) and all(isinstance(i, str) for i in items):
                items = "\n".join(items)  # lines of text
            value = items if isinstance(items, str) else np.array(items)
        elif path.name.endswith(("-ubyte", "-ubyte.gz", ".idx")):  # MNIST's IDX format
            from ..data import idx
            value = idx.read(path)
        else:
            loaded = np.load(path, allow_pickle=False)
            value = loaded[ref.key] if ref.key else loaded
        if ref.rows is not None:
            value = np.array(value[ref.rows[0]:ref.rows[1]])  # a copy: the file's buffer can go
        _DATA_CACHE[key] = value
    return _DATA_CACHE[key]


def draw(spec: InputSpec, dims: dict, rng: np.random.Generator):
    kind = spec.kind
    if kind == "entries":
        return {k: draw(v, dims, rng) for k, v in spec.entries.items()}
    if kind == "value":
        return np.array(spec.value, dtype=spec.dtype) if isinstance(spec.value, list) else spec.value
    if kind == "text":
        return spec.text
    if kind == "dataset":
        return load_data_array(spec.dataset)
    if kind == "image":
        return load_image(RUBRIC_DIR.get() / spec.image)
    if kind == "json_field":
        return load_json_field(RUBRIC_DIR.get() / spec.json_field.path, spec.json_field.field)
    if kind == "dim":
        return int(expr.evaluate(spec.dim, dims))
    shape = tuple(int(expr.evaluate(s, dims)) for s in getattr(spec, kind))
    if kind == "normal":
        out = rng.normal(spec.shift, spec.scale, size=shape)
    elif kind == "uniform":
        out = rng.uniform(spec.low, spec.high, size=shape)
    elif kind == "randint":
        return rng.integers(int(spec.low), int(spec.high), size=shape)
    elif kind == "onehot":
        n, c = shape
        out = np.zeros(shape)
        out[np.arange(n), rng.integers(0, c, size=n)] = 1.0
    elif kind == "simplex":
        out = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    else:  # distinct_rows: row i starts with i, so a shuffled row tells where it came from
        out = rng.normal(size=shape)
        out[:, 0] = np.arange(shape[0])
    return out.astype(spec.dtype)
