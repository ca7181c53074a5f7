"""Entry point of the ``featurestore`` command.

Subcommands live in their own modules and are imported only when invoked, so
``featurestore --help`` stays fast. Errors of this package print one line and exit 1
(the traceback with ``--verbose``); usage errors exit 2.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from featurestore.errors import FeatureStoreError

__all__ = ["cli", "main"]

# name -> "module:attribute" of a click command; imported on use.
_COMMANDS: dict[str, str] = {
    "info": "featurestore.cli.info:info",
    "apply": "featurestore.cli.registry:apply",
    "list": "featurestore.cli.registry:list_definitions",
    "describe": "featurestore.cli.registry:describe",
    "write": "featurestore.cli.writes:write",
    "materialize": "featurestore.cli.writes:materialize",
    "retrieve": "featurestore.cli.retrieve:retrieve",
    "models": "featurestore.cli.models:models",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=_LazyGroup)
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="featurestore")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:  # noqa: FBT001 - click flag
    """Offline feature store on Apache Iceberg."""
    ctx.obj = {"verbose": verbose}


def main(argv: list[str] | None = None) -> None:
    """Run the command line; the exit code says how it went (0 ok, 1 error, 2 usage)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="featurestore", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FeatureStoreError as exc:
        if "--verbose" in args or "-v" in args:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


def store_from_context(**overrides: Any) -> Any:
    """Connect with the configuration the CLI was started in (file, env, options)."""
    import featurestore

    return featurestore.connect(**{k: v for k, v in overrides.items() if v is not None})
