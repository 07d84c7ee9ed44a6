-- Views for dashboards and analysts, for MySQL/MariaDB. Run after source_schema.sql and
-- schema.sql; safe to run again (CREATE OR REPLACE).
--
-- These are quick looks, not chanperf's measurements. Weeks here are cut on the stored
-- UTC timestamps, so an event late on Sunday evening in America/Sao_Paulo lands in the
-- next week. chanperf's collectors cut days, weeks and months in the organisation's time
-- zone (CHANPERF_TIMEZONE), apply the activation and reincidence windows and leave out
-- censored attempts; use channel_performance_metrics / _segment_metrics for decisions.
-- Rates and shares are percentages (25.00 = 25 %), as in channel_performance_metrics;
-- NULL when the denominator is 0.

-- How the accounts of each organisation are spread over states right now.
CREATE OR REPLACE VIEW v_current_state_distribution AS
SELECT
  a.org_id,
  a.state,
  COUNT(*) AS accounts,
  CAST(100 * COUNT(*) / totals.accounts AS DECIMAL(5,2)) AS share
FROM channel_accounts a
JOIN (
  SELECT org_id, COUNT(*) AS accounts FROM channel_accounts GROUP BY org_id
) totals ON totals.org_id = a.org_id
GROUP BY a.org_id, a.state, totals.accounts;

-- Onboardings by the ISO week (Monday, UTC) they started in and the account's region.
-- `completed` counts attempts of that cohort completed so far, whenever that was, so
-- recent weeks look worse than they will end up (no activation window, no censoring).
CREATE OR REPLACE VIEW v_weekly_onboarding_by_region AS
SELECT
  o.org_id,
  a.region,
  DATE_SUB(DATE(o.started_at), INTERVAL WEEKDAY(o.started_at) DAY) AS week_start,
  COUNT(*) AS started,
  COUNT(CASE WHEN o.status = 'COMPLETED' THEN 1 END) AS completed,
  CAST(100 * COUNT(CASE WHEN o.status = 'COMPLETED' THEN 1 END) / COUNT(*) AS DECIMAL(5,2))
    AS onboarding_rate
FROM channel_onboardings o
JOIN channel_accounts a ON a.org_id = o.org_id AND a.account_id = o.account_id
GROUP BY o.org_id, a.region, week_start;

-- Reactivation attempts by the ISO week (Monday, UTC) they started in and the account's
-- region. The win rate is over resolved attempts (WON + LOST): pending ones have no
-- outcome yet and would drag recent weeks down.
CREATE OR REPLACE VIEW v_weekly_reactivation_by_region AS
SELECT
  r.org_id,
  a.region,
  DATE_SUB(DATE(r.started_at), INTERVAL WEEKDAY(r.started_at) DAY) AS week_start,
  COUNT(*) AS started,
  COUNT(CASE WHEN r.status = 'WON' THEN 1 END) AS won,
  COUNT(CASE WHEN r.status = 'LOST' THEN 1 END) AS lost,
  CAST(
    100 * COUNT(CASE WHEN r.status = 'WON' THEN 1 END)
    / NULLIF(COUNT(CASE WHEN r.status IN ('WON', 'LOST') THEN 1 END), 0)
    AS DECIMAL(5,2)
  ) AS reactivation_rate
FROM channel_reactivations r
JOIN channel_accounts a ON a.org_id = r.org_id AND a.account_id = r.account_id
GROUP BY r.org_id, a.region, week_start;

-- Insights still waiting for someone: not yet dismissed or implemented.
CREATE OR REPLACE VIEW v_open_insights AS
SELECT
  org_id,
  insight_type,
  severity,
  COUNT(*) AS open_count
FROM channel_performance_insights
WHERE status IN ('NEW', 'REVIEWED', 'IN_PROGRESS')
GROUP BY org_id, insight_type, severity;
