"""The detectors, one module per area. Each takes a source connection and an
`AnalysisContext` and returns a list of findings, one per comparison it tested.
"""
