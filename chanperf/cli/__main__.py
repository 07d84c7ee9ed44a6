"""`python -m chanperf.cli`: the same command as `chanperf`."""

from chanperf.cli.main import main

main()
