"""Entry point of the ``likeness`` command.

Each command area lives in its own module with a ``register(app)`` function. Errors become one
line on stderr and an exit code; ``LIKENESS_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from likeness.errors import LikenessError


def build_app() -> typer.Typer:
    from likeness.cli import avatar, doctor, faces, studio, swap, tagging, train, vault, worker

    app = typer.Typer(
        name="likeness",
        help="Consent-first face swapping: vault, grants, swaps, tagged outputs.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    @app.callback()
    def root() -> None:
        """likeness: consent-first face swapping."""

    for module in (faces, vault, swap, avatar, tagging, train, doctor, studio, worker):
        module.register(app)

    @app.command()
    def version() -> None:
        """Print the likeness version."""
        from likeness import __version__

        print(__version__)

    return app


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; never lets a traceback reach the user unless LIKENESS_DEBUG is set."""
    debug = bool(os.environ.get("LIKENESS_DEBUG"))
    # Library warnings (a soft face, a held frame) reach the user as one plain line each.
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="likeness: %(levelname)s: %(message)s")
    try:
        # Standalone mode: Typer prints usage errors itself (exit 2); ours come out here.
        build_app()(args=argv, prog_name="likeness")
    except LikenessError as exc:
        if debug:
            raise
        print(f"likeness: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("likeness: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
        if debug:
            raise
        print(f"likeness: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
