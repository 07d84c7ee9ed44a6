"""`python -m chanperf`: the same command as `chanperf`."""

from chanperf.cli.main import main

main()
