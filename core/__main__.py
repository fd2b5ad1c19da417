"""Command line: ``python -m core COMMAND ...`` (run ``python -m core --help``): this entry only collects the
sub-commands (``capture``, ``info``, ``footage``, ``export-smpl``: :mod:`core.cli.commands`; ``refine``:
:mod:`core.motion.cli`; ``batch``: :mod:`core.batch.cli`), runs the one asked for and turns a user error into
one line.

Exit codes: 0 done; 2 a problem with the input or the set-up (one ``error: ...`` line on stderr, no output
file); 130 interrupted (Ctrl-C) or cancelled; 1 a bug (with a traceback). Heavy packages are imported inside
the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys

DESCRIPTION = "TCMR Mocap: turn a video into per-person SMPL motion (TCMR, CVPR 2021)."


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage mistakes as one ``error:`` line (exit 2) like every other user error."""

    def error(self, message):
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description=DESCRIPTION,
                     epilog="run `python -m core capture --help` for the capture options and examples")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    from .batch.cli import add_parser as add_batch_parser
    from .cli.commands import add_capture_parser, add_tool_parsers
    from .motion.cli import add_refine_command

    add_capture_parser(sub, DESCRIPTION)  # python -m core capture VIDEO -o OUT.npz (core/cli/commands.py)
    add_refine_command(sub, DESCRIPTION)  # python -m core refine IN.npz -o OUT.npz (core/motion/cli.py)
    add_tool_parsers(sub)  # info, footage, export-smpl (core/cli/commands.py)
    add_batch_parser(sub)  # python -m core batch INPUTS... -o OUT_DIR (core/batch/cli.py)
    return parser


def _react_to_ctrl_c() -> None:
    """Ctrl-C/SIGINT raises KeyboardInterrupt (exit 130, no output) even where it arrives ignored: a shell
    starts background jobs (``cmd &``) and some launchers with SIGINT set to SIG_IGN, which Python keeps."""
    import signal

    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread (main() called from a worker thread): leave it to the caller
        pass


def main(argv=None) -> int:
    _react_to_ctrl_c()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own messages would clutter our one-line errors
    import warnings

    warnings.filterwarnings("ignore")  # library chatter is not for the user of a command line tool
    from .cli import commands
    from .errors import MocapError, one_line

    progress = commands.Progress(getattr(args, "progress_json", False))

    try:
        if args.command == "capture":
            return commands.capture(args, progress)
        if args.command == "batch":
            from .batch.cli import main as batch_main

            return batch_main(args)
        if args.command == "refine":
            from .motion.cli import run_refine

            return run_refine(args)
        if args.command == "info":
            return commands.info(args)
        if args.command == "footage":
            return commands.footage(args, progress)
        return commands.export_smpl(args)
    except MocapError as err:
        return _fail(progress, one_line(err), err.exit_code)
    except KeyboardInterrupt:
        return _fail(progress, "interrupted; no output was written", 130)


def _fail(progress, message: str, code: int) -> int:
    progress.clear()
    if progress.as_json:
        progress.emit({"type": "error", "message": message, "exit_code": code})
    sys.stderr.write(f"error: {message}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
