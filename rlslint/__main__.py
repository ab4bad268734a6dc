from rlslint.cli import main

main()
