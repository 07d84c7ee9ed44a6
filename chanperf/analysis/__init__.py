"""One analysis run: detectors compare groups and periods and return findings.

Takes the source tables, the stored metrics and the policies (`AnalysisContext`);
returns typed findings (`findings`) with p-values adjusted together (`detect`), which
`run` hands to the rules, the insight store and the proposal generator.
"""
