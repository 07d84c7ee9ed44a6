"""Metrics: SQL aggregates of the source tables by local day, region, segment, kit,
strategy, rolled up into the DAILY, WEEKLY and MONTHLY rows of the metrics tables.

Takes a source connection and a range of local days (`collect`); returns and stores the
metric rows (`store`), and reads them back for the API and the dashboard (`queries`).
Each family module returns a small DataFrame of additive measures documented in it;
`rollup` turns them into rows.
"""
