-- chanperf's own tables, for MySQL/MariaDB.
--
-- The same schema `chanperf db upgrade` (Alembic) creates; tests/migrations/test_schema_ddl.py keeps
-- the two equal column by column, index by index. Enumerations are native ENUMs here, as
-- SQLAlchemy renders them on MySQL (on SQLite they are CHECKed VARCHARs). Rates are
-- percentages (12.34 = 12.34 %, docs/metrics.md), money is in the organisation's currency, timestamps are
-- naive DATETIMEs in UTC. Safe to run more than once; run source_schema.sql first only if
-- the source tables live in the same database (no foreign key points at them).

CREATE TABLE IF NOT EXISTS channel_analysis_runs (
  id                BIGINT       NOT NULL AUTO_INCREMENT,
  org_id            INT          NOT NULL DEFAULT 1,
  kind              VARCHAR(20)  NOT NULL DEFAULT 'ANALYZE',
  run_key           VARCHAR(100) NULL,
  job_id            VARCHAR(100) NULL,
  as_of             DATE         NOT NULL,
  period_start      DATE         NULL,
  period_end        DATE         NULL,
  started_at        DATETIME     NOT NULL,
  finished_at       DATETIME     NULL,
  status            ENUM('RUNNING','SUCCEEDED','FAILED') NOT NULL DEFAULT 'RUNNING',
  findings_count    INT          NOT NULL DEFAULT 0,
  insights_created  INT          NOT NULL DEFAULT 0,
  insights_updated  INT          NOT NULL DEFAULT 0,
  proposals_created INT          NOT NULL DEFAULT 0,
  metrics_written   INT          NOT NULL DEFAULT 0,
  error             TEXT         NULL,
  CONSTRAINT pk_channel_analysis_runs PRIMARY KEY (id),
  CONSTRAINT uq_channel_analysis_runs_run_key UNIQUE (run_key),
  KEY ix_channel_analysis_runs_org_id_as_of (org_id, as_of),
  KEY ix_channel_analysis_runs_org_id_status (org_id, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per organisation, period type and period (the period's first day).
CREATE TABLE IF NOT EXISTS channel_performance_metrics (
  id          BIGINT NOT NULL AUTO_INCREMENT,
  org_id      INT    NOT NULL DEFAULT 1,
  period_date DATE   NOT NULL,
  period_type ENUM('DAILY','WEEKLY','MONTHLY') NOT NULL,
  -- onboarding (the cohort started in the period); rates are percentages, 0-100
  onboarding_started             INT           NOT NULL DEFAULT 0,
  onboarding_completed           INT           NOT NULL DEFAULT 0,
  onboarding_failed              INT           NOT NULL DEFAULT 0,
  onboarding_rate                DECIMAL(5,2)  NULL,
  avg_activation_days            DECIMAL(5,1)  NULL,
  -- reactivation
  reactivation_attempts          INT           NOT NULL DEFAULT 0,
  reactivation_won               INT           NOT NULL DEFAULT 0,
  reactivation_lost              INT           NOT NULL DEFAULT 0,
  reactivation_rate              DECIMAL(5,2)  NULL,
  avg_reactivation_cost          DECIMAL(10,2) NULL,
  reincidence_rate               DECIMAL(5,2)  NULL,
  -- state distribution at the end of the period
  accounts_new                   INT           NOT NULL DEFAULT 0,
  accounts_activating            INT           NOT NULL DEFAULT 0,
  accounts_active                INT           NOT NULL DEFAULT 0,
  accounts_stalled               INT           NOT NULL DEFAULT 0,
  accounts_at_risk               INT           NOT NULL DEFAULT 0,
  accounts_churned               INT           NOT NULL DEFAULT 0,
  -- transitions into a state during the period
  transitions_to_active          INT           NOT NULL DEFAULT 0,
  transitions_to_stalled         INT           NOT NULL DEFAULT 0,
  transitions_to_churn           INT           NOT NULL DEFAULT 0,
  -- revenue
  total_revenue                  DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_margin                     DECIMAL(5,2)  NULL,
  revenue_from_new               DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_from_reactivated       DECIMAL(15,2) NOT NULL DEFAULT 0,
  -- quality
  avg_health_score               DECIMAL(5,1)  NULL,
  exceptions_count               INT           NOT NULL DEFAULT 0,
  -- extensions: the counts behind every rate, so rates re-aggregate exactly, and more
  total_accounts                 INT           NOT NULL DEFAULT 0,
  onboarding_matured             INT           NOT NULL DEFAULT 0,
  onboarding_activated_in_window INT           NOT NULL DEFAULT 0,
  activation_days_sum            DECIMAL(15,4) NOT NULL DEFAULT 0,
  reactivation_resolved          INT           NOT NULL DEFAULT 0,
  reactivation_matured           INT           NOT NULL DEFAULT 0,
  reincidences                   INT           NOT NULL DEFAULT 0,
  reactivation_cost              DECIMAL(15,2) NOT NULL DEFAULT 0,
  orders_count                   INT           NOT NULL DEFAULT 0,
  cost_total                     DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_discount_pct               DECIMAL(5,2)  NULL,
  health_score_sum               DECIMAL(15,1) NOT NULL DEFAULT 0,
  health_scored_accounts         INT           NOT NULL DEFAULT 0,
  nps_score                      DECIMAL(5,1)  NULL,
  nps_responses                  INT           NOT NULL DEFAULT 0,
  nps_promoters                  INT           NOT NULL DEFAULT 0,
  nps_detractors                 INT           NOT NULL DEFAULT 0,
  complaints_count               INT           NOT NULL DEFAULT 0,
  exceptions_granted             INT           NOT NULL DEFAULT 0,
  -- extensions: when the row was observed and with which policy windows (days:
  -- activation/reincidence/attribution); an analysis reuses a row only when they say it
  -- cannot differ
  observed_at                    DATETIME      NULL,
  collected_windows              VARCHAR(32)   NULL,
  created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_performance_metrics PRIMARY KEY (id),
  CONSTRAINT uq_channel_performance_metrics_org_id_period_date_period_type
    UNIQUE (org_id, period_date, period_type),
  KEY ix_channel_performance_metrics_period_date (period_date),
  KEY ix_channel_performance_metrics_period_type_period_date (period_type, period_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The same measures cut by one dimension (region, segment, kit or strategy). Constraint
-- and index names longer than MySQL's 64 characters are shortened the way SQLAlchemy
-- does it (first 55 characters, '_', last 4 hex digits of the full name's MD5).
CREATE TABLE IF NOT EXISTS channel_performance_segment_metrics (
  id              BIGINT       NOT NULL AUTO_INCREMENT,
  org_id          INT          NOT NULL DEFAULT 1,
  period_date     DATE         NOT NULL,
  period_type     ENUM('DAILY','WEEKLY','MONTHLY') NOT NULL,
  dimension       ENUM('region','segment','kit','strategy') NOT NULL,
  dimension_value VARCHAR(100) NOT NULL,
  -- onboarding (the cohort started in the period); rates are percentages, 0-100
  onboarding_started             INT           NOT NULL DEFAULT 0,
  onboarding_completed           INT           NOT NULL DEFAULT 0,
  onboarding_failed              INT           NOT NULL DEFAULT 0,
  onboarding_rate                DECIMAL(5,2)  NULL,
  avg_activation_days            DECIMAL(5,1)  NULL,
  -- reactivation
  reactivation_attempts          INT           NOT NULL DEFAULT 0,
  reactivation_won               INT           NOT NULL DEFAULT 0,
  reactivation_lost              INT           NOT NULL DEFAULT 0,
  reactivation_rate              DECIMAL(5,2)  NULL,
  avg_reactivation_cost          DECIMAL(10,2) NULL,
  reincidence_rate               DECIMAL(5,2)  NULL,
  -- state distribution at the end of the period
  accounts_new                   INT           NOT NULL DEFAULT 0,
  accounts_activating            INT           NOT NULL DEFAULT 0,
  accounts_active                INT           NOT NULL DEFAULT 0,
  accounts_stalled               INT           NOT NULL DEFAULT 0,
  accounts_at_risk               INT           NOT NULL DEFAULT 0,
  accounts_churned               INT           NOT NULL DEFAULT 0,
  -- transitions into a state during the period
  transitions_to_active          INT           NOT NULL DEFAULT 0,
  transitions_to_stalled         INT           NOT NULL DEFAULT 0,
  transitions_to_churn           INT           NOT NULL DEFAULT 0,
  -- revenue
  total_revenue                  DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_margin                     DECIMAL(5,2)  NULL,
  revenue_from_new               DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_from_reactivated       DECIMAL(15,2) NOT NULL DEFAULT 0,
  -- quality
  avg_health_score               DECIMAL(5,1)  NULL,
  exceptions_count               INT           NOT NULL DEFAULT 0,
  -- extensions: the counts behind every rate, so rates re-aggregate exactly, and more
  total_accounts                 INT           NOT NULL DEFAULT 0,
  onboarding_matured             INT           NOT NULL DEFAULT 0,
  onboarding_activated_in_window INT           NOT NULL DEFAULT 0,
  activation_days_sum            DECIMAL(15,4) NOT NULL DEFAULT 0,
  reactivation_resolved          INT           NOT NULL DEFAULT 0,
  reactivation_matured           INT           NOT NULL DEFAULT 0,
  reincidences                   INT           NOT NULL DEFAULT 0,
  reactivation_cost              DECIMAL(15,2) NOT NULL DEFAULT 0,
  orders_count                   INT           NOT NULL DEFAULT 0,
  cost_total                     DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_discount_pct               DECIMAL(5,2)  NULL,
  health_score_sum               DECIMAL(15,1) NOT NULL DEFAULT 0,
  health_scored_accounts         INT           NOT NULL DEFAULT 0,
  nps_score                      DECIMAL(5,1)  NULL,
  nps_responses                  INT           NOT NULL DEFAULT 0,
  nps_promoters                  INT           NOT NULL DEFAULT 0,
  nps_detractors                 INT           NOT NULL DEFAULT 0,
  complaints_count               INT           NOT NULL DEFAULT 0,
  exceptions_granted             INT           NOT NULL DEFAULT 0,
  created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_performance_segment_metrics PRIMARY KEY (id),
  CONSTRAINT uq_channel_performance_segment_metrics_org_id_period_dat_bc74
    UNIQUE (org_id, period_date, period_type, dimension, dimension_value),
  KEY ix_channel_performance_segment_metrics_org_id_dimension__e721
    (org_id, dimension, period_type, period_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Typed, deduplicated findings with their evidence. JSON is LONGTEXT + json_valid() on
-- MariaDB and a native type on MySQL, as with SQLAlchemy's JSON. category is free text
-- (the rule loader checks it).
CREATE TABLE IF NOT EXISTS channel_performance_insights (
  id                    BIGINT       NOT NULL AUTO_INCREMENT,
  org_id                INT          NOT NULL DEFAULT 1,
  insight_type          ENUM('POLICY_GAP','POLICY_TOO_RESTRICTIVE','POLICY_TOO_LAX',
                             'EXECUTION_DRIFT','CHANNEL_MISALIGNMENT') NOT NULL,
  severity              ENUM('LOW','MEDIUM','HIGH','CRITICAL') NOT NULL,
  category              VARCHAR(50)  NULL,
  affected_segment      VARCHAR(100) NULL,
  affected_region       VARCHAR(50)  NULL,
  affected_policy       VARCHAR(200) NULL,
  title                 VARCHAR(255) NOT NULL,
  observation           TEXT         NOT NULL,
  evidence              JSON         NULL,
  impact_estimate       JSON         NULL,
  recommendation        TEXT         NULL,
  suggested_action      ENUM('ADJUST_PARAMETER','CHANGE_POLICY','RUN_EXPERIMENT',
                             'ESCALATE','MONITOR') NULL,
  suggested_params      JSON         NULL,
  status                ENUM('NEW','REVIEWED','IN_PROGRESS','IMPLEMENTED','DISMISSED')
                        NOT NULL DEFAULT 'NEW',
  reviewed_by           VARCHAR(100) NULL,
  reviewed_at           DATETIME     NULL,
  implementation_notes  TEXT         NULL,
  analysis_period_start DATE         NULL,
  analysis_period_end   DATE         NULL,
  -- extensions
  rule_id               VARCHAR(100) NULL,
  detector              VARCHAR(100) NULL,
  fingerprint           VARCHAR(64)  NULL,
  affected_sku          VARCHAR(64)  NULL,
  affected_dimension    VARCHAR(20)  NULL,
  affected_value        VARCHAR(100) NULL,
  effect_size           DECIMAL(12,6) NULL,
  occurrences           INT          NOT NULL DEFAULT 1,
  first_seen_at         DATETIME     NULL,
  last_seen_at          DATETIME     NULL,
  status_reason         TEXT         NULL,
  analysis_run_id       BIGINT       NULL,
  -- feedback (docs/feedback.md): was it right, who said so, and a snooze's end
  label                 ENUM('TRUE_POSITIVE','FALSE_POSITIVE','EXPECTED','NOT_ACTIONABLE') NULL,
  labelled_by           VARCHAR(100) NULL,
  labelled_at           DATETIME     NULL,
  snooze_until          DATETIME     NULL,
  created_at            DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at            DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_performance_insights PRIMARY KEY (id),
  KEY ix_channel_performance_insights_insight_type (insight_type),
  KEY ix_channel_performance_insights_severity (severity),
  KEY ix_channel_performance_insights_status (status),
  KEY ix_channel_performance_insights_category (category),
  KEY ix_channel_performance_insights_org_id_created_at (org_id, created_at),
  KEY ix_channel_performance_insights_org_id_fingerprint (org_id, fingerprint),
  KEY ix_channel_performance_insights_org_id_rule_id (org_id, rule_id),
  KEY ix_channel_performance_insights_org_id_status (org_id, status),
  CONSTRAINT fk_channel_performance_insights_analysis_run_id
    FOREIGN KEY (analysis_run_id) REFERENCES channel_analysis_runs (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A proposed policy change: the diff, its expected impact and the experiment to check it.
-- expected_impact and risk_assessment are pt-BR text; their numbers are in impact_metrics.
CREATE TABLE IF NOT EXISTS channel_policy_proposals (
  id                       BIGINT       NOT NULL AUTO_INCREMENT,
  org_id                   INT          NOT NULL DEFAULT 1,
  insight_id               BIGINT       NULL,
  title                    VARCHAR(255) NOT NULL,
  description              TEXT         NOT NULL,
  affected_policy          VARCHAR(200) NULL,
  current_value            JSON         NULL,
  proposed_value           JSON         NULL,
  expected_impact          TEXT         NULL,
  impact_metrics           JSON         NULL,
  risk_assessment          TEXT         NULL,
  experiment_plan          JSON         NULL,
  experiment_duration_days INT          NULL,
  status                   ENUM('DRAFT','PENDING_REVIEW','APPROVED','REJECTED','IMPLEMENTED')
                           NOT NULL DEFAULT 'DRAFT',
  approved_by              VARCHAR(100) NULL,
  approved_at              DATETIME     NULL,
  rejection_reason         TEXT         NULL,
  implemented_at           DATETIME     NULL,
  implementation_results   JSON         NULL,
  -- extensions
  policy_name              VARCHAR(100) NOT NULL,
  base_policy_version      INT          NULL,
  policy_patch             JSON         NULL,
  policy_diff              MEDIUMTEXT   NULL,
  current_policy           JSON         NOT NULL,
  proposed_policy          JSON         NOT NULL,
  fingerprint              VARCHAR(64)  NULL,
  requested_by             VARCHAR(100) NULL,
  submitted_at             DATETIME     NULL,
  rejected_by              VARCHAR(100) NULL,
  rejected_at              DATETIME     NULL,
  approval_comment         TEXT         NULL,
  implemented_by           VARCHAR(100) NULL,
  results_checked_at       DATETIME     NULL,
  created_at               DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at               DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_policy_proposals PRIMARY KEY (id),
  KEY ix_channel_policy_proposals_status (status),
  KEY ix_channel_policy_proposals_insight_id (insight_id),
  KEY ix_channel_policy_proposals_org_id_fingerprint (org_id, fingerprint),
  KEY ix_channel_policy_proposals_org_id_policy_name (org_id, policy_name),
  KEY ix_channel_policy_proposals_org_id_status (org_id, status),
  CONSTRAINT fk_channel_policy_proposals_insight_id
    FOREIGN KEY (insight_id) REFERENCES channel_performance_insights (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every distinct content of a policy ever loaded or applied.
CREATE TABLE IF NOT EXISTS channel_policy_versions (
  id           BIGINT       NOT NULL AUTO_INCREMENT,
  org_id       INT          NOT NULL DEFAULT 1,
  policy_name  VARCHAR(100) NOT NULL,
  version      INT          NOT NULL,
  document     JSON         NOT NULL,
  content_hash VARCHAR(64)  NOT NULL,
  source_path  VARCHAR(500) NULL,
  loaded_at    DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  applied_at   DATETIME     NULL,
  applied_by   VARCHAR(100) NULL,
  proposal_id  BIGINT       NULL,
  CONSTRAINT pk_channel_policy_versions PRIMARY KEY (id),
  CONSTRAINT uq_channel_policy_versions_org_id_policy_name_version
    UNIQUE (org_id, policy_name, version),
  KEY ix_channel_policy_versions_org_id_policy_name_content_hash
    (org_id, policy_name, content_hash),
  CONSTRAINT fk_channel_policy_versions_proposal_id
    FOREIGN KEY (proposal_id) REFERENCES channel_policy_proposals (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per analysis run, how many findings each rule matched (rules that matched none have no
-- row): `chanperf rules stats` counts firings here, since a re-run updates one insight.
CREATE TABLE IF NOT EXISTS channel_rule_firings (
  id              BIGINT       NOT NULL AUTO_INCREMENT,
  org_id          INT          NOT NULL DEFAULT 1,
  analysis_run_id BIGINT       NOT NULL,
  rule_id         VARCHAR(100) NOT NULL,
  finding_kind    VARCHAR(50)  NOT NULL,
  as_of           DATE         NOT NULL,
  fired_at        DATETIME     NOT NULL,
  matches         INT          NOT NULL,
  CONSTRAINT pk_channel_rule_firings PRIMARY KEY (id),
  CONSTRAINT uq_channel_rule_firings_analysis_run_id_rule_id UNIQUE (analysis_run_id, rule_id),
  KEY ix_channel_rule_firings_org_id_rule_id_as_of (org_id, rule_id, as_of),
  CONSTRAINT fk_channel_rule_firings_analysis_run_id
    FOREIGN KEY (analysis_run_id) REFERENCES channel_analysis_runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per analysis run and finding kind, how many findings had each field set: a rule that
-- reads a field no finding of its kind ever had is reported by `chanperf rules stats`.
CREATE TABLE IF NOT EXISTS channel_finding_fields_seen (
  id              BIGINT       NOT NULL AUTO_INCREMENT,
  org_id          INT          NOT NULL DEFAULT 1,
  analysis_run_id BIGINT       NOT NULL,
  finding_kind    VARCHAR(50)  NOT NULL,
  as_of           DATE         NOT NULL,
  findings        INT          NOT NULL,
  fields_set      JSON         NOT NULL,
  CONSTRAINT pk_channel_finding_fields_seen PRIMARY KEY (id),
  CONSTRAINT uq_channel_finding_fields_seen_analysis_run_id_finding_kind
    UNIQUE (analysis_run_id, finding_kind),
  KEY ix_channel_finding_fields_seen_org_id_finding_kind (org_id, finding_kind),
  CONSTRAINT fk_channel_finding_fields_seen_analysis_run_id
    FOREIGN KEY (analysis_run_id) REFERENCES channel_analysis_runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
