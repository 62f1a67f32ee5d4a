"""Old library APIs that students' code of 2018-2023 calls, bridged to today's libraries.

The table (:data:`TABLE`) is data: one entry per thing a library removed or renamed, with the
library, the version that removed it, the module it lives in and how it is bridged. An entry is
either

* ``Removed``: attributes gone from a module (``np.float``, ``skimage.measure.compare_psnr``,
  ``scipy.misc.imresize``), each served by its replacement (``"module:attribute"``; a leading dot
  names a function of :mod:`.compat_legacy`, which keeps an old semantics), or
* ``Changed``: functions whose arguments changed (``multichannel=``, ``selem=``, ``pretrained=True``
  offline), each wrapped by a bridge of :mod:`.compat_legacy` that rewrites the old call.

:func:`install` applies the whole table lazily: nothing is imported until the student's code imports
the module (:func:`.hooks.after_import`), and a removed attribute is served only to the student's
own code (a library asking ``hasattr(np, "float_")`` to pick a code path still gets the truth).
Every bridge that fires is recorded once (:func:`record`); the record travels with every reply
and ends up in the grade's report. To bridge something new, add an entry here and a test in
``tests/test_compat.py``.
"""
from __future__ import annotations

import functools
import importlib
import os
import sys
from dataclasses import dataclass, field

from . import hooks, imports

MAX_RECORDED = 100  # distinct old calls; the grader keeps as many (sandbox/process.py)


@dataclass(frozen=True)
class Removed:
    """Attributes removed from a module: ``names`` is ``{module: {old name: replacement}}``."""

    id: str
    library: str
    removed_in: str
    names: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Changed:
    """Functions whose call changed: ``functions`` is ``{module: (name, ...)}``, each wrapped by the
    bridge ``bridge`` (a factory of :mod:`.compat_legacy`) given ``options``."""

    id: str
    library: str
    removed_in: str
    functions: dict[str, tuple[str, ...]]
    bridge: str
    options: dict = field(default_factory=dict)
    why: str = ""  # when nothing was removed: why the call cannot run as written here


_NUMPY_2_0 = {"float_": "numpy:float64", "complex_": "numpy:complex128", "string_": "numpy:bytes_",
              "unicode_": "numpy:str_", "cfloat": "numpy:complex128", "singlecomplex": "numpy:complex64",
              "longfloat": "numpy:longdouble", "longcomplex": "numpy:clongdouble",
              "clongfloat": "numpy:clongdouble", "NaN": "numpy:nan", "Inf": "numpy:inf",
              "Infinity": "numpy:inf", "infty": "numpy:inf", "PINF": "numpy:inf", "NINF": ".compat_legacy:NINF",
              "round_": "numpy:round", "alltrue": "numpy:all", "sometrue": "numpy:any",
              "asfarray": ".compat_legacy:asfarray", "mat": "numpy:asmatrix"}

_SELEM = {"skimage.filters": ("median",),
          "skimage.filters.rank": (
              "autolevel", "autolevel_percentile", "enhance_contrast", "enhance_contrast_percentile", "entropy",
              "equalize", "geometric_mean", "gradient", "gradient_percentile", "majority", "maximum", "mean",
              "mean_bilateral", "mean_percentile", "median", "minimum", "modal", "noise_filter", "otsu",
              "percentile", "pop", "pop_bilateral", "pop_percentile", "subtract_mean",
              "subtract_mean_percentile", "sum", "sum_bilateral", "sum_percentile", "threshold",
              "threshold_percentile", "windowed_histogram"),
          "skimage.morphology": (
              "binary_closing", "binary_dilation", "binary_erosion", "binary_opening", "black_tophat", "closing",
              "dilation", "erosion", "flood", "flood_fill", "h_maxima", "h_minima", "local_maxima",
              "local_minima", "opening", "reconstruction", "white_tophat")}

TABLE: tuple = (
    Removed("numpy-builtin-aliases", "NumPy", "1.24",
            {"numpy": {"float": "builtins:float", "int": "builtins:int", "object": "builtins:object",
                       "str": "builtins:str", "complex": "builtins:complex"}}),
    Removed("numpy-2.0-aliases", "NumPy", "2.0", {"numpy": _NUMPY_2_0}),
    Removed("numpy-2.4-functions", "NumPy", "2.4",
            {"numpy": {"trapz": "numpy:trapezoid", "in1d": ".compat_legacy:in1d"}}),
    Changed("skimage-multichannel", "scikit-image", "0.20", {
        "skimage.draw": ("random_shapes",),
        "skimage.exposure": ("match_histograms",),
        "skimage.feature": ("hog", "multiscale_basic_features"),
        "skimage.filters": ("difference_of_gaussians", "gaussian", "unsharp_mask"),
        "skimage.metrics": ("structural_similarity",),
        "skimage.restoration": ("cycle_spin", "denoise_bilateral", "denoise_nl_means", "denoise_tv_bregman",
                                "denoise_tv_chambolle", "denoise_wavelet", "estimate_sigma", "inpaint_biharmonic"),
        "skimage.segmentation": ("felzenszwalb", "random_walker", "slic"),
        "skimage.transform": ("pyramid_expand", "pyramid_gaussian", "pyramid_laplacian", "pyramid_reduce",
                              "rescale", "warp_polar"),
        "skimage.util": ("apply_parallel", "montage")}, ".compat_legacy:multichannel"),
    Changed("skimage-selem", "scikit-image", "0.20", _SELEM, ".compat_legacy:renamed",
            {"selem": "footprint"}),
    Changed("skimage-iterations", "scikit-image", "0.20", {
        "skimage.filters": ("threshold_minimum",),
        "skimage.morphology": ("thin",),
        "skimage.restoration": ("denoise_tv_bregman", "denoise_tv_chambolle", "richardson_lucy"),
        "skimage.segmentation": ("active_contour", "chan_vese", "morphological_chan_vese",
                                 "morphological_geodesic_active_contour", "slic")},
        ".compat_legacy:renamed", {"max_iter": "max_num_iter", "n_iter_max": "max_num_iter",
                                   "max_iterations": "max_num_iter", "iterations": "num_iter"}),
    Changed("skimage-label-input", "scikit-image", "0.20",
            {"skimage.measure": ("label", "find_contours")}, ".compat_legacy:renamed",
            {"input": "label_image", "array": "image"}),
    Changed("skimage-in-place", "scikit-image", "0.20",
            {"skimage.morphology": ("remove_small_holes", "remove_small_objects"),
             "skimage.segmentation": ("clear_border",)}, ".compat_legacy:in_place"),
    Changed("skimage-as-grey", "scikit-image", "0.16", {"skimage.io": ("imread",)},
            ".compat_legacy:renamed", {"as_grey": "as_gray", "flatten": "as_gray"}),
    Removed("skimage-compare-metrics", "scikit-image", "0.18",
            {"skimage.measure": {"compare_psnr": "skimage.metrics:peak_signal_noise_ratio",
                                 "compare_ssim": "skimage.metrics:structural_similarity",
                                 "compare_mse": "skimage.metrics:mean_squared_error",
                                 "compare_nrmse": "skimage.metrics:normalized_root_mse"}}),
    Removed("skimage-moved-0.19", "scikit-image", "0.19",
            {"skimage.color": {"rgb2grey": "skimage.color:rgb2gray", "grey2rgb": "skimage.color:gray2rgb"},
             "skimage.morphology": {"watershed": "skimage.segmentation:watershed"},
             "skimage.feature": {"register_translation": ".compat_legacy:register_translation"}}),
    Removed("skimage-grey-texture", "scikit-image", "0.20",
            {"skimage.feature": {"greycomatrix": "skimage.feature:graycomatrix",
                                 "greycoprops": "skimage.feature:graycoprops"}}),
    Removed("scipy-misc-images", "SciPy", "1.3",
            {"scipy.misc": {"imread": ".compat_legacy:imread", "imsave": ".compat_legacy:imsave",
                            "imresize": ".compat_legacy:imresize", "bytescale": ".compat_legacy:bytescale",
                            "toimage": ".compat_legacy:toimage", "fromimage": ".compat_legacy:fromimage"}}),
    Removed("scipy-misc-aliases", "SciPy", "1.3",
            {"scipy.misc": {"logsumexp": "scipy.special:logsumexp", "comb": "scipy.special:comb",
                            "factorial": "scipy.special:factorial"}}),
    Removed("torchvision-transform-names", "torchvision", "0.12",
            {"torchvision.transforms": {"Scale": "torchvision.transforms:Resize",
                                        "RandomSizedCrop": "torchvision.transforms:RandomResizedCrop"}}),
    Changed("torchvision-offline-weights", "torchvision", "", {"torchvision.models": (
        "alexnet", "convnext_tiny", "densenet121", "densenet161", "densenet169", "densenet201",
        "efficientnet_b0", "efficientnet_b1", "googlenet", "inception_v3", "mnasnet1_0", "mobilenet_v2",
        "mobilenet_v3_large", "mobilenet_v3_small", "regnet_y_400mf", "resnet101", "resnet152", "resnet18",
        "resnet34", "resnet50", "resnext50_32x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
        "squeezenet1_0", "squeezenet1_1", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
        "vgg19", "vgg19_bn", "vit_b_16", "wide_resnet50_2")}, ".compat_legacy:offline_weights",
        why="the grader is offline: pretrained weights cannot be downloaded"),
    Changed("torch-load-pickled-model", "PyTorch", "", {"torch": ("load",)}, ".compat_legacy:full_pickle",
            why="torch 2.6 made torch.load(weights_only=True) the default, which refuses a whole pickled model"),
)

ENTRIES = {entry.id: entry for entry in TABLE}

_fired: dict[tuple, dict] = {}
_installed: list[bool] = []


def install() -> None:
    """Bridge every entry of the table, each when the student's code imports its module (once)."""
    if _installed:
        return
    _installed.append(True)
    modules: dict[str, list] = {}
    for entry in TABLE:
        for module in (entry.names if isinstance(entry, Removed) else entry.functions):
            modules.setdefault(module, []).append(entry)
    for module, entries in modules.items():
        hooks.after_import(module, functools.partial(_bridge_module, entries))


def record() -> list[dict]:
    """Every bridge that fired, in order: ``{"shim", "old", "new", "where"}``."""
    return list(_fired.values())


def why(entry_id: str) -> str:
    """Why a call needed a bridge, for the report: ``"removed in scikit-image 0.20"``."""
    entry = ENTRIES.get(entry_id)
    if entry is None:
        return ""
    if entry.removed_in:
        return f"removed in {entry.library} {entry.removed_in}"
    return getattr(entry, "why", "") or entry.library


def sentence(fired: dict) -> str:
    """One report line for a bridge that fired (``fired`` is a record already checked by the grader)."""
    where = f", {fired['where']}" if fired.get("where") else ""
    return f"compatibility: {fired['old']} ran as {fired['new']} ({why(fired['shim'])}{where})"


def fire(entry_id: str, old: str, new: str, frame=None) -> None:
    """Note that a bridge ran (once per entry and old call)."""
    key = (entry_id, old)
    if key in _fired or len(_fired) >= MAX_RECORDED:
        return
    if frame is None:
        frame = _nearest_student_frame(sys._getframe(1))
    _fired[key] = {"shim": entry_id, "old": old, "new": new, "where": _where(frame)}


def resolve(ref: str):
    """``"module:attribute"`` (a leading dot: this package's module) as the object it names."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module, __package__), attribute)


# -- applying the table to one module -----------------------------------------------------------
def _bridge_module(entries: list, module) -> None:
    removed: dict[str, tuple] = {}
    wrappers: dict[str, list] = {}
    for entry in entries:
        if isinstance(entry, Removed):
            for name, ref in entry.names[module.__name__].items():
                removed[name] = (entry, ref)
        else:
            factory = resolve(entry.bridge)
            for name in entry.functions[module.__name__]:
                wrappers.setdefault(name, []).append((entry, factory))
    qualified = module.__name__

    def wrap(name: str, function):
        for entry, factory in wrappers[name]:
            function = factory(function, f"{qualified}.{name}", functools.partial(fire, entry.id), entry.options)
        return function

    for name in wrappers:
        if callable(module.__dict__.get(name)):
            module.__dict__[name] = wrap(name, module.__dict__[name])
    original = module.__dict__.get("__getattr__")

    def __getattr__(name: str):
        if name in removed:
            caller = _outside_machinery(sys._getframe(1))
            if _is_students(caller):
                entry, ref = removed[name]
                value = resolve(ref)
                fire(entry.id, f"{qualified}.{name}", _describe(ref), caller)
                return value
        if original is None:
            raise AttributeError(f"module {qualified!r} has no attribute {name!r}")
        value = original(name)
        if name in wrappers and callable(value):  # a lazily loaded function (scikit-image): wrap once
            value = wrap(name, value)
            module.__dict__[name] = value
        return value

    module.__getattr__ = __getattr__


def _describe(ref: str) -> str:
    module, _, attribute = ref.partition(":")
    if module == "builtins":
        return attribute
    if module.startswith("."):
        return f"the grader's re-implementation of the old {attribute}"
    return f"{module}.{attribute}"


# -- whose code is calling (the import recorder's verdicts: one notion of "the student's code") --
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _recorder_on() -> bool:
    return bool(imports._state)


def _outside_machinery(frame):
    """``frame``, or the first frame above it that is not the import system nor this package."""
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen ")
                                 or frame.f_code.co_filename.startswith(_PACKAGE_DIR)):
        frame = frame.f_back
    return frame


def _is_students(frame) -> bool:
    """Code of the submission, not a library's (a worker without the import recorder, e.g. a
    benchmark calling :func:`install` in-process, treats every caller as the student)."""
    if frame is None:
        return False
    return not _recorder_on() or imports._is_students(frame.f_code.co_filename)


def _nearest_student_frame(frame):
    """The innermost frame of the student's code at or above ``frame`` (else the first caller
    outside the import system and this package)."""
    frame = _outside_machinery(frame)
    probe, depth = frame, 0
    while probe is not None and depth < 40:
        if _is_students(probe):
            return probe
        probe, depth = probe.f_back, depth + 1
    return frame


def _where(frame) -> str:
    if frame is None:
        return ""
    if _recorder_on():
        return imports._where(frame)
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
