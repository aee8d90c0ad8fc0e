"""The command line: parse, build objects, call, print tables, map errors to exit codes."""
