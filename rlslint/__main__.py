"""``python -m rlslint`` and the ``rlslint`` command.

``rlslint --version`` is answered here, before the command line loads: click alone takes
longer to import than the whole answer should. Any other command defers the parts of
pglast a lint does not use (``rlslint.deferred``).
"""

import os
import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from rlslint import __version__

        try:
            sys.stdout.write(f"rlslint, version {__version__}\n")  # click's version_option prints the same
            sys.stdout.flush()
        except OSError as exc:  # a full disk or a closed pipe: one line, as every other command says it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to fail at exit
            sys.stderr.write(f"rlslint: error: cannot write to stdout: {exc.strerror or exc}\n")
            sys.exit(2)
        return
    from rlslint.deferred import defer

    defer("pglast", ("ast", "enums"))  # what parsing to JSON never uses; see rlslint.deferred
    from rlslint.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
