"""The conventions the three CLIs (`ssvae-train`, `ssvae-export`, `ssvae-edge`) share, defined once:
`-h` beside `--help`, `--version`, and one error style, `PROG: error: one line` with exit code 2 — for
our own errors and for click's usage errors alike. Torch-free: `ssvae_train` imports it from here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

# typer (>= 0.29, pyproject) carries its own copy of click: its usage errors are these classes
from typer._click import exceptions as _exc
from typer._click.globals import get_current_context

CONTEXT = {"help_option_names": ["-h", "--help"]}
# --force means one thing in every command that writes (fit, export, demo): replace what --out holds
FORCE_HELP = ("Replace what --out already holds (an earlier run, bundle or demo folder); without it, an "
              "existing --out is refused and nothing is written.")


def new_app(help: str, **options: Any) -> typer.Typer:
    """A typer app as the three CLIs make theirs: help on no arguments, `-h`, plain help text, no rich
    tracebacks (our errors are one line)."""
    return typer.Typer(help=help, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                       context_settings=CONTEXT, **options)


def error_line(prog: str, message: str) -> str:
    """`PROG: error: message` on one line (newlines in the message folded)."""
    return f"{prog}: error: {' '.join(str(message).split())}"


def fail(prog: str, message: str) -> typer.Exit:
    """Print the error line on stderr; return the Exit(2) to raise."""
    typer.echo(error_line(prog, message), err=True)
    return typer.Exit(2)


def version_option(prog: str) -> Any:
    """A `--version` option for `Annotated[bool, ...] = False` (eager: it answers before anything else)."""

    def show(value: bool) -> None:
        if value:
            from ssvae_edge import __version__

            typer.echo(f"{prog} {__version__}")
            raise typer.Exit(0)

    return typer.Option("--version", callback=show, is_eager=True, help="Print the version and exit.")


def prog_name(default: str) -> str:
    """The running command's name, for error lines raised deep inside a command."""
    ctx = get_current_context(silent=True)
    return ctx.find_root().info_name or default if ctx is not None else default


def run(app: Callable[..., Any], prog: str) -> None:
    """Run a typer app as `prog`; usage errors come out as one `PROG: error:` line and exit 2."""
    try:
        rv = app(prog_name=prog, standalone_mode=False)
    except _exc.NoArgsIsHelpError as e:
        e.show()  # no arguments: the help, as before
        sys.exit(e.exit_code)
    except _exc.UsageError as e:
        typer.echo(error_line(prog, f"{e.format_message()} (see {prog} -h)"), err=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
