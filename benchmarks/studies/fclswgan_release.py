"""Run the authors' released f-CLSWGAN code (Xian et al. CVPR 2018, PyTorch) from a folder the
user names, on the CPU with a current torch, and record its numbers at chosen epochs.

    python -m benchmarks.studies.fclswgan_release --authors-code DIR --out RESULT.json \\
        [--epoch-steps N] --eval-epochs 2,5,10,20 -- <clswgan.py's own arguments>

DIR holds the release's ``clswgan.py``, ``classifier.py``, ``classifier2.py``, ``util.py`` and
``model.py`` as published (how to get them: BENCHMARKS.md §7). Nothing of that code is part of
zsk: this script reads those files, applies the runtime patches below to their text in memory
(the files on disk are not changed), and runs ``clswgan.py`` as its own ``__main__`` with the
arguments after ``--``.

Runtime patches (each applied where its text occurs, so a copy already patched by hand works):

- ``loss.data[0]`` → ``loss.item()``: a 0-dim tensor cannot be indexed since torch 0.4;
- ``torch.FloatTensor([1])`` → ``torch.tensor(1.0)``: the critic's loss is 0-dim since torch
  0.4, and ``backward`` wants a gradient of the same shape.

``--epoch-steps N`` also sets the length of ``clswgan.py``'s epoch to N generator steps (its
loop ``for i in range(0, data.ntrain, opt.batch_size)`` runs N times; it is one step per 64
training features otherwise). Each step draws its batches afresh at random from all training
features (``util.next_batch``), so the epoch's length changes where the release evaluates (after
each epoch, generating features from the training's random stream as released), not how it
trains; it lets the release be evaluated at step counts that are not multiples of its own epoch.

``volatile=True`` is accepted with a warning and has no effect (the generated features are
copied with ``.data``), so it is left alone. CPU only: pass no ``--cuda``.

Evaluation: ``clswgan.py`` evaluates after each of its epochs (one generator step per 64 training
features, each after 5 critic batches). This script replaces ``classifier2.CLASSIFIER`` by a
wrapper that evaluates only at ``--eval-epochs`` (1-based; the others get zeros, which the
script prints and does not use), and there runs *both* of the authors' final classifiers on the
same generated features, as their two scripts do: with ``--gzsl``, their GZSL classifier (real
seen + generated unseen features, all classes) and their ZSL classifier (generated unseen
features alone, unseen classes), each with the release's own arguments (Adam, ``--classifier_lr``,
β1 0.5, 25 epochs, batch ``--syn_num``). Both classifiers report the best of their 25 epochs on
the *test* features (as released); the wrapper also records every epoch's test numbers, so the
last epoch's (no choice on test data) is reported beside them. ``--eval-draws K`` evaluates each
chosen epoch K times: the first on the features the release generated, each other on features
drawn again with its own ``generate_syn_feature`` (and the classifiers initialised afresh); the
point records every draw and each number's mean over them. The evaluation runs under a forked
random state, so the training's random stream is the same whichever epochs are evaluated, and
however many draws.

CPU seconds are the process's (all threads), split into training (everything but evaluation,
the pre-trained classifier included) and evaluation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path

import torch

RELEASE = ("util", "model", "classifier", "classifier2")
PATCHES = (
    ("loss.data[0]", "loss.item()"),
    ("torch.FloatTensor([1])", "torch.tensor(1.0)"),
)
#: ``clswgan.py``'s epoch loop, whose length ``--epoch-steps`` sets
EPOCH_LOOP = "for i in range(0, data.ntrain, opt.batch_size):"


def patched_source(path: Path) -> str:
    """The text of ``path`` with :data:`PATCHES` applied."""
    text = path.read_text()
    for old, new in PATCHES:
        text = text.replace(old, new)
    return text


def with_epoch_steps(source: str, steps: int) -> str:
    """``clswgan.py``'s text with its epoch :data:`EPOCH_LOOP` made ``steps`` generator steps."""
    if source.count(EPOCH_LOOP) != 1:
        raise SystemExit(f"clswgan.py has no single {EPOCH_LOOP!r} to set the epoch's length")
    return source.replace(
        EPOCH_LOOP, f"for i in range(0, {steps} * opt.batch_size, opt.batch_size):"
    )


def load_release(folder: Path) -> dict[str, types.ModuleType]:
    """Import the release's modules from ``folder`` (patched in memory) under their own names."""
    missing = [
        f"{name}.py" for name in (*RELEASE, "clswgan") if not (folder / f"{name}.py").is_file()
    ]
    if missing:
        raise SystemExit(f"{folder} lacks {', '.join(missing)}: see BENCHMARKS.md §7")
    modules = {}
    for name in RELEASE:
        module = types.ModuleType(name)
        module.__file__ = str(folder / f"{name}.py")
        sys.modules[name] = module
        exec(
            compile(patched_source(folder / f"{name}.py"), module.__file__, "exec"), module.__dict__
        )
        modules[name] = module
    return modules


class Recorder:
    """Wraps ``classifier2.CLASSIFIER``: evaluates at chosen epochs, records what it found."""

    def __init__(
        self, modules: dict[str, types.ModuleType], epochs: set[int], steps_per_epoch, draws=1
    ):
        self.original = modules["classifier2"].CLASSIFIER
        self.util = modules["util"]
        self.epochs, self.steps_per_epoch, self.draws = epochs, steps_per_epoch, draws
        #: ``clswgan.py``'s namespace while it runs (its generator and ``generate_syn_feature``)
        self.release: dict = {}
        self.calls, self.eval_cpu, self.points = 0, 0.0, []
        self.started = time.process_time()
        self._record_epochs()

    def _record_epochs(self) -> None:
        """Keep every epoch's test numbers on the classifier (its ``val``/``val_gzsl``)."""
        cls = self.original
        val, val_gzsl = cls.val, cls.val_gzsl

        def recorded(method):
            def wrapper(self, *args):
                value = float(method(self, *args))
                self.__dict__.setdefault("history", []).append(value)
                return value

            return wrapper

        cls.val, cls.val_gzsl = recorded(val), recorded(val_gzsl)

    def __call__(self, train_x, train_y, data, nclass, cuda, lr, beta1, nepoch, batch, gzsl=True):
        self.calls += 1
        if self.calls not in self.epochs:
            return types.SimpleNamespace(acc=0.0, acc_seen=0.0, acc_unseen=0.0, H=0.0)
        clock = time.process_time()
        train_cpu = clock - self.started - self.eval_cpu
        with torch.random.fork_rng(devices=[]):
            point = {"epoch": self.calls, "generator_steps": self.calls * self.steps_per_epoch}
            point["train_cpu_seconds"] = train_cpu
            args = (cuda, lr, beta1, nepoch, batch)
            point["draws"] = [self._draw(train_x, train_y, data, nclass, args, gzsl)]
            for _ in range(self.draws - 1):
                train_x, train_y = self._generated_afresh(data, train_x, train_y, gzsl)
                point["draws"].append(self._draw(train_x, train_y, data, nclass, args, gzsl))
            point |= _mean_of(point["draws"])
        self.eval_cpu += time.process_time() - clock
        point["eval_cpu_seconds"] = time.process_time() - clock
        self.points.append(point)
        print(json.dumps(point), flush=True)
        best = point.get("gzsl", {"best": {"s": 0.0, "u": 0.0, "h": 0.0}})["best"]
        return types.SimpleNamespace(
            acc=point["zsl"]["best"], acc_seen=best["s"], acc_unseen=best["u"], H=best["h"]
        )

    def _draw(self, train_x, train_y, data, nclass, args, gzsl: bool) -> dict:
        """Both classifiers on one draw of generated features (the GZSL one with ``gzsl``)."""
        draw = {}
        if gzsl:
            draw["gzsl"] = self._gzsl(train_x, train_y, data, nclass, args)
            unseen_x, unseen_y = train_x[data.ntrain :], train_y[data.ntrain :]
        else:
            unseen_x, unseen_y = train_x, data.unseenclasses[train_y]
        draw["zsl"] = self._zsl(unseen_x, unseen_y, data, args)
        return draw

    def _generated_afresh(self, data, train_x, train_y, gzsl: bool):
        """The classifiers' training features with the generated unseen ones drawn again by the
        release's own ``generate_syn_feature`` (its generator is in eval mode here)."""
        release = self.release
        num = release["opt"].syn_num
        fake_x, fake_y = release["generate_syn_feature"](
            release["netG"], data.unseenclasses, data.attribute, num
        )
        if not gzsl:
            return fake_x, self.util.map_label(fake_y, data.unseenclasses)
        return (
            torch.cat([train_x[: data.ntrain], fake_x]),
            torch.cat([train_y[: data.ntrain], fake_y]),
        )

    def _gzsl(self, train_x, train_y, data, nclass, args) -> dict:
        fitted = self.original(train_x, train_y, data, nclass, *args, True)
        seen, unseen = fitted.history[0::2], fitted.history[1::2]
        last = {"s": seen[-1], "u": unseen[-1], "h": _h(unseen[-1], seen[-1])}
        best = {"s": float(fitted.acc_seen), "u": float(fitted.acc_unseen), "h": float(fitted.H)}
        return {"best": best, "last": last}

    def _zsl(self, unseen_x, unseen_y, data, args) -> dict:
        labels = self.util.map_label(unseen_y, data.unseenclasses)
        classes = data.unseenclasses.size(0)
        fitted = self.original(unseen_x, labels, data, classes, *args, False)
        return {"best": float(fitted.acc), "last": fitted.history[-1]}


def _mean_of(draws: list[dict]) -> dict:
    """Each number of the draws (``zsl``'s and ``gzsl``'s best and last) averaged over them."""

    def mean(values):
        if isinstance(values[0], dict):
            return {key: mean([v[key] for v in values]) for key in values[0]}
        return sum(values) / len(values)

    return mean(draws)


def _h(u: float, s: float) -> float:
    return 2 * u * s / (u + s) if u + s > 0 else 0.0


def run(
    folder: Path,
    argv: list[str],
    epochs: set[int],
    out: Path,
    epoch_steps: int | None = None,
    draws: int = 1,
) -> dict:
    """Run ``clswgan.py`` with ``argv``, evaluating at ``epochs`` (of ``epoch_steps`` generator
    steps each, or the release's own epoch) on ``draws`` draws each; write and return the
    record."""
    torch.set_num_threads(1)
    modules = load_release(folder)
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--batch_size", type=int, default=64)
    known, _ = options.parse_known_args(argv)
    steps_per_epoch = epoch_steps or -(-_training_size(argv) // known.batch_size)
    recorder = Recorder(modules, epochs, steps_per_epoch, draws)
    modules["classifier2"].CLASSIFIER = recorder
    sys.argv = [str(folder / "clswgan.py"), *argv]
    source = patched_source(folder / "clswgan.py")
    if epoch_steps is not None:
        source = with_epoch_steps(source, epoch_steps)
    recorder.release["__name__"] = "__main__"
    exec(compile(source, str(folder / "clswgan.py"), "exec"), recorder.release)
    record = {"argv": argv, "steps_per_epoch": steps_per_epoch, "points": recorder.points}
    record["torch"], record["threads"] = torch.__version__, torch.get_num_threads()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _training_size(argv: list[str]) -> int:
    """The number of trainval features the run trains on (read as the release reads them)."""
    import scipy.io

    options = argparse.ArgumentParser(add_help=False)
    for name in ("--dataroot", "--dataset", "--class_embedding"):
        options.add_argument(name)
    known, _ = options.parse_known_args(argv)
    splits = Path(known.dataroot) / known.dataset / f"{known.class_embedding or 'att'}_splits.mat"
    return int(scipy.io.loadmat(str(splits))["trainval_loc"].size)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ours, theirs = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--authors-code", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--eval-epochs", default="1")
    parser.add_argument("--epoch-steps", type=int, help="generator steps per epoch (see module)")
    parser.add_argument("--eval-draws", type=int, default=1, help="draws per evaluation (module)")
    args = parser.parse_args(ours)
    epochs = {int(e) for e in args.eval_epochs.split(",")}
    run(args.authors_code.resolve(), theirs, epochs, args.out, args.epoch_steps, args.eval_draws)


if __name__ == "__main__":
    main()
