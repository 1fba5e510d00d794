"""The command line: click commands that parse, call ``vmim.api``, and render."""
