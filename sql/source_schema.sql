-- The seven source tables of the data contract (docs/source-data.md), for MySQL/MariaDB.
--
-- The other channel services write these tables; chanperf only reads them. Column names,
-- types and the indexes below are the contract. tests/test_schema_ddl.py checks that this
-- file creates exactly what chanperf's migrations create (columns, indexes, keys).
-- Timestamps are naive DATETIMEs in UTC. Safe to run more than once.

CREATE TABLE IF NOT EXISTS channel_accounts (
  account_id   BIGINT       NOT NULL,
  org_id       INT          NOT NULL DEFAULT 1,
  region       VARCHAR(50)  NOT NULL,
  segment      VARCHAR(100) NOT NULL,
  created_at   DATETIME     NOT NULL,
  state        VARCHAR(20)  NOT NULL,
  health_score DECIMAL(5,1) NULL,
  CONSTRAINT pk_channel_accounts PRIMARY KEY (account_id),
  KEY ix_channel_accounts_org_id_created_at (org_id, created_at),
  KEY ix_channel_accounts_org_id_region (org_id, region),
  KEY ix_channel_accounts_org_id_segment (org_id, segment)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS channel_state_transitions (
  id              BIGINT      NOT NULL AUTO_INCREMENT,
  org_id          INT         NOT NULL DEFAULT 1,
  account_id      BIGINT      NOT NULL,
  from_state      VARCHAR(20) NULL,
  to_state        VARCHAR(20) NOT NULL,
  transitioned_at DATETIME    NOT NULL,
  CONSTRAINT pk_channel_state_transitions PRIMARY KEY (id),
  KEY ix_channel_state_transitions_org_id_account_id (org_id, account_id),
  KEY ix_channel_state_transitions_org_id_transitioned_at (org_id, transitioned_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS channel_onboardings (
  id           BIGINT      NOT NULL AUTO_INCREMENT,
  org_id       INT         NOT NULL DEFAULT 1,
  account_id   BIGINT      NOT NULL,
  kit          VARCHAR(50) NOT NULL,
  started_at   DATETIME    NOT NULL,
  status       VARCHAR(20) NOT NULL,
  completed_at DATETIME    NULL,
  failed_at    DATETIME    NULL,
  CONSTRAINT pk_channel_onboardings PRIMARY KEY (id),
  KEY ix_channel_onboardings_org_id_account_id (org_id, account_id),
  KEY ix_channel_onboardings_org_id_started_at (org_id, started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS channel_reactivations (
  id           BIGINT        NOT NULL AUTO_INCREMENT,
  org_id       INT           NOT NULL DEFAULT 1,
  account_id   BIGINT        NOT NULL,
  strategy     VARCHAR(50)   NOT NULL,
  discount_pct DECIMAL(5,2)  NOT NULL DEFAULT 0,
  cost         DECIMAL(10,2) NOT NULL DEFAULT 0,
  started_at   DATETIME      NOT NULL,
  status       VARCHAR(20)   NOT NULL,
  resolved_at  DATETIME      NULL,
  CONSTRAINT pk_channel_reactivations PRIMARY KEY (id),
  KEY ix_channel_reactivations_org_id_account_id (org_id, account_id),
  KEY ix_channel_reactivations_org_id_resolved_at (org_id, resolved_at),
  KEY ix_channel_reactivations_org_id_started_at (org_id, started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS channel_orders (
  id           BIGINT        NOT NULL AUTO_INCREMENT,
  org_id       INT           NOT NULL DEFAULT 1,
  account_id   BIGINT        NOT NULL,
  ordered_at   DATETIME      NOT NULL,
  sku          VARCHAR(64)   NOT NULL,
  quantity     INT           NOT NULL,
  revenue      DECIMAL(15,2) NOT NULL,
  cost         DECIMAL(15,2) NOT NULL,
  discount_pct DECIMAL(5,2)  NOT NULL DEFAULT 0,
  CONSTRAINT pk_channel_orders PRIMARY KEY (id),
  KEY ix_channel_orders_org_id_account_id (org_id, account_id),
  KEY ix_channel_orders_org_id_ordered_at (org_id, ordered_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS channel_policy_exceptions (
  id           BIGINT       NOT NULL AUTO_INCREMENT,
  org_id       INT          NOT NULL DEFAULT 1,
  account_id   BIGINT       NULL,
  policy_key   VARCHAR(100) NOT NULL,
  sku          VARCHAR(64)  NULL,
  requested_at DATETIME     NOT NULL,
  decision     VARCHAR(20)  NOT NULL,
  reason       TEXT         NULL,
  CONSTRAINT pk_channel_policy_exceptions PRIMARY KEY (id),
  KEY ix_channel_policy_exceptions_org_id_account_id (org_id, account_id),
  KEY ix_channel_policy_exceptions_org_id_requested_at (org_id, requested_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS channel_feedback (
  id         BIGINT      NOT NULL AUTO_INCREMENT,
  org_id     INT         NOT NULL DEFAULT 1,
  account_id BIGINT      NOT NULL,
  kind       VARCHAR(20) NOT NULL,
  score      INT         NULL,
  created_at DATETIME    NOT NULL,
  CONSTRAINT pk_channel_feedback PRIMARY KEY (id),
  KEY ix_channel_feedback_org_id_account_id (org_id, account_id),
  KEY ix_channel_feedback_org_id_created_at (org_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
