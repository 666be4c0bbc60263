"""One module per family of commands; each exposes a Typer app or functions that
``lakever_server.cli.app`` mounts."""
