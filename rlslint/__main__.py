"""``python -m rlslint`` and the ``rlslint`` command.

``rlslint --version`` is answered here, before the command line loads: click alone takes
longer to import than the whole answer should.
"""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from rlslint import __version__

        sys.stdout.write(f"rlslint, version {__version__}\n")  # click's version_option prints the same
        return
    from rlslint.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
