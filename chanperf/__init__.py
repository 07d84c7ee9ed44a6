"""chanperf: the Channel Performance service's domain core (no Flask, no RQ here).

The pipeline, one folder per stage, in order:

    source/      the seven input tables: ingest, shared reads (cohorts, states)
    metrics/     collect → DAILY/WEEKLY/MONTHLY rows (store), read back (queries)
    analysis/    context + detectors/ → findings, p-values adjusted per run (run, detect)
    rules/       rules/*.yaml → matches on findings (load, compile, engine, pure, testing)
    insights/    matches → drafts (pt-BR), impact, stored and deduplicated, workflow
    proposals/   drafts with a change → policy diff + experiment plan; review, apply
    experiments/ design (assignment, power) and results of an applied proposal
    policies/    policies/*.yaml: load, versions, files (JSON Patch, in-place YAML edits)
beside them: core/ (settings, database, errors, enums, periods, stats), models/ and
migrations/ (the tables), jobs/ (RQ tasks, cron; queue.py is the one RQ adapter),
cli/ (the `chanperf` command) and demo/ (generated channels, detection quality).
"""

__version__ = "0.1.0"
