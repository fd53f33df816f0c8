from engine_double.cli import entry

entry()
