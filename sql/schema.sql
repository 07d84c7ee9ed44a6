-- chanperf's own tables, for MySQL/MariaDB.
--
-- The same schema `chanperf db upgrade` (Alembic) creates; tests/test_schema_ddl.py keeps
-- the two equal column by column, index by index. Enumerations are native ENUMs here, as
-- SQLAlchemy renders them on MySQL (on SQLite they are CHECKed VARCHARs). Rates are
-- fractions (0.1234 = 12.34 %), money is in the organisation's currency, timestamps are
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
  total_accounts                  INT           NOT NULL DEFAULT 0,
  new_accounts                    INT           NOT NULL DEFAULT 0,
  activating_accounts             INT           NOT NULL DEFAULT 0,
  active_accounts                 INT           NOT NULL DEFAULT 0,
  stalled_accounts                INT           NOT NULL DEFAULT 0,
  at_risk_accounts                INT           NOT NULL DEFAULT 0,
  churned_accounts                INT           NOT NULL DEFAULT 0,
  onboardings_started             INT           NOT NULL DEFAULT 0,
  onboardings_completed           INT           NOT NULL DEFAULT 0,
  onboardings_failed              INT           NOT NULL DEFAULT 0,
  activation_rate                 DECIMAL(6,4)  NULL,
  avg_activation_days             DECIMAL(7,2)  NULL,
  reactivations_started           INT           NOT NULL DEFAULT 0,
  reactivations_won               INT           NOT NULL DEFAULT 0,
  reactivations_lost              INT           NOT NULL DEFAULT 0,
  reactivation_rate               DECIMAL(6,4)  NULL,
  reincidence_rate                DECIMAL(6,4)  NULL,
  reactivation_cost               DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_total                   DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_new_accounts            DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_reactivated             DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_margin                      DECIMAL(6,4)  NULL,
  nps_score                       DECIMAL(5,1)  NULL,
  complaints_count                INT           NOT NULL DEFAULT 0,
  exceptions_requested            INT           NOT NULL DEFAULT 0,
  exceptions_granted              INT           NOT NULL DEFAULT 0,
  -- extensions: numerators and denominators, so rates re-aggregate exactly
  onboardings_matured             INT           NOT NULL DEFAULT 0,
  onboardings_activated_in_window INT           NOT NULL DEFAULT 0,
  activation_days_sum             DECIMAL(15,4) NOT NULL DEFAULT 0,
  reactivations_resolved          INT           NOT NULL DEFAULT 0,
  reactivations_matured           INT           NOT NULL DEFAULT 0,
  reincidences                    INT           NOT NULL DEFAULT 0,
  orders_count                    INT           NOT NULL DEFAULT 0,
  cost_total                      DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_discount_pct                DECIMAL(5,2)  NULL,
  nps_responses                   INT           NOT NULL DEFAULT 0,
  nps_promoters                   INT           NOT NULL DEFAULT 0,
  nps_detractors                  INT           NOT NULL DEFAULT 0,
  created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_performance_metrics PRIMARY KEY (id),
  CONSTRAINT uq_channel_performance_metrics_org_id_period_date_period_type
    UNIQUE (org_id, period_date, period_type),
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
  total_accounts                  INT           NOT NULL DEFAULT 0,
  new_accounts                    INT           NOT NULL DEFAULT 0,
  activating_accounts             INT           NOT NULL DEFAULT 0,
  active_accounts                 INT           NOT NULL DEFAULT 0,
  stalled_accounts                INT           NOT NULL DEFAULT 0,
  at_risk_accounts                INT           NOT NULL DEFAULT 0,
  churned_accounts                INT           NOT NULL DEFAULT 0,
  onboardings_started             INT           NOT NULL DEFAULT 0,
  onboardings_completed           INT           NOT NULL DEFAULT 0,
  onboardings_failed              INT           NOT NULL DEFAULT 0,
  activation_rate                 DECIMAL(6,4)  NULL,
  avg_activation_days             DECIMAL(7,2)  NULL,
  reactivations_started           INT           NOT NULL DEFAULT 0,
  reactivations_won               INT           NOT NULL DEFAULT 0,
  reactivations_lost              INT           NOT NULL DEFAULT 0,
  reactivation_rate               DECIMAL(6,4)  NULL,
  reincidence_rate                DECIMAL(6,4)  NULL,
  reactivation_cost               DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_total                   DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_new_accounts            DECIMAL(15,2) NOT NULL DEFAULT 0,
  revenue_reactivated             DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_margin                      DECIMAL(6,4)  NULL,
  nps_score                       DECIMAL(5,1)  NULL,
  complaints_count                INT           NOT NULL DEFAULT 0,
  exceptions_requested            INT           NOT NULL DEFAULT 0,
  exceptions_granted              INT           NOT NULL DEFAULT 0,
  -- extensions: numerators and denominators, so rates re-aggregate exactly
  onboardings_matured             INT           NOT NULL DEFAULT 0,
  onboardings_activated_in_window INT           NOT NULL DEFAULT 0,
  activation_days_sum             DECIMAL(15,4) NOT NULL DEFAULT 0,
  reactivations_resolved          INT           NOT NULL DEFAULT 0,
  reactivations_matured           INT           NOT NULL DEFAULT 0,
  reincidences                    INT           NOT NULL DEFAULT 0,
  orders_count                    INT           NOT NULL DEFAULT 0,
  cost_total                      DECIMAL(15,2) NOT NULL DEFAULT 0,
  avg_discount_pct                DECIMAL(5,2)  NULL,
  nps_responses                   INT           NOT NULL DEFAULT 0,
  nps_promoters                   INT           NOT NULL DEFAULT 0,
  nps_detractors                  INT           NOT NULL DEFAULT 0,
  created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_performance_segment_metrics PRIMARY KEY (id),
  CONSTRAINT uq_channel_performance_segment_metrics_org_id_period_dat_bc74
    UNIQUE (org_id, period_date, period_type, dimension, dimension_value),
  KEY ix_channel_performance_segment_metrics_org_id_dimension__e721
    (org_id, dimension, period_type, period_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Typed, deduplicated findings with their evidence. JSON is LONGTEXT + json_valid() on
-- MariaDB and a native type on MySQL, as with SQLAlchemy's JSON.
CREATE TABLE IF NOT EXISTS channel_performance_insights (
  id                 BIGINT       NOT NULL AUTO_INCREMENT,
  org_id             INT          NOT NULL DEFAULT 1,
  insight_type       ENUM('POLICY_GAP','POLICY_TOO_LAX','POLICY_TOO_RESTRICTIVE',
                          'EXECUTION_DRIFT','CHANNEL_MISALIGNMENT') NOT NULL,
  category           ENUM('onboarding','reactivation','pricing','states','policy',
                          'revenue','quality') NOT NULL,
  severity           ENUM('LOW','MEDIUM','HIGH','CRITICAL') NOT NULL,
  title              VARCHAR(255) NOT NULL,
  observation        TEXT         NOT NULL,
  evidence           JSON         NOT NULL,
  recommendation     TEXT         NULL,
  suggested_action   ENUM('CHANGE_POLICY','ADJUST_PARAMETER','RUN_EXPERIMENT',
                          'ESCALATE','MONITOR') NULL,
  suggested_params   JSON         NULL,
  affected_region    VARCHAR(50)  NULL,
  affected_segment   VARCHAR(100) NULL,
  affected_policy    VARCHAR(200) NULL,
  impact_estimate    JSON         NULL,
  period_start       DATE         NULL,
  period_end         DATE         NULL,
  status             ENUM('NEW','REVIEWED','ACCEPTED','DISMISSED','IMPLEMENTED')
                     NOT NULL DEFAULT 'NEW',
  reviewed_by        VARCHAR(100) NULL,
  reviewed_at        DATETIME     NULL,
  -- extensions
  rule_id            VARCHAR(100) NULL,
  detector           VARCHAR(100) NULL,
  fingerprint        VARCHAR(64)  NULL,
  affected_sku       VARCHAR(64)  NULL,
  affected_dimension VARCHAR(20)  NULL,
  affected_value     VARCHAR(100) NULL,
  effect_size        DECIMAL(12,6) NULL,
  occurrences        INT          NOT NULL DEFAULT 1,
  first_seen_at      DATETIME     NULL,
  last_seen_at       DATETIME     NULL,
  status_reason      TEXT         NULL,
  analysis_run_id    BIGINT       NULL,
  created_at         DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at         DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_performance_insights PRIMARY KEY (id),
  KEY ix_channel_performance_insights_org_id_created_at (org_id, created_at),
  KEY ix_channel_performance_insights_org_id_fingerprint (org_id, fingerprint),
  KEY ix_channel_performance_insights_org_id_insight_type (org_id, insight_type),
  KEY ix_channel_performance_insights_org_id_severity (org_id, severity),
  KEY ix_channel_performance_insights_org_id_status (org_id, status),
  CONSTRAINT fk_channel_performance_insights_analysis_run_id
    FOREIGN KEY (analysis_run_id) REFERENCES channel_analysis_runs (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A proposed policy change: the diff, its expected impact and the experiment to check it.
CREATE TABLE IF NOT EXISTS channel_policy_proposals (
  id                     BIGINT       NOT NULL AUTO_INCREMENT,
  org_id                 INT          NOT NULL DEFAULT 1,
  insight_id             BIGINT       NULL,
  policy_name            VARCHAR(100) NOT NULL,
  title                  VARCHAR(255) NOT NULL,
  rationale              TEXT         NULL,
  current_policy         JSON         NOT NULL,
  proposed_policy        JSON         NOT NULL,
  expected_impact        JSON         NULL,
  experiment_plan        JSON         NULL,
  status                 ENUM('DRAFT','PENDING_REVIEW','APPROVED','REJECTED','IMPLEMENTED')
                         NOT NULL DEFAULT 'DRAFT',
  approved_by            VARCHAR(100) NULL,
  approved_at            DATETIME     NULL,
  implemented_at         DATETIME     NULL,
  implementation_results JSON         NULL,
  -- extensions
  parameter_path         VARCHAR(255) NULL,
  base_policy_version    INT          NULL,
  policy_patch           JSON         NULL,
  policy_diff            MEDIUMTEXT   NULL,
  current_value          JSON         NULL,
  proposed_value         JSON         NULL,
  risk_assessment        JSON         NULL,
  fingerprint            VARCHAR(64)  NULL,
  requested_by           VARCHAR(100) NULL,
  submitted_at           DATETIME     NULL,
  rejected_by            VARCHAR(100) NULL,
  rejected_at            DATETIME     NULL,
  rejection_reason       TEXT         NULL,
  implemented_by         VARCHAR(100) NULL,
  results_checked_at     DATETIME     NULL,
  created_at             DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at             DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT pk_channel_policy_proposals PRIMARY KEY (id),
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
