"""The input contract: the seven source tables other channel services write.

Takes CSV/Parquet files (ingest) or a connection to the source tables; returns validated
rows written to those tables, and the shared reads of them (onboarding and reactivation
cohorts, account states at an instant) as DataFrames.
"""
