"""The ``onnxgate`` command line.

Exit codes: 0 everything passed, 1 a validation check failed, 2 usage or input error. A user error
is one line on stderr, never a traceback (``--debug`` shows one). ``onnxgate --help`` imports no
framework: each subcommand lives in ``onnxgate._commands.<name>`` and imports what it needs when it
runs.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Subcommand name -> module under onnxgate._commands, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "convert": "convert",
    "validate": "validate",
    "sweep": "sweep",
    "package": "package",
    "sql-dryrun": "sql_dryrun",
    "score": "score",
    "serve": "serve",
    "zoo": "zoo",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the fix, and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command`` (a name of :data:`COMMANDS`), only that subcommand is
    registered: its parser is the same, and the other commands' modules are not imported (``onnxgate
    validate`` imported all eight, some 70 kB of source, to run one)."""
    from onnxgate import __version__

    parser = _Parser(
        prog="onnxgate",
        description=(
            "Convert models to ONNX at the opset you choose, prove parity with the original, check them "
            "against their deployment target, and package them. Exit codes: 0 passed, 1 validation "
            "failed, 2 usage or input error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"onnxgate {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS.items():
        if command is None or name == command:
            importlib.import_module(f"onnxgate._commands.{module}").register(sub)
    _accept_debug_everywhere(sub)
    return parser


#: Arguments that name a file or folder. Given as '' (``--target-file "$T"`` with T unset) they were read as
#: not given (validate passed against the default target, and with ``--reference '' --data ''`` skipped
#: parity, exit 0) or as the working folder (``zoo export -o '' --force`` wrote into it): refused instead.
PATH_ARGUMENTS = frozenset({"model", "dir", "output", "out", "sample", "data", "reference", "target_file",
                            "database", "json", "junit", "markdown", "html"})
#: Arguments other than paths that an empty (or blank) value gives nothing to: each was read as not given, without a
#: word. ``package --model-name "$NAME"`` (NAME unset) packaged under the default name, ``--model-version``,
#: ``--description`` and ``--columns`` took their defaults, ``validate --spark ''`` ran without Spark, and ``serve
#: --api-key-env ''`` served with no key, ``--host ''`` on every address. Each maps to what it expects.
TEXT_ARGUMENTS = {"model_name": "a name", "model_version": "a version", "description": "a description",
                  "columns": "column names", "spark": "a Spark master URL",
                  "api_key_env": "an environment variable name", "host": "an address"}


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The parser of the command given (``zoo export``'s, under ``zoo``'s)."""
    chosen: Any = parser
    while True:
        subs = [a for a in chosen._actions if isinstance(a, argparse._SubParsersAction)]
        picked = getattr(args, subs[0].dest, None) if subs else None
        if picked is None:
            return chosen
        chosen = subs[0].choices[picked]


def _empty_path(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Action | None:
    """The first path argument (or one of :data:`TEXT_ARGUMENTS`) of the command given as an empty (or blank)
    string, or None."""
    chosen = _command_parser(parser, args)
    for action in chosen._actions:
        value = getattr(args, action.dest, None)
        if (action.dest in PATH_ARGUMENTS or action.dest in TEXT_ARGUMENTS) and isinstance(value, str) \
                and not value.strip():
            return action
    return None


def _looping_output(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """Why the first output of the command given (one of :data:`OUTPUT_ARGUMENTS`) cannot be written, when it, or a
    folder on its way, is a symbolic link that loops; else None. One check for every writer, before any work: each
    met the loop its own way ("unexpected RuntimeError: Symlink loop" from validate --json and score --out, "File
    exists" from zoo export). An option whose metavar is ``DIR`` writes a folder."""
    from onnxgate._files import link_loop_refusal

    for action in _command_parser(parser, args)._actions:
        value = getattr(args, action.dest, None)
        if action.dest in OUTPUT_ARGUMENTS and isinstance(value, str) and "://" not in value:
            refusal = link_loop_refusal(value, folder=action.metavar == "DIR",
                                        flag="/".join(action.option_strings) or action.dest)
            if refusal is not None:
                return refusal
    return None


def _command_named(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs, when nothing but ``--debug`` comes before it; else None (no command, an
    unknown one, or ``--help``/``--version`` first, which the whole parser answers)."""
    for word in argv:
        if word != "--debug":
            return word if word in COMMANDS else None
    return None


def _accept_debug_everywhere(sub: Any) -> None:
    """``--debug`` works after the subcommand too (``onnxgate validate m.onnx --debug``)."""
    for child in sub.choices.values():
        child.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                           help="show tracebacks for errors")
        for action in child._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_debug_everywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_named(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):  # a usage error, one line, as every other one
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        _one_line(f"onnxgate: error: a command is required: {', '.join(commands)} (see 'onnxgate --help')")
        return EXIT_USAGE
    empty = _empty_path(parser, args)
    if empty is not None:
        name = "/".join(empty.option_strings) or str(empty.metavar or empty.dest.upper())
        optional = empty.option_strings and not empty.required
        expected = TEXT_ARGUMENTS.get(empty.dest, "a path")
        _one_line(f"onnxgate {args.command}: error: {name} is empty: expected {expected}, found "
                  f"{getattr(args, empty.dest)!r}. Give one (an unset shell variable reads as '')"
                  f"{', or leave the option out' if optional else ''}")
        return EXIT_USAGE
    looping = _looping_output(parser, args)
    if looping is not None:
        _one_line(f"onnxgate {args.command}: error: {looping}")
        return EXIT_USAGE
    from onnxgate.errors import OnnxGateError

    interrupted, restore = _interrupts()
    try:
        with warnings.catch_warnings():
            # NaN or infinite values in the user's data are reported by the checks that meet them
            # (parity's NaN rule, nan_inputs); numpy's per-operation RuntimeWarnings would only add noise.
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    message=r"(invalid value|divide by zero|overflow) encountered")
            return int(args.run(args))
    except OnnxGateError as err:
        if args.debug:
            traceback.print_exc()
        _one_line(f"onnxgate {args.command}: error: {err}")
        return EXIT_USAGE
    except _Terminated:
        _one_line(f"onnxgate {args.command}: terminated (SIGTERM)")
        return 143
    except KeyboardInterrupt:
        _one_line(f"onnxgate {args.command}: interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as err:  # a path the user gave that cannot be read or written: theirs to fix
        if args.debug:
            traceback.print_exc()
        where = f" {err.filename!r}" if err.filename else ""
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            _one_line(
                f"onnxgate {args.command}: error: cannot write{where}: {err.strerror or err}. Free some space "
                "there or write elsewhere."
            )
            return EXIT_USAGE
        written = _output_option(parser, args, err.filename) if err.errno in _REFUSED_WRITES else None
        if written is not None:  # a folder the pre-check could not tell (root under /sys): name the option to change
            flag, value = written
            _one_line(
                f"onnxgate {args.command}: error: cannot write {flag} {value!r}: {err.strerror or err} (the folder "
                f"does not let this user write there). Give {flag} a path in a folder you may write; nothing was "
                "written"
            )
            return EXIT_USAGE
        _one_line(
            f"onnxgate {args.command}: error: cannot use{where}: {err.strerror or err}. Check that the path "
            "exists, is a file where a file is expected (a folder where a folder is), and that you may "
            "read it or write its folder."
        )
        return EXIT_USAGE
    except Exception as err:
        if interrupted:  # a signal inside a library (DuckDB's "Query interrupted", an import cut short)
            import signal

            terminated = interrupted[-1] == signal.SIGTERM
            _one_line(f"onnxgate {args.command}: {'terminated (SIGTERM)' if terminated else 'interrupted'}")
            return 143 if terminated else 130
        if args.debug:
            traceback.print_exc()
        _one_line(
            f"onnxgate {args.command}: error: unexpected {type(err).__name__}: {err} "
            "(rerun with --debug for the traceback, and please report it)"
        )
        return EXIT_USAGE
    finally:
        restore()


#: Arguments that name what a command writes, and the errors of a folder that may not be written.
OUTPUT_ARGUMENTS = frozenset({"output", "out", "json", "junit", "markdown", "html", "database"})
_REFUSED_WRITES = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def _output_option(parser: argparse.ArgumentParser, args: argparse.Namespace, filename: Any
                   ) -> tuple[str, str] | None:
    """The option (``-o``, ``--json``...) and its value of the command given whose path is ``filename`` or holds it
    (a package's file), or None: the error was met elsewhere (an input)."""
    if not isinstance(filename, (str, os.PathLike)):
        return None
    failed = Path(os.fspath(filename)).absolute()
    chosen = _command_parser(parser, args)
    for action in chosen._actions:
        value = getattr(args, action.dest, None)
        if action.dest in OUTPUT_ARGUMENTS and isinstance(value, str) and "://" not in value:
            given = Path(value).absolute()
            if failed == given or given in failed.parents:
                return "/".join(action.option_strings) or action.dest, value
    return None


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that its clean-ups run (temporary files, a database the
    dry run created), as they do for Ctrl-C."""


def _interrupts() -> tuple[list[int], Callable[[], None]]:
    """Route SIGTERM through :class:`_Terminated` and note each SIGINT, until the returned function puts
    the previous handlers back; the list is non-empty once the user interrupted (a library may turn the
    KeyboardInterrupt into its own error). Only from the main thread; ``serve`` installs its own SIGTERM
    handling."""
    import signal
    import threading

    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        return seen, lambda: None
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), sys.unraisablehook

    def restore() -> None:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
        sys.unraisablehook = before[2]
        _disable_logging("NOTSET")  # silenced by an interruption (here, or by the Spark command's handler)

    def on_term(signum: int, _frame: object) -> None:
        seen.append(signum)
        _disable_logging("CRITICAL")
        raise _Terminated

    def on_int(signum: int, _frame: object) -> None:
        seen.append(signum)
        sys.unraisablehook = lambda _unraisable: None  # a generator torn down mid-read: no stray traceback
        _disable_logging("CRITICAL")  # nor py4j's logged tracebacks while Spark's gateway is cut off
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    if before[1] is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_int)
    return seen, restore


def _disable_logging(level: str) -> None:
    """``logging.disable(level)`` when something imported logging (py4j, a framework): with no logger there is
    nothing to silence, and importing it cost every command a few milliseconds."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.disable(getattr(logging, level))


def _one_line(message: str) -> None:
    text = " ".join(str(message).split())
    print(text, file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
