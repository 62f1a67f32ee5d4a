"""Small pieces: the wire format, the expression language, comparisons, statistics, properties."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from autograder.checks import properties
from autograder.checks.compare import compare
from autograder.checks.statistical import Distribution, moments
from autograder.rubric import expr
from autograder.worker import protocol


def roundtrip(value):
    r, w = os.pipe()
    protocol.write_frame(w, {"id": 1}, value)
    os.close(w)
    header, out = protocol.read_frame_blocking(r)
    os.close(r)
    return header, out


def test_protocol_roundtrip_keeps_types():
    value = {"a": np.arange(6.0).reshape(2, 3), "t": (1, 2.5, None, "s"), "l": [True, np.float32(1.5)],
             "nan": float("nan"), "nested": {"x": [np.zeros(2, dtype=np.int64)]}, "obj": object()}
    header, out = roundtrip(value)
    assert header["id"] == 1
    assert np.array_equal(out["a"], value["a"]) and out["t"] == (1, 2.5, None, "s")
    assert math.isnan(out["nan"]) and out["nested"]["x"][0].dtype == np.int64
    assert isinstance(out["obj"], protocol.Opaque) and out["obj"].type_name == "object"


def test_protocol_never_unpickles(tmp_path):
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(protocol.FrameError):
        protocol.parse_frame(b'{"value": {"__array__": "a0"}}', _npz_with_object_array())


def _npz_with_object_array() -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, a0=np.array([{"evil": 1}], dtype=object))
    return buf.getvalue()


def test_object_arrays_are_sent_as_numbers_or_opaque():
    _, out = roundtrip(np.array([1, 2.5], dtype=object))
    assert out.dtype == float
    _, out = roundtrip(np.array([{"a": 1}], dtype=object))
    assert isinstance(out, protocol.Opaque)


def test_expressions_are_arithmetic_only():
    assert expr.evaluate("sqrt(6 / (a + b))", {"a": 2, "b": 4}) == 1.0
    assert expr.evaluate("loss / y.shape[0]", {"loss": 10.0, "y": np.zeros((5, 2))}) == 2.0
    for bad in ("__import__('os')", "y.__class__", "(lambda: 1)()", "open('f')"):
        with pytest.raises(expr.ExprError):
            expr.evaluate(bad, {"y": np.zeros(2)})


def test_relerr_fails_nan_and_shape_slips():
    a = np.array([1.0, 2.0])
    assert expr.relerr(a, a) == 0 and expr.relerr(a, a * (1 + 1e-9)) < 1e-8
    assert expr.relerr(a, np.array([np.nan, 1])) == math.inf and expr.relerr(a, a[:1]) == math.inf


def test_compare_messages():
    exp = np.array([[0.2, 0.8], [0.5, 0.5]])
    assert compare(exp.copy(), exp, 1e-6, 0) is None
    assert "returned None" in compare(None, exp, 1e-6, 0).hidden
    assert "NaN" in compare(np.full((2, 2), np.nan), exp, 1e-6, 0).hidden
    assert "transposed" in compare(exp.T, exp, 1e-6, 0).hidden
    wrong = compare(exp + 0.1, exp, 1e-6, 0)
    assert "expected" not in wrong.hidden and "expected 0.2" in wrong.public
    assert compare((1.0, 0.5), (1.0, 0.5), 1e-6, 0) is None
    assert "shape (1,), expected (2,)" in compare((1.0,), (1.0, 0.5), 1e-6, 0).hidden
    assert "expected 2 items" in compare([np.eye(2)], [np.eye(2), np.eye(3)], 1e-6, 0).hidden


def test_statistical_thresholds_pass_correct_draws_and_catch_biased_ones():
    dist = Distribution(uniform=("-sqrt(6/(a+b))", "sqrt(6/(a+b))"))
    names = {"a": 300, "b": 100}
    _, mean, var, mu4, (_, (low, width)) = moments(dist, names)
    rng = np.random.default_rng(0)
    n = 30000
    for _ in range(50):  # a correct implementation never fails
        x = rng.uniform(low, low + width, n)
        assert abs(x.mean() - mean) <= 6 * math.sqrt(var / n)
        assert abs(x.var() - var) <= 6 * math.sqrt((mu4 - var**2) / n)
    biased = rng.uniform(0, low + width, n)
    assert abs(biased.mean() - mean) > 6 * math.sqrt(var / n)


def test_batches_partition_property():
    x = np.column_stack([np.arange(12.0), np.ones(12)])
    y = np.eye(3)[np.arange(12) % 3]
    order = np.random.default_rng(1).permutation(12)
    good = [(x[order[i:i + 4]], y[order[i:i + 4]]) for i in range(0, 12, 4)]
    assert properties.batches_partition(good, x, y, 4) is None
    dup = good + [good[0]]
    assert "more than one batch" in properties.batches_partition(dup, x, y, 4)
    swapped = [(bx, by[::-1]) for bx, by in good]
    assert "labels no longer match" in properties.batches_partition(swapped, x, y, 4)
    assert "original order" in properties.batches_shuffled([(x, y)], x, y, 12)


def test_model_probe_builtins_find_adapt_and_count():
    torch = pytest.importorskip("torch")
    from autograder.worker import models

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3)
            self.fc = torch.nn.Linear(2 * 26 * 26, 10)

        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))

    fc = torch.nn.Sequential(torch.nn.Linear(784, 200), torch.nn.ReLU(), torch.nn.Linear(200, 10))
    names = {"loss_fn": torch.nn.CrossEntropyLoss(), "my_cnn": CNN(), "fc": fc}
    assert models.find_model(names) is fc                      # the largest network, not the loss
    assert models.find_model(names, "my_cnn") is names["my_cnn"]
    assert models.param_count(fc) == 159_010                  # 784*200 + 200 + 200*10 + 10
    assert models.param_count(torch.nn.Linear(784, 10)) == 7_850
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    assert models.predict(fc, x).shape == (5, 10)             # flattened for the FC net
    assert models.predict(names["my_cnn"], x).shape == (5, 10)  # one channel added for the CNN
    assert fc.training                                        # eval() only during prediction
    with pytest.raises(ValueError, match="none of the input layouts"):
        models.predict(torch.nn.Linear(5, 2), x)


def test_boxes_are_drawn_on_the_image_for_the_report():
    import io

    from PIL import Image

    from autograder.checks.evaluate import BoxDrawing, boxes_figure

    image = np.ones((40, 60, 3))
    figure = boxes_figure(BoxDrawing(image="image", boxes="bboxes"),
                          {"image": image, "bboxes": [[5, 10, 20, 30], [22, 35, 38, 55]]})
    drawn = np.asarray(Image.open(io.BytesIO(figure.data)).convert("RGB"))
    assert drawn.shape == (40, 60, 3)
    assert tuple(drawn[5, 15]) == (220, 30, 30) and tuple(drawn[12, 20]) == (255, 255, 255)  # edge, inside
    assert "2 boxes" in figure.caption
    assert boxes_figure(BoxDrawing(image="image", boxes="bboxes"), {"image": image, "bboxes": "nonsense"}) is None


def test_ks_pvalue_agrees_with_scipys_kstest():
    """The statistical check's own KS p-value (no scipy.stats on a cold grade's clock) gives scipy's
    value where it matters (p < 0.05, within 1e-4 relative) and its verdict at the 1e-6 floor."""
    from scipy import stats

    from autograder.checks.statistical import ks_pvalue

    rng = np.random.default_rng(1)
    for n in (20, 200, 9000, 120000):
        for shift in (0, 0.01, 0.03, 0.1):
            for x, name, args in ((rng.uniform(-1 + shift, 1 + shift, n), "uniform", (-1, 2)),
                                  (rng.normal(shift, 1, n), "norm", (0, 1))):
                want, got = stats.kstest(x, name, args=args).pvalue, ks_pvalue(x, name, args)
                assert (want < 1e-6) == (got < 1e-6)
                if want < 0.05:
                    assert got == pytest.approx(want, rel=1e-4)
                assert 0 <= got <= 1
