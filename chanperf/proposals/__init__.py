"""Proposals: a policy change an approver reviews as a diff, with an experiment plan.

Takes insight drafts that carry a proposed change; returns reviewable proposals
(`generate`) with an experiment plan (`plan`), stores them deduplicated (`store`), moves them through review
(`workflow`), writes an approved one into its policy file (`apply`), replays the
analysis under it (`replay`) and reads them back (`queries`).
"""
