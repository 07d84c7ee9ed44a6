"""Policies as code: `policies/*.yaml`, how the channel is meant to run.

Takes a policy folder; returns a validated `PolicySet` (`load`), records the versions
an organisation ran under (`versions`), edits files as text with JSON Patch, changing
only the changed values' text in the file's own style (`files`, `yaml_edit`, `yaml_style`), and reads
them back for the API (`queries`).
"""
