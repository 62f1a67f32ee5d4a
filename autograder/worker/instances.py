"""Watch the torch objects a submission builds while it loads, wherever it builds them.

Real scripts build their networks inside ``main()``, in a training function, in a loop over
hyper-parameter settings, and never bind them to a global name; a probe that only looks at a
script's globals finds nothing, or the wrong model. Once the student's code imports torch
(:func:`install`, arranged by :func:`.watch.watch_files_under`), this module records, for the
script or notebook loading at the time (the rubric's file key, :func:`.watch.current_source`):

* every ``nn.Module`` built (``nn.Module.__init__``) and which module holds which (torch's global
  module-registration hook), so layers trained through a parent's ``.forward`` count for the parent;
* every *top-level* call of a module (``nn.Module.__call__`` outside any other module's call: the
  model a loop trains or evaluates, not its layers): calls with gradients enabled are training
  calls; the parameters' fingerprint at the first call is the baseline against which "its
  parameters changed" (trained) is judged, re-checked at the 2nd, 4th, 8th ... training call; the
  row counts of the inputs are kept (an evaluation on the whole test split has its row count);
* every optimizer that takes a step (torch's global step hook), with its steps;
* every ``DataLoader`` built.

What the probes read: :func:`models_of` and :func:`facts` (``models.find_model`` chooses among them
and the script's globals), :func:`runs_of` (the distinct training runs, for counting the settings a
search tried), :func:`optimizers_of` and :func:`loaders_of`. Nothing here judges.

A model built inside ``main()`` dies when ``main()`` returns, before any probe runs: the models
trained longest are therefore *kept* (a strong reference), at most ``MAX_KEPT`` per source and
``MAX_KEPT_PARAMS`` parameters in all per source; a model trained longer takes the place of the one
trained least (a search's first settings make way for the final network). Everything else is held
weakly: at most ``MAX_LIVE`` live objects are recorded (more are not watched), and of the objects that
died only summaries remain (trained models, optimizers that stepped, loaders), ``MAX_RETIRED`` at most
of each. Calls made while probes run are not recorded.
"""
from __future__ import annotations

import weakref

from . import watch

MAX_LIVE = 20_000
MAX_RETIRED = 2_000
MAX_KEPT = 6
MAX_KEPT_PARAMS = 30_000_000
MAX_ROWS = 32
_serials = iter(range(1, 1 << 62))


class Record:
    """What was seen of one module while its source loaded."""

    __slots__ = ("serial", "source", "ref", "parent", "root", "calls", "first", "last", "baseline",
                 "trained", "next_check", "rows", "during", "params")

    def __init__(self, obj, source: str):
        self.serial = next(_serials)
        self.source = source
        self.ref = weakref.ref(obj, _retire_callback(self, _modules, id(obj)))
        self.parent = None      # weakref to the module that registered this one as a submodule
        self.root = None        # serial of the outermost recorded holder, at the first training call
        self.calls = 0          # top-level calls with gradients enabled
        self.first = self.last = 0  # clock of the first and last of them
        self.baseline = None    # parameters' fingerprint at the first top-level call
        self.trained = False    # parameters seen changed since the baseline (sticky)
        self.next_check = 2
        self.rows: set[int] = set()
        self.during: set[str] = set()  # watched functions running at its training calls
        self.params = 0

    def summary(self) -> dict:
        return {"serial": self.serial, "root": self.root or self.serial, "calls": self.calls,
                "first": self.first, "last": self.last, "trained": self.trained, "params": self.params,
                "rows": sorted(self.rows), "during": sorted(self.during)}


class OptimizerRecord:
    __slots__ = ("serial", "source", "ref", "steps", "first", "last", "during", "kind", "lr")

    def __init__(self, obj, source: str):
        self.serial = next(_serials)
        self.source = source
        self.ref = weakref.ref(obj, _retire_callback(self, _optimizers, id(obj)))
        self.steps = 0
        self.first = self.last = 0
        self.during: set[str] = set()
        self.kind = type(obj).__name__
        self.lr = float("nan")  # the first group's learning rate at the last step

    def summary(self) -> dict:
        return {"serial": self.serial, "type": self.kind, "steps": self.steps, "lr": self.lr,
                "first": self.first, "last": self.last, "during": sorted(self.during)}


_modules: dict[int, Record] = {}             # id(module) -> record, live only
_optimizers: dict[int, OptimizerRecord] = {}
_loaders: dict[int, tuple] = {}               # id(loader) -> (serial, source, weakref, summary)
_retired: list[tuple[str, dict]] = []         # (source, summary) of trained models that died
_retired_optimizers: list[tuple[str, dict]] = []
_retired_loaders: list[tuple[str, dict]] = []
_kept: dict[str, dict[int, list]] = {}        # source -> serial -> [module, training calls, parameters]
_depth = [0]
_installed: list[bool] = []


def _retire_callback(record, table: dict, key: int):
    """When the object dies: forget it, keeping a summary of a trained model or a stepped optimizer."""
    def retire(_ref, record=record, table=table, key=key):
        try:
            if table.get(key) is record:
                del table[key]
            if isinstance(record, Record) and record.trained and len(_retired) < MAX_RETIRED:
                _retired.append((record.source, record.summary()))
            elif isinstance(record, OptimizerRecord) and record.steps and len(_retired_optimizers) < MAX_RETIRED:
                _retired_optimizers.append((record.source, record.summary()))
        except Exception:  # noqa: BLE001 - at interpreter shutdown the module's names are gone
            pass
    return retire


def _record(module, create: bool = True) -> Record | None:
    record = _modules.get(id(module))
    if record is not None and record.ref() is module:
        return record
    source = watch.current_source()
    if not create or source is None or len(_modules) >= MAX_LIVE:
        return None
    try:
        record = Record(module, source)
    except TypeError:  # a module class that refuses weak references
        return None
    _modules[id(module)] = record
    return record


def fingerprint(module):
    """Per parameter, its sum and sum of absolute values (float64): any training step moves them."""
    import torch

    try:
        with torch.no_grad():
            return tuple((float(p.detach().double().sum()), float(p.detach().double().abs().sum()))
                         for p in module.parameters())
    except Exception:  # noqa: BLE001 - lazy (uninitialised) parameters, odd tensor subclasses
        return None


def _top_level_call(module, args) -> None:
    import torch

    record = _record(module)
    if record is None:
        return
    if record.baseline is None:
        record.baseline = fingerprint(module)
        record.params = sum(p.numel() for p in module.parameters())
    shape = getattr(args[0], "shape", None) if args else None
    if shape is not None and len(shape) >= 1 and len(record.rows) < MAX_ROWS:
        record.rows.add(int(shape[0]))
    if not torch.is_grad_enabled():
        return
    record.calls += 1
    record.last = watch.tick()
    if not record.first:
        record.first = record.last
        record.root = _outermost_module(record, module)[0].serial
    record.during.update(watch.active())
    if record.calls == 1 or record.calls >= record.next_check:
        if record.calls >= record.next_check:
            record.next_check *= 2
            if not record.trained:
                record.trained = record.baseline is not None and fingerprint(module) != record.baseline
        _keep(record, module)


def _outermost_module(record: Record, module):
    """The outermost recorded module holding this one (itself if none), with its record."""
    for _ in range(64):
        holder = record.parent() if record.parent is not None else None
        holder_record = _modules.get(id(holder)) if holder is not None else None
        if holder_record is None or holder_record.ref() is not holder:
            break
        record, module = holder_record, holder
    return record, module


def _keep(record: Record, module) -> None:
    """Hold the model this training call trains (its outermost holder) while it is among the
    ``MAX_KEPT`` trained longest of its source, within ``MAX_KEPT_PARAMS`` parameters."""
    root_record, root = _outermost_module(record, module)
    kept = _kept.setdefault(record.source, {})
    if root_record.serial in kept:
        kept[root_record.serial][1] = max(kept[root_record.serial][1], record.calls)
        return
    size = sum(p.numel() for p in root.parameters())
    if not size:  # a loss function called with gradients on is no model
        return
    while kept and (len(kept) >= MAX_KEPT or sum(k[2] for k in kept.values()) + size > MAX_KEPT_PARAMS):
        least = min(kept, key=lambda serial: (kept[serial][1], serial))
        if kept[least][1] >= record.calls:
            return
        del kept[least]
    if size <= MAX_KEPT_PARAMS:
        kept[root_record.serial] = [root, record.calls, size]


def install(torch) -> None:
    """Patch torch (once per worker) so that what the student builds is recorded as it happens."""
    if _installed:
        return
    _installed.append(True)
    module_class = torch.nn.Module
    original_init, original_call = module_class.__init__, module_class.__call__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if watch.current_source() is not None:
            _guarded(_record, self)

    def __call__(self, *args, **kwargs):
        if _depth[0] or watch.current_source() is None:
            return original_call(self, *args, **kwargs)
        _guarded(_top_level_call, self, args)
        _depth[0] += 1
        try:
            return original_call(self, *args, **kwargs)
        finally:
            _depth[0] -= 1

    module_class.__init__ = __init__
    module_class.__call__ = __call__
    torch.nn.modules.module.register_module_module_registration_hook(_registered)
    from torch.optim.optimizer import register_optimizer_step_post_hook

    register_optimizer_step_post_hook(_stepped)

    loader_class = torch.utils.data.DataLoader
    original_loader_init = loader_class.__init__

    def loader_init(self, *args, **kwargs):
        original_loader_init(self, *args, **kwargs)
        source = watch.current_source()
        if source is not None and len(_loaders) < MAX_LIVE:
            _guarded(_note_loader, self, source)

    loader_class.__init__ = loader_init


def _guarded(fn, *args) -> None:
    """Our bookkeeping never breaks the student's code."""
    try:
        fn(*args)
    except Exception:  # noqa: BLE001
        pass


def _registered(parent, _name, child):
    """torch's hook when ``parent.name = child`` (or ``add_module``) registers a submodule."""
    if child is not None and watch.current_source() is not None:
        record = _modules.get(id(child))
        if record is not None and record.ref() is child:
            _guarded(_set_parent, record, parent)
    return None


def _set_parent(record: Record, parent) -> None:
    record.parent = weakref.ref(parent)


def _stepped(optimizer, _args, _kwargs) -> None:
    """torch's hook after every ``optimizer.step()``."""
    if watch.current_source() is not None:
        _guarded(_note_step, optimizer, watch.current_source())


def _note_step(optimizer, source: str) -> None:
    record = _optimizers.get(id(optimizer))
    if record is None or record.ref() is not optimizer:
        if len(_optimizers) >= MAX_LIVE:
            return
        try:
            record = OptimizerRecord(optimizer, source)
        except TypeError:
            return
        _optimizers[id(optimizer)] = record
    record.steps += 1
    record.last = watch.tick()
    try:
        record.lr = float(optimizer.param_groups[0]["lr"])
    except (LookupError, TypeError, ValueError, AttributeError):
        pass
    if not record.first:
        record.first = record.last
        record.during.update(watch.active())


def _note_loader(loader, source: str) -> None:
    key = id(loader)
    serial = next(_serials)
    try:
        summary = {"serial": serial, "examples": len(loader.dataset), "batches": len(loader)}
    except TypeError:  # an iterable dataset has no length
        summary = None

    def retire(_ref, key=key, serial=serial):
        entry = _loaders.get(key)
        if entry is not None and entry[0] == serial:
            del _loaders[key]
            if entry[3] is not None and len(_retired_loaders) < MAX_RETIRED:
                _retired_loaders.append((entry[1], entry[3]))

    _loaders[key] = (serial, source, weakref.ref(loader, retire), summary)


# ----------------------------------------------------------------------------------- queries


def source_of(where) -> str | None:
    """The rubric file key of a loaded script or notebook (a module, or a dict of its names)."""
    from . import figures

    if isinstance(where, dict):
        return where.get(figures.KEY)
    return getattr(where, figures.KEY, None)


def models_of(source: str | None) -> list:
    """The live modules built or called while ``source`` loaded, oldest first."""
    if source is None:
        return []
    found = [(r.serial, r.ref()) for r in list(_modules.values()) if r.source == source]
    return [m for _, m in sorted(found, key=lambda t: t[0]) if m is not None]


def facts(model) -> dict:
    """What was seen of a model, over it and its submodules (a layer trained through the model's
    ``.forward`` counts for the model): ``trained`` (its parameters changed since first called,
    including now), ``calls`` (most training calls of it or a submodule), ``created`` (serial;
    None for a model never recorded)."""
    trained, calls, created = False, 0, None
    for sub in model.modules():
        record = _modules.get(id(sub))
        if record is None or record.ref() is not sub:
            continue
        if sub is model:
            created = record.serial
        calls = max(calls, record.calls)
        if not trained and record.baseline is not None:
            trained = record.trained or fingerprint(sub) != record.baseline
    return {"trained": trained, "calls": calls, "created": created}


def runs_of(source: str | None) -> list[dict]:
    """The distinct training runs of ``source``, living and dead, oldest first: models whose
    parameters changed while they were trained, grouped by their outermost holder. Each run:
    ``created`` (serial), ``calls`` (training calls), ``first``/``last`` (clock of its first and last
    training call), ``params``, ``rows`` (row counts of its inputs), ``during`` (watched functions
    that ran at its training calls)."""
    summaries = [s for src, s in _retired if src == source]
    for record in list(_modules.values()):
        module = record.ref()
        if record.source != source or module is None or not record.calls:
            continue
        if not record.trained and record.baseline is not None:
            record.trained = fingerprint(module) != record.baseline
        if record.trained:
            summaries.append(record.summary())
    runs: dict[int, dict] = {}
    for s in summaries:
        run = runs.setdefault(s["root"], {"created": s["root"], "calls": 0, "first": s["first"],
                                          "last": s["last"], "params": 0, "rows": set(), "during": set()})
        run["calls"] = max(run["calls"], s["calls"])
        run["first"], run["last"] = min(run["first"], s["first"]), max(run["last"], s["last"])
        run["params"] = max(run["params"], s["params"])
        run["rows"].update(s["rows"])
        run["during"].update(s["during"])
    return [{**r, "rows": sorted(r["rows"])[:MAX_ROWS], "during": sorted(r["during"])}
            for _, r in sorted(runs.items())]


def optimizers_of(source: str | None, live: bool = True) -> list:
    """The optimizers that stepped while ``source`` loaded: the live objects (oldest first), or
    with ``live=False`` the summaries of all of them, dead ones included."""
    if live:
        found = [(r.serial, r.ref()) for r in list(_optimizers.values()) if r.source == source]
        return [o for _, o in sorted(found, key=lambda t: t[0]) if o is not None]
    if source is None:
        return []
    summaries = [s for src, s in _retired_optimizers if src == source]
    summaries += [r.summary() for r in list(_optimizers.values()) if r.source == source and r.ref() is not None]
    return sorted(summaries, key=lambda s: s["serial"])


def optimizer_steps(optimizer) -> int:
    record = _optimizers.get(id(optimizer))
    return record.steps if record is not None and record.ref() is optimizer else 0


def optimizer_serial(optimizer) -> int | None:
    record = _optimizers.get(id(optimizer))
    return record.serial if record is not None and record.ref() is optimizer else None


def loaders_of(source: str | None, live: bool = True) -> list:
    """The DataLoaders built while ``source`` loaded, oldest first: the live objects, or with
    ``live=False`` the summaries (``examples``, ``batches``) of those that died."""
    if not live:
        return [s for src, s in _retired_loaders if src == source and source is not None]
    found = [(serial, ref()) for serial, src, ref, _ in list(_loaders.values()) if src == source]
    return [loader for _, loader in sorted(found, key=lambda t: t[0]) if loader is not None]
