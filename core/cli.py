"""The ``ganrun`` command. Heavy imports (torch, mlflow) happen inside the commands, so
``ganrun --help`` and ``ganrun --version`` answer at once.

Exit codes: 0 done; 1 an unexpected error (with its traceback); 2 bad input (one line on
stderr naming the key or file); 3 a run stopped by a plugin (a health monitor); 130 Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from ganrun import __version__

COMMANDS = ("train", "sample", "translate", "import", "plugins", "evaluator", "data")

DESCRIPTION = """\
Train GANs from recipes, with every run tracked.

  ganrun RECIPE.yaml [KEY=VALUE ...] [--resume RUN|latest] [--summary-json PATH]
  ganrun sample MODEL --n N --seed S --out OUT.png|.jpg|.npz [--label C]
  ganrun translate MODEL --to TARGET --input DIR_OR_IMAGE --out DIR
  ganrun import FORMAT SOURCE --out FILE.safetensors
  ganrun plugins [--check]
  ganrun evaluator train NAME [--out DIR]
  ganrun data list | ganrun data download NAME [--root DIR]
"""

DATA_HELP = """\
Published datasets, fetched over the network, checked (size and SHA-256) and unpacked
atomically: ROOT/NAME appears whole or not at all; a complete ROOT/NAME is kept as it is.

environment:
  GANRUN_DATA_MIRROR  base URL to fetch archives from instead of their publishers: the
                      archive's file name is appended (.../NAME.zip); the size
                      and SHA-256 are still checked
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise _BadArgs(f"{self.prog}: {message}")


class _BadArgs(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganrun", description=DESCRIPTION,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"ganrun {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train from a recipe (the default command)")
    t.add_argument("recipe", help="recipe YAML file")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override recipe keys")
    t.add_argument("--resume", metavar="RUN", help="run folder, run id, or 'latest'")
    t.add_argument("--summary-json", metavar="PATH", help="write the run's summary as JSON")

    s = sub.add_parser("sample", help="draw samples from a saved generator")
    s.add_argument("model", help="generator .safetensors, run folder, MLflow run id or models:/NAME/V")
    s.add_argument("--n", type=int, default=16, help="number of images (default 16)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--label", type=int, default=None, help="class to draw (conditional methods)")
    s.add_argument("--out", required=True,
                   help="a grid (.png, .jpg, .jpeg) or raw samples (.npz: images, labels)")
    s.add_argument("--tracking-uri", default=None, help="MLflow store (default: ./mlruns)")

    tr = sub.add_parser("translate", help="translate images with a saved image-to-image method")
    tr.add_argument("model", help="generator .safetensors, run folder, MLflow run id or models:/NAME/V")
    tr.add_argument("--to", "--direction", dest="to", required=True, metavar="TARGET",
                    help="what to translate to, as the method names it (AtoB, BtoA; "
                         "a label such as thick=1,slanted=0); --direction is an alias")
    tr.add_argument("--input", required=True, help="an image file or a folder of images")
    tr.add_argument("--out", required=True, help="output folder")
    tr.add_argument("--tracking-uri", default=None, help="MLflow store (default: ./mlruns)")

    im = sub.add_parser("import", help="convert another project's generator weights")
    im.add_argument("format", metavar="FORMAT", help="a registered importer (`ganrun plugins` lists them)")
    im.add_argument("source", help="the weights file to convert")
    im.add_argument("--out", required=True, help="ganrun generator file to write (.safetensors)")
    im.add_argument("--network", default=None, help="which generator it is (importer's default)")

    pl = sub.add_parser("plugins", help="list installed plugins and the hooks they implement")
    pl.add_argument("--check", action="store_true",
                    help="import and validate every plugin; name each broken one (exit 2)")

    e = sub.add_parser("evaluator", help="evaluators: the classifiers that measure samples")
    e.add_argument("action", choices=["train"], help="train: retrain reproducibly")
    e.add_argument("name", help="a registered evaluator, e.g. lenet_mnist")
    e.add_argument("--out", default=None, help="folder for the weights (default: where it ships)")

    d = sub.add_parser("data", help="list and download published datasets", description=DATA_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    dsub = d.add_subparsers(dest="action", required=True, parser_class=_Parser)
    dsub.add_parser("list", help="the datasets `download` knows: name, size, URL")
    dl = dsub.add_parser("download", help="fetch, check and unpack NAME into ROOT/NAME",
                         description=DATA_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    dl.add_argument("name", help="a dataset from `ganrun data list`")
    dl.add_argument("--root", default="data", help="parent folder (default: ./data)")
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _setup():
    """The healthy plugins and their registry; each broken plugin is named in one warning."""
    from ganrun.plugin_check import load_plugins

    pm, registry, problems = load_plugins()
    for problem in problems:
        print(f"ganrun: warning: {problem} (left out)", file=sys.stderr)
    return pm, registry


def cmd_train(args: argparse.Namespace) -> int:
    from ganrun import engine
    from ganrun.errors import UserError
    from ganrun.recipe import load_recipe
    from ganrun.runs import find_run, load_run_recipe

    pm, registry = _setup()
    recipe = load_recipe(args.recipe, args.overrides, registry=registry)
    resume_dir = None
    if args.resume:
        resume_dir = find_run(args.resume, recipe)
        recipe = load_run_recipe(resume_dir, args.overrides, registry=registry)
    from ganrun import distributed

    started = time.time()
    try:
        run = engine.prepare(recipe, pm, registry, resume_dir, recipe_file=args.recipe)
        report = (lambda: _report(run, time.time() - started, args.summary_json, args.recipe)) \
            if run.is_main else (lambda: None)  # under torchrun, rank 0 speaks for the run
        try:
            engine.execute(run)
        except UserError:
            if run.step == 0:  # bad input found as the run started: the one-line error only
                raise
            report()
            raise
        except BaseException:
            report()
            raise
        report()
    finally:
        distributed.stop()
    if run.stop_reason and run.is_main:
        print(f"ganrun: stopped: {run.stop_reason}", file=sys.stderr)
    return run.exit_code


def _next_step(run) -> str | None:
    """The command that uses the exported generator: translate, sample, or none for a
    method exporting no generator (a classifier's plugin brings its own command)."""
    if not run.trainer.generators:
        return None
    example = run.registry.method(run.recipe.method).translate_example
    if example:
        return (f"  translate: ganrun translate {run.generator_path} --to {example} "
                f"--input IMAGES --out DIR")
    return f"  sample: ganrun sample {run.generator_path} --n 16 --seed 0 --out samples.png"


def _evaluation_line(metrics: dict[str, float]) -> str:
    """The last epoch's sample-quality figures (``eval/*``, then ``real/*`` references)."""
    shown = [k for k in sorted(metrics) if k.startswith("eval/") and not k.endswith("_std")]
    shown += [k for k in sorted(metrics) if k.startswith("real/")]
    return ", ".join(f"{k.split('/', 1)[1] if k.startswith('eval/') else k} {metrics[k]:.4g}"
                     for k in shown)


def _report(run, seconds: float, summary_json: str | None, recipe: str) -> None:
    lines = [f"run {run.status} after {run.epoch} epoch(s), {seconds:.0f} s",
             f"  output dir: {run.output_dir}"]
    lines += [f"  {k}: {v}" for k, v in run.summary.items()]
    evaluation = _evaluation_line(run.metrics)
    if evaluation:
        lines.append(f"  last evaluation: {evaluation}")
    next_step = _next_step(run) if run.generator_path else None
    if next_step:
        lines.append(next_step)
    if run.status in ("KILLED", "FAILED") and run.step:
        lines.append(f"  resume: ganrun {recipe} --resume {run.output_dir}")
    print("\n".join(lines), file=sys.stderr if run.status != "FINISHED" else sys.stdout)
    if summary_json:
        summary = {"run_id": run.id, "output_dir": str(run.output_dir), "status": run.status,
                   "metrics": run.metrics, "generator": run.generator_path}
        Path(summary_json).write_text(json.dumps(summary, indent=2))


def cmd_sample(args: argparse.Namespace) -> int:
    from ganrun.mlflow_store import default_uri
    from ganrun.sampling import sample

    pm, registry = _setup()
    out = sample(args.model, args.n, args.seed, args.label, args.out, pm=pm, registry=registry,
                 tracking_uri=args.tracking_uri or default_uri())
    print(out)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from ganrun.mlflow_store import default_uri
    from ganrun.translate import translate

    pm, registry = _setup()
    written = translate(args.model, args.to, args.input, args.out, pm=pm,
                        registry=registry, tracking_uri=args.tracking_uri or default_uri())
    print(f"{len(written)} image(s) -> {Path(args.out).resolve()}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    pm, registry = _setup()
    info = registry.importer(args.format)
    print(info.convert(args.source, args.out, args.network))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    if args.check:
        return _check_plugins()
    pm, registry = _setup()
    for rec in pm.records:
        print(f"{rec.name}  ({rec.distribution} {rec.version}, {rec.module})")
        print(f"    hooks: {', '.join(pm.hooks_of(rec.name))}")
    print(f"methods: {', '.join(sorted(registry.methods)) or '-'}")
    print(f"datasets: {', '.join(sorted(registry.datasets)) or '-'}")
    print(f"health monitors: {', '.join(registry.monitors) or '-'}")
    if registry.importers:
        print(f"importers: {', '.join(sorted(registry.importers))}")
    if registry.commands:
        print(f"commands: {', '.join(f'ganrun {c}' for c in sorted(registry.commands))}")
    return 0


def _check_plugins() -> int:
    """``ganrun plugins --check``: one line per problem, exit 2 if there is any."""
    from ganrun.plugin_check import load_plugins

    pm, _, problems = load_plugins()
    for problem in problems:
        print(f"ganrun: error: {problem}", file=sys.stderr)
    broken = len({p.plugin for p in problems})
    print(f"{len(pm.records) + broken} plugins checked: "
          f"{f'{broken} broken' if broken else 'all healthy'}")
    return 2 if problems else 0


def cmd_evaluator(args: argparse.Namespace) -> int:
    from ganrun.errors import UserError

    pm, registry = _setup()
    info = registry.evaluator(args.name, key="NAME")
    if info.train is None:
        raise UserError(f"NAME: evaluator '{args.name}' cannot be retrained")
    print(json.dumps(info.train(args.out), indent=2))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from ganrun.data import download

    pm, registry = _setup()
    if args.action == "list":
        for spec in registry.archives.values():
            print(f"{spec.name}  {spec.size / 1e6:.0f} MB  {download.source_url(spec)}")
        return 0
    spec = download.archive(args.name, registry.archives)
    print(download.download(spec, args.root, progress=not args.quiet))
    return 0


def _plugin_command(name: str):
    """The plugin command ``name`` (``ganrun_register_commands``), or None: a recipe path."""
    if Path(name).suffix in (".yaml", ".yml") or Path(name).is_file():
        return None  # a folder is no recipe: `ganrun runs` beside the runs/ folder lists runs
    pm, registry = _setup()
    info = registry.commands.get(name)
    if info is None:
        return None
    p = _Parser(prog=f"ganrun {name}", description=info.description)
    info.add_arguments(p)
    return lambda rest: info.run(p.parse_args(rest), pm, registry)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
            command = _plugin_command(argv[0])
            if command is not None:
                return command(argv[1:])
            argv.insert(0, "train")
        args, extra = parser.parse_known_args(argv)
        if args.command == "train":  # overrides after the options: `RECIPE --resume latest K=V`
            args.overrides += [x for x in extra if "=" in x and not x.startswith("-")]
            extra = [x for x in extra if x not in args.overrides]
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        commands = {"train": cmd_train, "sample": cmd_sample, "translate": cmd_translate,
                    "import": cmd_import, "plugins": cmd_plugins,
                    "evaluator": cmd_evaluator, "data": cmd_data}
        return commands[args.command](args)
    except _BadArgs as e:
        print(e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganrun: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ganrun plugins | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0
    except Exception as e:
        from ganrun.errors import UserError

        if isinstance(e, UserError):
            print(f"ganrun: error: {e}", file=sys.stderr)
            return e.exit_code
        raise


if __name__ == "__main__":
    sys.exit(main())
