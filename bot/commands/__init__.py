"""One module per `flake-bot` subcommand.

Each module defines `register(subparsers)`, which adds its parser and sets `func` to a
callable taking the parsed `argparse.Namespace` and returning an exit status. `bot.cli`
discovers the modules here, so adding a command never edits a shared file.
"""
