"""The compatibility table (autograder/worker/compat.py): every entry bridged in a real sandboxed worker.

For each entry, a student module written against the old API (``old_api.py``) and one written
against today's (``new_api.py``) run in two sandboxed workers: the values agree, the reply of the
old call records that entry's bridge, and the modern module records nothing at all. Plus the table
itself (every function it names exists and takes the new argument), the grader's sanitising of
the record, and one end-to-end grade of a q4.py with ``multichannel=True``.
"""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox.process import WorkerProcess, answer_of
from autograder.sandbox.layers import detect
from autograder.worker import compat
from conftest import CMU_REFERENCE, CMU_SPEC, ROOT, requires_sandbox

COMMON = '''
import os, tempfile
import numpy as np

def _image(channels=3, size=24, seed=0):
    rng = np.random.default_rng(seed)
    base = np.zeros((size, size)); base[6:18, 8:16] = 1.0
    image = np.clip(base[..., None] + 0.2 * rng.standard_normal((size, size, channels)), 0, 1)
    return image if channels > 1 else image[..., 0]

def _bw():
    bw = np.zeros((20, 20), bool); bw[2:8, 2:8] = True; bw[12:14, 12:14] = True; bw[5, 15] = True
    return bw
'''

OLD_API = COMMON + '''
def numpy_builtin_aliases():
    a = np.zeros(3, dtype=np.float) + np.arange(3).astype(np.int)
    return {"a": a, "kinds": [np.dtype(t).kind for t in (np.object, np.str, np.complex)]}

def numpy_2_0_aliases():
    from numpy import float_
    values = np.array([np.NaN, np.Inf, np.NINF, np.infty, np.PINF], dtype=float_)
    return {"values": values, "far": np.asfarray([1, 2]), "all": bool(np.alltrue([1, 1])),
            "any": bool(np.sometrue([0, 1])), "round": np.round_(np.array([1.26]), 1),
            "kinds": [np.dtype(t).str for t in (np.complex_, np.string_, np.unicode_, np.cfloat, np.longfloat)]}

def numpy_2_4_functions():
    return {"area": np.trapz([1.0, 2.0, 4.0]), "member": np.in1d([[1, 2], [3, 4]], [2, 3])}

def skimage_multichannel():
    import skimage.filters, skimage.restoration, skimage.transform, skimage.segmentation
    image = _image()
    return {"bilateral": skimage.restoration.denoise_bilateral(image, multichannel=True),
            "sigma": skimage.restoration.estimate_sigma(image, multichannel=True, average_sigmas=True),
            "wavelet": skimage.restoration.denoise_wavelet(image, multichannel=True),
            "tv": skimage.restoration.denoise_tv_chambolle(image, weight=0.1, multichannel=True),
            "gaussian": skimage.filters.gaussian(image, sigma=1, multichannel=True),
            "rescale": skimage.transform.rescale(image, 0.5, multichannel=True),
            "slic_grey": skimage.segmentation.slic(image[..., 0], n_segments=4, multichannel=False)}

def skimage_selem():
    import skimage.filters, skimage.filters.rank, skimage.morphology
    bw, disk = _bw(), skimage.morphology.disk(1)
    grey = (_image(1) * 255).astype(np.uint8)
    return {"closing": skimage.morphology.closing(bw, selem=np.ones((3, 3), bool)),
            "erosion": skimage.morphology.binary_erosion(bw, selem=disk),
            "rank": skimage.filters.rank.mean(grey, selem=disk),
            "median": skimage.filters.median(grey, selem=disk)}

def skimage_iterations():
    import skimage.restoration
    image = _image(1)
    return {"chambolle": skimage.restoration.denoise_tv_chambolle(image, n_iter_max=5),
            "bregman": skimage.restoration.denoise_tv_bregman(image, weight=5.0, max_iter=5)}

def skimage_label_input():
    import skimage.measure
    return {"labels": skimage.measure.label(input=_bw(), connectivity=2),
            "contours": len(skimage.measure.find_contours(array=_image(1), level=0.5))}

def skimage_in_place():
    import skimage.measure, skimage.morphology, skimage.segmentation
    labels = skimage.measure.label(_bw())
    kept = labels.copy()
    result = skimage.morphology.remove_small_objects(kept, 5, in_place=True)
    border = labels.copy(); border[0, 0] = 7
    cleared = skimage.segmentation.clear_border(border, in_place=False)
    return {"result": result, "input_after": kept, "same_array": result is kept, "cleared": cleared,
            "border_after": border}

def skimage_as_grey():
    import skimage.io
    from PIL import Image
    path = os.path.join(tempfile.mkdtemp(), "page.png")
    Image.fromarray((_image() * 255).astype(np.uint8)).save(path)
    return {"grey": skimage.io.imread(path, as_grey=True), "flat": skimage.io.imread(path, flatten=True)}

def skimage_compare_metrics():
    from skimage.measure import compare_psnr, compare_ssim, compare_mse, compare_nrmse
    a, b = _image(), _image(seed=1)
    return {"psnr": compare_psnr(a, b, data_range=1), "ssim": compare_ssim(a, b, data_range=1, multichannel=True),
            "mse": compare_mse(a, b), "nrmse": compare_nrmse(a, b)}

def skimage_moved_0_19():
    import skimage.color, skimage.feature, skimage.morphology
    image = _image()
    markers = np.zeros((24, 24), int); markers[1, 1] = 1; markers[12, 12] = 2
    shifted = np.roll(image[..., 0], (2, -3), axis=(0, 1))
    shift, error, phase = skimage.feature.register_translation(image[..., 0], shifted)
    return {"grey": skimage.color.rgb2grey(image), "rgb": skimage.color.grey2rgb(image[..., 0]),
            "basins": skimage.morphology.watershed(image[..., 0], markers), "shift": shift}

def skimage_grey_texture():
    from skimage.feature import greycomatrix, greycoprops
    levels = (_image(1) * 7).astype(np.uint8)
    matrix = greycomatrix(levels, [1], [0, np.pi / 2], levels=8)
    return {"matrix": matrix, "contrast": greycoprops(matrix, "contrast")}

def scipy_misc_images():
    import scipy.misc
    image = _image()
    path = os.path.join(tempfile.mkdtemp(), "saved.png")
    scipy.misc.imsave(path, image)
    return {"fraction": scipy.misc.imresize(image, 0.5), "percent": scipy.misc.imresize(image[..., 0], 50),
            "shape": scipy.misc.imresize(image, (10, 12), interp="nearest"),
            "float": scipy.misc.imresize(image[..., 0], (12, 12), mode="F"),
            "read": scipy.misc.imread(path), "read_flat": scipy.misc.imread(path, flatten=True)}

def scipy_misc_aliases():
    import scipy.misc
    return {"lse": scipy.misc.logsumexp([1.0, 2.0, 3.0]), "comb": scipy.misc.comb(5, 2),
            "factorial": scipy.misc.factorial(5)}

def torchvision_transform_names():
    import torch
    from PIL import Image
    import torchvision.transforms as T
    picture = Image.fromarray((_image() * 255).astype(np.uint8))
    torch.manual_seed(0)
    crop = np.asarray(T.RandomSizedCrop(8)(picture))
    return {"scaled": np.asarray(T.Scale(12)(picture)), "crop": crop}

def torchvision_offline_weights():
    import torch, torchvision
    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_1(pretrained=True)
    return {"n": sum(p.numel() for p in model.parameters()),
            "first": float(next(model.parameters()).sum())}

def torch_load_pickled_model():
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    path = os.path.join(tempfile.mkdtemp(), "model.pt")
    torch.save(model, path)
    loaded = torch.load(path)
    return {"weight": loaded[0].weight.detach().numpy(), "kind": type(loaded).__name__}
'''

NEW_API = COMMON + '''
def numpy_builtin_aliases():
    a = np.zeros(3, dtype=float) + np.arange(3).astype(int)
    return {"a": a, "kinds": [np.dtype(t).kind for t in (object, str, complex)]}

def numpy_2_0_aliases():
    values = np.array([np.nan, np.inf, -np.inf, np.inf, np.inf], dtype=np.float64)
    return {"values": values, "far": np.asarray([1, 2], dtype=np.float64), "all": bool(np.all([1, 1])),
            "any": bool(np.any([0, 1])), "round": np.round(np.array([1.26]), 1),
            "kinds": [np.dtype(t).str for t in (np.complex128, np.bytes_, np.str_, np.complex128, np.longdouble)]}

def numpy_2_4_functions():
    return {"area": np.trapezoid([1.0, 2.0, 4.0]), "member": np.isin(np.ravel([[1, 2], [3, 4]]), [2, 3])}

def skimage_multichannel():
    import skimage.filters, skimage.restoration, skimage.transform, skimage.segmentation
    image = _image()
    return {"bilateral": skimage.restoration.denoise_bilateral(image, channel_axis=-1),
            "sigma": skimage.restoration.estimate_sigma(image, channel_axis=-1, average_sigmas=True),
            "wavelet": skimage.restoration.denoise_wavelet(image, channel_axis=-1),
            "tv": skimage.restoration.denoise_tv_chambolle(image, weight=0.1, channel_axis=-1),
            "gaussian": skimage.filters.gaussian(image, sigma=1, channel_axis=-1),
            "rescale": skimage.transform.rescale(image, 0.5, channel_axis=-1),
            "slic_grey": skimage.segmentation.slic(image[..., 0], n_segments=4, channel_axis=None)}

def skimage_selem():
    import skimage.filters, skimage.filters.rank, skimage.morphology
    bw, disk = _bw(), skimage.morphology.disk(1)
    grey = (_image(1) * 255).astype(np.uint8)
    return {"closing": skimage.morphology.closing(bw, footprint=np.ones((3, 3), bool)),
            "erosion": skimage.morphology.binary_erosion(bw, footprint=disk),
            "rank": skimage.filters.rank.mean(grey, footprint=disk),
            "median": skimage.filters.median(grey, footprint=disk)}

def skimage_iterations():
    import skimage.restoration
    image = _image(1)
    return {"chambolle": skimage.restoration.denoise_tv_chambolle(image, max_num_iter=5),
            "bregman": skimage.restoration.denoise_tv_bregman(image, weight=5.0, max_num_iter=5)}

def skimage_label_input():
    import skimage.measure
    return {"labels": skimage.measure.label(label_image=_bw(), connectivity=2),
            "contours": len(skimage.measure.find_contours(image=_image(1), level=0.5))}

def skimage_in_place():
    import skimage.measure, skimage.morphology, skimage.segmentation
    labels = skimage.measure.label(_bw())
    kept = labels.copy()
    result = skimage.morphology.remove_small_objects(kept, 5, out=kept)
    border = labels.copy(); border[0, 0] = 7
    cleared = skimage.segmentation.clear_border(border)
    return {"result": result, "input_after": kept, "same_array": result is kept, "cleared": cleared,
            "border_after": border}

def skimage_as_grey():
    import skimage.io
    from PIL import Image
    path = os.path.join(tempfile.mkdtemp(), "page.png")
    Image.fromarray((_image() * 255).astype(np.uint8)).save(path)
    return {"grey": skimage.io.imread(path, as_gray=True), "flat": skimage.io.imread(path, as_gray=True)}

def skimage_compare_metrics():
    from skimage.metrics import (mean_squared_error, normalized_root_mse, peak_signal_noise_ratio,
                                 structural_similarity)
    a, b = _image(), _image(seed=1)
    return {"psnr": peak_signal_noise_ratio(a, b, data_range=1),
            "ssim": structural_similarity(a, b, data_range=1, channel_axis=-1),
            "mse": mean_squared_error(a, b), "nrmse": normalized_root_mse(a, b)}

def skimage_moved_0_19():
    import skimage.color, skimage.registration, skimage.segmentation
    image = _image()
    markers = np.zeros((24, 24), int); markers[1, 1] = 1; markers[12, 12] = 2
    shifted = np.roll(image[..., 0], (2, -3), axis=(0, 1))
    shift, error, phase = skimage.registration.phase_cross_correlation(image[..., 0], shifted, normalization=None)
    return {"grey": skimage.color.rgb2gray(image), "rgb": skimage.color.gray2rgb(image[..., 0]),
            "basins": skimage.segmentation.watershed(image[..., 0], markers), "shift": shift}

def skimage_grey_texture():
    from skimage.feature import graycomatrix, graycoprops
    levels = (_image(1) * 7).astype(np.uint8)
    matrix = graycomatrix(levels, [1], [0, np.pi / 2], levels=8)
    return {"matrix": matrix, "contrast": graycoprops(matrix, "contrast")}

def _bytescaled(x):
    return ((x - x.min()) * (255.0 / (x.max() - x.min())) + 0.5).astype(np.uint8)

def scipy_misc_images():
    from PIL import Image
    image = _image()
    rgb, grey = Image.fromarray(_bytescaled(image)), Image.fromarray(_bytescaled(image[..., 0]))
    return {"fraction": np.asarray(rgb.resize((12, 12), Image.Resampling.BILINEAR)),
            "percent": np.asarray(grey.resize((12, 12), Image.Resampling.BILINEAR)),
            "shape": np.asarray(rgb.resize((12, 10), Image.Resampling.NEAREST)),
            "float": np.asarray(Image.fromarray(image[..., 0].astype(np.float32)).resize((12, 12), Image.Resampling.BILINEAR)),
            "read": _bytescaled(image), "read_flat": np.asarray(rgb.convert("F"))}

def scipy_misc_aliases():
    import scipy.special
    return {"lse": scipy.special.logsumexp([1.0, 2.0, 3.0]), "comb": scipy.special.comb(5, 2),
            "factorial": scipy.special.factorial(5)}

def torchvision_transform_names():
    import torch
    from PIL import Image
    import torchvision.transforms as T
    picture = Image.fromarray((_image() * 255).astype(np.uint8))
    torch.manual_seed(0)
    crop = np.asarray(T.RandomResizedCrop(8)(picture))
    return {"scaled": np.asarray(T.Resize(12)(picture)), "crop": crop}

def torchvision_offline_weights():
    import torch, torchvision
    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_1(weights=None)
    return {"n": sum(p.numel() for p in model.parameters()),
            "first": float(next(model.parameters()).sum())}

def torch_load_pickled_model():
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    path = os.path.join(tempfile.mkdtemp(), "model.pt")
    torch.save(model, path)
    loaded = torch.load(path, weights_only=False)
    return {"weight": loaded[0].weight.detach().numpy(), "kind": type(loaded).__name__}
'''

CASES = {entry.id: entry.id.replace("-", "_").replace(".", "_") for entry in compat.TABLE}


def _run(worker: WorkerProcess, module: str, function: str):
    return worker.request({"op": "run", "modules": {module: {"path": f"{module}.py"}},
                           "scenario": {"steps": [f"v = {module}.{function}()"], "observe": {"v": "v"}}},
                          {}, time_s=120, import_time_s=60)


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compat-student")
    (folder / "old_api.py").write_text(OLD_API)
    (folder / "new_api.py").write_text(NEW_API)
    for path in (folder, folder / "old_api.py", folder / "new_api.py"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # the sandbox's uid reads them
    old = WorkerProcess(str(folder), [], layers=detect())
    new = WorkerProcess(str(folder), [], layers=detect())
    yield old, new
    old.close()
    new.close()


def _same(a, b, path="v"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            _same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype.kind == b.dtype.kind, (path, a.shape, b.shape, a.dtype, b.dtype)
        assert np.allclose(a, b, equal_nan=True) if a.dtype.kind in "fc" else np.array_equal(a, b), path
    elif isinstance(a, float):
        assert a == pytest.approx(b, nan_ok=True), path
    else:
        assert a == b, path


def test_every_entry_has_a_case():
    missing = [name for name in CASES.values() if f"def {name}()" not in OLD_API or f"def {name}()" not in NEW_API]
    assert not missing


@requires_sandbox
@pytest.mark.parametrize("entry_id", [e.id for e in compat.TABLE])
def test_old_call_runs_like_the_modern_one_and_is_recorded(workers, entry_id):
    old, new = workers
    old_reply = _run(old, "old_api", CASES[entry_id])
    new_reply = _run(new, "new_api", CASES[entry_id])
    assert old_reply.ok, old_reply.describe()
    assert new_reply.ok, new_reply.describe()
    _same(old_reply.value["v"], new_reply.value["v"])
    fired = [c for c in old_reply.compat if c["shim"] == entry_id]
    assert fired, f"{entry_id} did not record: {old_reply.compat}"
    assert all(c["where"].startswith("old_api.py:") for c in fired), fired
    assert new_reply.compat == [], f"the modern API recorded bridges: {new_reply.compat}"


def test_the_table_names_functions_that_exist_and_take_the_new_arguments():
    """Every function a Changed entry wraps exists today and takes the argument the bridge passes
    (torchvision's builders are checked by name only: importing torchvision here costs seconds)."""
    import importlib

    new_argument = {"skimage-multichannel": "channel_axis", "skimage-in-place": "out"}
    for entry in compat.TABLE:
        if not isinstance(entry, compat.Changed) or entry.library in ("torchvision", "PyTorch"):
            continue
        for module_name, names in entry.functions.items():
            module = importlib.import_module(module_name)
            for name in names:
                parameters = inspect.signature(getattr(module, name)).parameters
                wanted = {new_argument[entry.id]} if entry.id in new_argument else set(entry.options.values())
                assert wanted & set(parameters), (entry.id, module_name, name, list(parameters))
                old = {"skimage-multichannel": {"multichannel"}, "skimage-in-place": {"in_place"}}.get(
                    entry.id, set(entry.options))
                assert not old & set(parameters), f"{module_name}.{name} still takes {old}: no bridge needed"


def test_removed_attributes_are_really_gone_and_their_replacements_exist():
    import importlib

    for entry in compat.TABLE:
        if not isinstance(entry, compat.Removed) or entry.library == "torchvision":
            continue
        for module_name, names in entry.names.items():
            module = importlib.import_module(module_name)
            for name, ref in names.items():
                assert not hasattr(module, name), f"{module_name}.{name} exists: no bridge needed"
                if not ref.startswith("."):
                    compat.resolve(ref)


def test_a_library_probing_for_a_removed_name_still_gets_the_truth(tmp_path):
    """``hasattr(np, "float_")`` from library code must stay False (libraries pick code paths on
    it); only the student's code is served the old name."""
    student, library = tmp_path / "submission", tmp_path / "lib" / "site-packages"
    student.mkdir()
    library.mkdir(parents=True)
    (student / "m.py").write_text("import numpy as np\nmine = np.float_\n")
    (library / "probing_lib.py").write_text("import numpy as np\nsees_float_ = hasattr(np, 'float_')\n")
    script = textwrap.dedent(f"""
        import sys, json
        sys.path.insert(0, {str(ROOT)!r})
        from autograder.worker import compat, imports
        imports.install({str(student)!r})
        compat.install()
        import numpy as np
        sys.path[:0] = [{str(student)!r}, {str(library)!r}]
        import probing_lib, m
        print(json.dumps({{"library": probing_lib.sees_float_, "student": m.mine is np.float64,
                          "record": compat.record()}}))
    """)
    out = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                    check=True).stdout.splitlines()[-1])
    assert out["library"] is False and out["student"] is True
    assert [(r["shim"], r["where"]) for r in out["record"]] == [("numpy-2.0-aliases", "m.py:2")]


def test_pretrained_weights_come_from_the_instructors_folder(tmp_path):
    """With ``AUTOGRADE_TORCH_WEIGHTS`` naming a folder holding ``squeezenet1_1.pth``, the old
    ``pretrained=True`` loads exactly those weights, and says so."""
    script = textwrap.dedent(f"""
        import sys, json, os
        sys.path.insert(0, {str(ROOT)!r})
        import torch, torchvision
        torch.manual_seed(7)
        torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(),
                   os.path.join({str(tmp_path)!r}, "squeezenet1_1.pth"))
        expected = float(next(torchvision.models.squeezenet1_1(weights=None).parameters()).sum())
        os.environ["AUTOGRADE_TORCH_WEIGHTS"] = {str(tmp_path)!r}
        from autograder.worker import compat, compat_legacy
        builder = compat_legacy.offline_weights(torchvision.models.squeezenet1_1,
                                                "torchvision.models.squeezenet1_1",
                                                lambda old, new: compat.fire("torchvision-offline-weights", old, new), {{}})
        torch.manual_seed(0)
        model = builder(pretrained=True)
        saved = torch.load(os.path.join({str(tmp_path)!r}, "squeezenet1_1.pth"))
        same = all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
        print(json.dumps({{"same": same, "record": compat.record()}}))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["same"] is True
    assert "torch-weights/squeezenet1_1.pth" in out["record"][0]["new"]


def test_the_grader_keeps_only_known_entries_cut_to_size():
    forged = [{"shim": "numpy-2.0-aliases", "old": "x" * 5000, "new": "np.float64", "where": "q4.py:3",
               "extra": "ignored"},
              {"shim": "not-an-entry", "old": "a", "new": "b", "where": "c"}, "junk"] + \
             [{"shim": "skimage-selem", "old": f"c{i}", "new": "n", "where": "w"} for i in range(200)]
    reply = answer_of({"ok": True, "compat": forged}, None)
    assert reply.compat[0] == {"shim": "numpy-2.0-aliases", "old": "x" * 200, "new": "np.float64", "where": "q4.py:3"}
    assert all(c["shim"] in compat.ENTRIES for c in reply.compat) and len(reply.compat) == 100
    assert answer_of({"ok": True, "compat": "nonsense"}, None).compat == []


def test_the_report_says_which_bridge_fired_and_why():
    line = compat.sentence({"shim": "skimage-multichannel", "where": "q4.py:22",
                            "old": "skimage.restoration.denoise_bilateral(multichannel=True)", "new": "channel_axis=-1"})
    assert line == ("compatibility: skimage.restoration.denoise_bilateral(multichannel=True) ran as "
                    "channel_axis=-1 (removed in scikit-image 0.20, q4.py:22)")


Q4_MULTICHANNEL = [
    ("    gray = skimage.color.rgb2gray(image[..., :3]) if image.ndim == 3 else image\n",
     "    gray = skimage.color.rgb2gray(image[..., :3]) if image.ndim == 3 else image\n"
     "    if image.ndim == 3:  # how noisy is the photo? (a 2019 student's habit)\n"
     "        noise = skimage.restoration.estimate_sigma(image[..., :3], multichannel=True, average_sigmas=True)\n"
     "        calm = skimage.restoration.denoise_bilateral(image[::8, ::8, :3], multichannel=True)\n"
     "        assert calm.shape[-1] == 3 and noise >= 0\n"),
]


@requires_sandbox
@pytest.mark.slow
def test_a_q4_with_multichannel_earns_full_marks_and_the_report_lists_the_bridge(tmp_path):
    """A findLetters written for scikit-image 0.18 (``multichannel=True``) grades like the reference
    on Q4.2, and report.md / results.json / provenance.json list the bridges."""
    from autograder.grading import Grader
    from autograder.report.writers import report_markdown, results_json

    import shutil

    submission = tmp_path / "student"
    shutil.copytree(CMU_REFERENCE, submission, symlinks=True)
    q4 = submission / "python" / "q4.py"
    text = q4.read_text()
    for find, replace in Q4_MULTICHANNEL:
        assert find in text
        text = text.replace(find, replace)
    q4.unlink()
    q4.write_text(text)
    grader = Grader(CMU_SPEC)
    try:
        report = grader.grade(submission, only={"Q4.2"}, trusted=True)
    finally:
        grader.close()
    question = report.question("Q4.2")
    assert question.score == question.auto_max > 0, question.feedback
    shims = {(c["shim"], c["old"]) for c in report.provenance["compat"]}
    assert ("skimage-multichannel", "skimage.restoration.estimate_sigma(multichannel=True)") in shims
    assert ("skimage-multichannel", "skimage.restoration.denoise_bilateral(multichannel=True)") in shims
    assert all(c["where"].startswith("python/q4.py:") for c in report.provenance["compat"])
    markdown = report_markdown(report)
    assert "## About the submission" in markdown
    assert ("* compatibility: skimage.restoration.denoise_bilateral(multichannel=True) ran as channel_axis=-1 "
            "(removed in scikit-image 0.20, python/q4.py:") in markdown
    assert "estimate_sigma(multichannel=True) ran as channel_axis=-1" in results_json(report)["output"]


@requires_sandbox
def test_a_notebook_reports_the_bridges_its_cells_used(tmp_path):
    """Notebooks run in a sandboxed kernel that serves probes with the worker's own code: a cell's
    ``np.float`` is bridged and reported like a script's."""
    from autograder.grading import Grader
    from test_notebooks import write_course

    spec = write_course(tmp_path, ["import numpy as np", "def f(x):\n    return (2 * x).astype(np.float)"])
    with Grader(spec) as grader:
        report = grader.grade(tmp_path / "student", only={"Q1"})
    assert report.question("Q1").score == 1.0, report.question("Q1").feedback
    assert [(c["shim"], c["old"], c["where"]) for c in report.compat] == [
        ("numpy-builtin-aliases", "numpy.float", "a notebook cell:2")]
