"""The command line: thin Typer commands that parse, call the engine and render."""
