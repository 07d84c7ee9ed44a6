"""Experiments that prove a proposal: design (assignment, power, population) and
results (sample-ratio check, outcome by arm) of the A/B test an applied proposal runs.
"""
