#!/usr/bin/env python3
"""The engine double's entry point (a contract with the pod runner):

    python3 engine_double.py serve DOCUMENT [--root DIR] [--pod-ip IP]

mirrors the engine's `java -jar ikanos.jar serve FILE`. The code lives in the package
engine_double/ beside this file; README.md says what is modelled and what is not.
"""

import os
import sys

# Run by path (python3 -E -s …/engine_double.py): make the package beside this file
# importable. A package wins over a module of the same name on import.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree

from engine_double.cli import entry  # noqa: E402

if __name__ == "__main__":
    entry()
