"""Worker entry point: serve probe requests until told to exit or the pipe closes.

Started as ``python -I -c "...; from agworker.main import main; main()" --req-fd R --resp-fd W
--source DIR [--shims a,b]`` by :mod:`autograder.sandbox.process`. Requests and replies are frames
(:mod:`.protocol`) on two inherited pipe descriptors, so whatever the student prints on
stdout/stderr can never be mistaken for a reply.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types

from . import chain, compat, figures, imports, paths, protocol, scenario, shims, watch


class Worker:
    def __init__(self, source: str, resp_fd: int):
        self.source = source
        self.resp_fd = resp_fd
        self.workdir = ""  # the submission's working copy, made by the first request that needs it
        self.modules: dict[str, object] = {}
        self.failed_imports: dict[str, dict] = {}
        self.script_errors: dict[str, dict] = {}

    def begin(self) -> None:
        """Copy the submission in. Done at the first request, not at start-up: a grader starts a
        worker (a spare) before the submission is staged into its folder, so the start-up is off the
        grade's clock."""
        self.workdir = tempfile.mkdtemp(prefix="submission-")
        shutil.copytree(self.source, self.workdir, dirs_exist_ok=True, symlinks=False, copy_function=_copy_or_link)
        watch.watch_files_under(self.workdir)
        chain.begin(self.workdir)
        imports.install(self.workdir)
        paths.install(self.workdir)

    # -- modules -------------------------------------------------------------------------
    def load_modules(self, wanted: dict[str, dict]) -> dict:
        """Load each ``name -> {path, as}`` once; announce loads so hangs are attributed to them."""
        loaded = {}
        for name, how in wanted.items():
            if name in self.failed_imports:
                raise ImportFailure(self.failed_imports[name])
            if name not in self.modules:
                self.modules[name] = self._load(name, how["path"], how.get("as", "module"), how.get("watch", []),
                                                how.get("after", []))
                imports.scan_globals(self.modules[name], how["path"])
                try:
                    setattr(self.modules[name], figures.KEY, name)  # figures_drawn(hw3) finds its figures
                except (AttributeError, TypeError):
                    pass
            loaded[name] = self.modules[name]
        return loaded

    def _load(self, name: str, rel: str, how: str, watched: list[str], after: list[str] = ()):
        path = os.path.join(self.workdir, rel)
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        os.chdir(folder)  # course scripts assume they run from their own folder ("../data")
        self.event({"event": "importing", "module": name})
        figures.begin(name)
        try:
            if os.path.splitext(rel)[1].lower() in scenario.DATA_SUFFIXES:
                module = scenario.load_data_file(path)
            elif how == "script":
                before = chain.scan(self.workdir)
                module = self._run_script(name, path, watched)
                chain.wrote(name, before, chain.scan(self.workdir))
                chain.read(name, [n for n, _ in watch.opened_files({figures.KEY: name})], after)
            else:
                module = importlib.import_module(os.path.splitext(os.path.basename(rel))[0])
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends included
            info = describe(exc, self.workdir, phase="import", module=name)
            self.failed_imports[name] = info
            raise ImportFailure(info) from None
        finally:
            figures.end()
        self.event({"event": "imported", "module": name})
        return module

    def _run_script(self, name: str, path: str, watched: list[str]):
        """Run a script as ``__main__``; its globals survive a crash part-way (noted on every reply)."""
        module = types.ModuleType("__main__")
        module.__file__ = path
        with open(path, "rb") as fh:
            source = fh.read()
        if watched:
            tree = watch.rewrite(ast.parse(source, path), watched)  # a SyntaxError fails the load itself
            module.__dict__["__autograde_watch__"] = watch.wrap
            code = compile(tree, path, "exec")
        else:
            code = compile(source, path, "exec")
        saved_argv, sys.argv = sys.argv, [path]
        printed = scenario.PrintedTail(sys.stdout)
        try:
            with contextlib.redirect_stdout(printed):
                exec(code, module.__dict__)  # noqa: S102 - this is the student's script, in the sandbox
        except SystemExit as exc:
            if exc.code not in (None, 0):
                self.script_errors[name] = describe(exc, self.workdir, phase="script", module=name)
        except Exception as exc:  # noqa: BLE001
            self.script_errors[name] = describe(exc, self.workdir, phase="script", module=name)
        finally:
            sys.argv = saved_argv
            module.__dict__[scenario.PRINTED] = printed.text()
        return module

    # -- requests ------------------------------------------------------------------------
    def event(self, header: dict) -> None:
        protocol.write_frame(self.resp_fd, header, None)

    def handle(self, header: dict, value) -> None:
        rid = header.get("id")
        op = header.get("op")
        started = time.perf_counter()
        try:
            if not self.workdir and op != "ping":
                self.begin()
            modules = self.load_modules(header.get("modules", {}))
            seed_everything(header.get("seed", 0))
            if op == "run":
                result = scenario.run_scenario(header["scenario"], value, modules)
            elif op == "numgrad":
                spec = header["numgrad"]
                result = scenario.numerical_gradient(header["scenario"], value, modules, spec["output"],
                                                     spec["upstream"], spec["wrt"], spec["eps"])
            elif op == "figures":
                result = {"figures": figures.figures_of(header["source"])}
            elif op == "ping":
                result = {"python": sys.version.split()[0], "uid": os.getuid()}
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = {"id": rid, "ok": True}
        except ImportFailure as failure:
            result, reply = None, {"id": rid, "ok": False, "error": failure.info}
        except BaseException as exc:  # noqa: BLE001 - the student's exception is the observation
            result, reply = None, {"id": rid, "ok": False, "error": describe(exc, self.workdir, phase="run")}
        finally:
            flush_std_streams()
        # a script that stopped part-way explains missing results, whether this probe passed or not
        notes = [self.script_errors[n] for n in header.get("modules", {}) if n in self.script_errors]
        if notes:
            reply["notes"] = notes
        reply["seconds"] = time.perf_counter() - started
        reply["imports"] = imports.record()
        reply["redirects"] = paths.record()
        reply["chain"] = chain.record()  # which earlier script's files (or the hand-in's) a script read
        reply["compat"] = compat.record()  # the old library APIs bridged so far (compat.py)
        try:
            protocol.write_frame(self.resp_fd, reply, result)
        except (TypeError, ValueError) as exc:  # an observation that is not data after all
            err = {"type": "UnencodableResult", "message": str(exc)[:300], "phase": "run"}
            protocol.write_frame(self.resp_fd, {"id": rid, "ok": False, "error": err}, None)


LINK_ABOVE_BYTES = 1 << 20


def _copy_or_link(src: str, dst: str) -> None:
    """Code and small files are copied (the student may rewrite them); datasets (MNIST is 55 MB)
    are linked read-only to the submission's copy: copying them cost seconds per worker."""
    if os.path.getsize(src) > LINK_ABOVE_BYTES:
        os.symlink(src, dst)
    else:
        shutil.copy2(src, dst)


class ImportFailure(Exception):
    def __init__(self, info: dict):
        super().__init__(info.get("message"))
        self.info = info


def describe(exc: BaseException, workdir: str, phase: str, module: str | None = None) -> dict:
    """An exception as data, with the traceback cut down to frames in the student's files."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if workdir and f.filename.startswith(workdir)]
    where = [f"{os.path.relpath(f.filename, workdir)}:{f.lineno} in {f.name}" for f in frames[-3:]]
    message = str(exc)
    if isinstance(exc, SystemExit):
        message = f"the code called sys.exit({exc.code!r})"
    elif isinstance(exc, SyntaxError):
        message = f"{exc.msg} ({os.path.basename(exc.filename or '?')}, line {exc.lineno})"
    return {"type": type(exc).__name__, "message": message[:400], "phase": phase, "module": module,
            "where": where}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed % (2**32))
    except ImportError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def reap_strays() -> None:
    """Kill processes a probe left behind (they would eat the next probe's pid budget).

    ``kill(-1)`` reaches every process this uid may signal except ourselves; inside the sandbox's
    pid namespace those are exactly the student's leftovers (bwrap's init runs as root and is spared).
    """
    if os.getuid() == 0:
        return  # never as root: outside a namespace that would be the whole machine
    spared = ancestors()
    deadline = time.monotonic() + 2.0
    while others_of_my_uid(spared) and time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass  # ESRCH: nothing left that we may signal
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.005)  # killed grandchildren count against pids.max until init reaps them


def ancestors() -> set[int]:
    """This process's parents. Under unprivileged bubblewrap its init (pid 1) runs as the student's
    uid too; ``kill(-1)`` never reaches it, so counting it as a stray made every probe wait the whole
    2 s (a student's ``autograde check`` took 81 s where root's took 8 s)."""
    found, pid = set(), os.getpid()
    while pid > 0 and pid not in found and len(found) < 64:
        found.add(pid)
        try:
            with open(f"/proc/{pid}/status") as fh:
                pid = next((int(line.split()[1]) for line in fh if line.startswith("PPid:")), 0)
        except (OSError, ValueError, IndexError):
            break
    return found


def others_of_my_uid(spared: set[int] | frozenset = frozenset()) -> bool:
    me, uid = os.getpid(), str(os.getuid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me or int(entry) in spared:
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                if any(line.startswith("Uid:") and line.split()[1] == uid for line in fh):
                    return True
        except OSError:
            continue
    return False


def flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a student may have replaced or closed them
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="agworker")
    parser.add_argument("--req-fd", type=int, required=True)
    parser.add_argument("--resp-fd", type=int, required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--shims", default="")
    parser.add_argument("--reap", action="store_true",
                        help="after each request kill every other process we may signal: only ever "
                             "passed inside a private pid namespace, where that means our own strays")
    args = parser.parse_args(argv)

    # Output floods must not kill the worker (RLIMIT_FSIZE); reading stdin must not steal requests.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    shims.apply([s for s in args.shims.split(",") if s])
    figures.install()

    worker = Worker(args.source, args.resp_fd)
    worker.event({"event": "ready", "pid": os.getpid()})
    while True:
        try:
            header, value = protocol.read_frame_blocking(args.req_fd)
        except protocol.FrameError:
            break
        if header.get("op") == "exit":
            break
        worker.handle(header, value)
        if args.reap:
            reap_strays()
    flush_std_streams()
    if worker.workdir:
        shutil.rmtree(worker.workdir, ignore_errors=True)  # outside a sandbox it is on the host
    os._exit(0)  # skip interpreter teardown: student atexit hooks and threads cannot delay us


if __name__ == "__main__":
    main()
