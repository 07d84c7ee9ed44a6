"""Demo channel generator: scenario files with planted patterns and null scenarios.

Only the `demo` command and the tests import this package; analysis code never does,
so nothing the analysis finds can come from knowing how the data was made.
"""
