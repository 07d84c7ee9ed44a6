"""Insights: from rule matches to stored, deduplicated insights a person acts on.

Takes rule matches; returns drafts with pt-BR texts (`drafts`) and an impact estimate
(`impact`), folds the cuts of one cause into their parent's drill-down (`grouping`),
stores them under a fingerprint (`store`), moves them through their status workflow
(`workflow`) and reads them back for the API (`queries`).
"""
