"""Marshmallow schemas of every request and response under /v1/performance."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, post_dump, validate

from api.fields import MAX_ID, Day, UtcDateTime
from chanperf.core.enums import (
    Dimension,
    FeedbackLabel,
    InsightStatus,
    InsightType,
    PeriodType,
    ProposalStatus,
    Severity,
    SuggestedAction,
)
from chanperf.insights.workflow import ACTIONS as INSIGHT_ACTIONS
from chanperf.metrics.queries import INTEGER_MEASURES
from chanperf.metrics.store import MEASURES


def _enum(enum: type, **kwargs: object) -> fields.Enum:
    return fields.Enum(enum, by_value=True, **kwargs)  # type: ignore[arg-type]


class QueryArgs(Schema):
    # A parameter the operation does not know is refused (422 naming it): `regoin=X` is a
    # typo to report, not a filter to drop silently.
    class Meta:
        unknown = RAISE


class PageQuerySchema(QueryArgs):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_ID))
    page_size = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


PAGINATION_HEADERS = {
    "X-Pagination": {
        "description": "The page as a JSON object: total, total_pages, first_page, last_page, "
        "page, previous_page and next_page (the last two when they exist).",
        "schema": {"type": "string"},
    }
}


# ---------------------------------------------------------------- insights

_DAY = r"\d{4}-\d{2}-\d{2}"
PERIOD_PATTERN = rf"^({_DAY}(\.\.{_DAY})?|\d{{4}}-W\d{{2}}|\d{{4}}-\d{{2}})$"
_SORT_KEY = r"-?(severity|created_at|last_seen_at|occurrences|effect_size|id)"
SORT_PATTERN = rf"^{_SORT_KEY}(,{_SORT_KEY})*$"


class InsightQuerySchema(PageQuerySchema):
    type = fields.List(
        _enum(InsightType), metadata={"description": "Repeat to match any of several."}
    )
    severity = fields.List(_enum(Severity))
    status = fields.List(_enum(InsightStatus))
    category = fields.List(fields.String(validate=validate.Length(min=1, max=50)))
    region = fields.String(validate=validate.Length(min=1, max=50))
    segment = fields.String(validate=validate.Length(min=1, max=100))
    period = fields.String(
        validate=validate.Regexp(PERIOD_PATTERN),
        metadata={
            "description": "Insights whose analysed period overlaps: YYYY-MM-DD, YYYY-Www, "
            "YYYY-MM or YYYY-MM-DD..YYYY-MM-DD (a date that does not exist: 422)"
        },
    )
    sort = fields.String(
        load_default=None,
        validate=validate.Regexp(SORT_PATTERN),
        metadata={
            "description": "Comma-separated keys, `-` for descending: severity, created_at, "
            "last_seen_at, occurrences, effect_size, id (default -severity,-id)"
        },
    )


class ProposalSummarySchema(Schema):
    id = fields.Integer(required=True)
    insight_id = fields.Integer(allow_none=True)
    title = fields.String(required=True)
    affected_policy = fields.String(allow_none=True)
    policy_name = fields.String(required=True)
    status = _enum(ProposalStatus, required=True)
    current_value = fields.Raw(allow_none=True)
    proposed_value = fields.Raw(allow_none=True)
    expected_impact = fields.String(allow_none=True)
    experiment_duration_days = fields.Integer(allow_none=True)
    created_at = UtcDateTime(allow_none=True)


class _KeepsUndeclared(Schema):
    """Dumps the declared fields and passes every other key of the dict through: the
    evidence's keys vary with the finding, only the documented ones are typed."""

    @post_dump(pass_original=True)
    def _keep_undeclared(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        return {**original, **data} if isinstance(original, dict) else data


class InsightDrilldownEntrySchema(_KeepsUndeclared):
    """One cut (a region, a segment) under an insight found at a wider scope."""

    dimension = fields.String(
        required=True, metadata={"description": "The cut's dimension: region or segment."}
    )
    value = fields.String(required=True, metadata={"description": "The region or segment."})
    rate_a = fields.Float(
        allow_none=True, metadata={"description": "The cut's reference rate (baseline)."}
    )
    rate_b = fields.Float(
        allow_none=True, metadata={"description": "The cut's rate (recent, or observed)."}
    )
    n_a = fields.Integer(allow_none=True, metadata={"description": "The cut's reference sample."})
    n_b = fields.Integer(allow_none=True, metadata={"description": "The cut's sample."})
    effect = fields.Float(allow_none=True, metadata={"description": "The cut's effect (b − a)."})
    p_value = fields.Float(allow_none=True, metadata={"description": "The cut's own p-value."})
    differs = fields.Boolean(
        required=True,
        metadata={
            "description": "The cut's change differs significantly from the rest of the "
            "parent's (heterogeneity test, multiplicity-corrected, alpha in "
            "rules/analysis/grouping.yaml)."
        },
    )
    own_insight = fields.Boolean(
        metadata={"description": "The cut is reported as an insight of its own too."}
    )
    difference_vs_rest = fields.Float(
        allow_none=True,
        metadata={"description": "The cut's effect minus the rest of the parent's."},
    )
    heterogeneity_p = fields.Float(allow_none=True)
    heterogeneity_p_adj = fields.Float(allow_none=True)
    heterogeneity_test = fields.String(allow_none=True)
    drilldown = fields.List(
        fields.Dict(),
        metadata={"description": "The cut's own cuts, when they were folded into it."},
    )


class InsightEvidenceSchema(_KeepsUndeclared):
    """The numbers behind an insight (the finding's fields, keys vary with its kind)."""

    drilldown = fields.List(
        fields.Nested(InsightDrilldownEntrySchema),
        metadata={
            "description": "For an insight found at a wide scope (the channel, a region): "
            "each narrower cut of the same measurement, with whether it differs from the "
            "rest of this scope. Cuts that move with it are not insights of their own."
        },
    )


class PerformanceInsightSchema(Schema):
    """An insight, in the shape of the design's examples (type, severity, category, title,
    observation, evidence, recommendation, suggested_action) plus the rest of its row."""

    id = fields.Integer(required=True)
    org_id = fields.Integer(required=True)
    type = _enum(InsightType, attribute="insight_type", required=True)
    severity = _enum(Severity, required=True)
    category = fields.String(allow_none=True)
    title = fields.String(required=True)
    observation = fields.String(required=True)
    evidence = fields.Nested(InsightEvidenceSchema, allow_none=True)
    recommendation = fields.String(allow_none=True)
    suggested_action = _enum(SuggestedAction, allow_none=True)
    suggested_params = fields.Dict(allow_none=True)
    impact_estimate = fields.Dict(allow_none=True)
    affected_segment = fields.String(allow_none=True)
    affected_region = fields.String(allow_none=True)
    affected_policy = fields.String(allow_none=True)
    status = _enum(InsightStatus, required=True)
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = UtcDateTime(allow_none=True)
    implementation_notes = fields.String(allow_none=True)
    analysis_period_start = fields.Date(allow_none=True)
    analysis_period_end = fields.Date(allow_none=True)
    created_at = UtcDateTime(allow_none=True)
    updated_at = UtcDateTime(allow_none=True)
    rule_id = fields.String(allow_none=True)
    detector = fields.String(allow_none=True)
    affected_sku = fields.String(allow_none=True)
    affected_dimension = fields.String(allow_none=True)
    affected_value = fields.String(allow_none=True)
    effect_size = fields.Float(allow_none=True)
    occurrences = fields.Integer()
    first_seen_at = UtcDateTime(allow_none=True)
    last_seen_at = UtcDateTime(allow_none=True)
    status_reason = fields.String(allow_none=True)
    analysis_run_id = fields.Integer(allow_none=True)
    label = _enum(
        FeedbackLabel,
        allow_none=True,
        metadata={"description": "Whether the insight was right, as a reviewer labelled it."},
    )
    labelled_by = fields.String(allow_none=True)
    labelled_at = UtcDateTime(allow_none=True)
    snooze_until = UtcDateTime(
        allow_none=True,
        metadata={"description": "A snoozed insight is DISMISSED until then (see action)."},
    )


class InsightDetailSchema(PerformanceInsightSchema):
    proposals = fields.List(fields.Nested(ProposalSummarySchema), required=True)


class InsightActionSchema(Schema):
    action = fields.String(
        required=True,
        validate=validate.OneOf(list(INSIGHT_ACTIONS)),
        metadata={
            "description": "; ".join(f"{k}: {a.description}" for k, a in INSIGHT_ACTIONS.items())
        },
    )
    reason = fields.String(
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "Why; required, not blank, to dismiss (else 422): a dismissed "
            "insight stays quiet."
        },
    )
    implementation_notes = fields.String(
        validate=validate.Length(min=1, max=10000),
        metadata={"description": "What was done; required, not blank, to implement (else 422)."},
    )
    label = fields.String(
        validate=validate.OneOf([label.value for label in FeedbackLabel]),
        metadata={
            "description": "Whether the insight was right: TRUE_POSITIVE, FALSE_POSITIVE, "
            "EXPECTED (real but already known) or NOT_ACTIONABLE. Any action may carry one "
            "(the key's name is recorded as labelled_by); required, else 422, by `label`, "
            "which refuses (409) an insight already labelled."
        },
    )
    snooze_until = fields.AwareDateTime(
        format="iso",
        metadata={
            "description": "With `snooze` only, and required by it: a moment after now, with "
            "its UTC offset (else 422). Until then a new analysis keeps the insight quiet, "
            "unless its effect grows past the rule's re-raise margin."
        },
    )


# ---------------------------------------------------------------- proposals


class ProposalQuerySchema(PageQuerySchema):
    status = fields.List(
        fields.String(validate=validate.OneOf([s.value for s in ProposalStatus] + ["ALL"])),
        metadata={
            "description": "Default PENDING_REVIEW; repeat for several; ALL for every status."
        },
    )
    policy = fields.String(validate=validate.Length(min=1, max=100))


def _plan_value(key: str, description: str) -> fields.Function:
    """A field of the stored experiment plan, surfaced at the proposal's top level."""
    return fields.Function(
        lambda row: (getattr(row, "experiment_plan", None) or {}).get(key),
        dump_only=True,
        allow_none=True,
        metadata={"type": "string", "description": description},
    )


class PolicyProposalSchema(ProposalSummarySchema):
    """A policy proposal: the row other services read, with its change and experiment."""

    experiment_verdict = _plan_value(
        "verdict",
        "FITS (a test fits the organisation's longest accepted experiment), "
        "LONGER_THAN_LIMIT (every test is longer: see experiment_plan.alternative, a staged "
        "rollout) or NOT_TESTABLE; the design is experiment_plan.design",
    )
    experiment_summary = _plan_value(
        "summary", "The plan in pt-BR: verdict, design, detectable effect over time"
    )

    org_id = fields.Integer(required=True)
    description = fields.String(required=True)
    impact_metrics = fields.Dict(allow_none=True)
    risk_assessment = fields.String(allow_none=True)
    experiment_plan = fields.Dict(allow_none=True)
    approved_by = fields.String(allow_none=True)
    approved_at = UtcDateTime(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    implemented_at = UtcDateTime(allow_none=True)
    implementation_results = fields.Dict(allow_none=True)
    updated_at = UtcDateTime(allow_none=True)
    base_policy_version = fields.Integer(allow_none=True)
    policy_patch = fields.List(fields.Dict(), allow_none=True)
    current_policy = fields.Dict(required=True)
    proposed_policy = fields.Dict(required=True)
    requested_by = fields.String(allow_none=True)
    submitted_at = UtcDateTime(allow_none=True)
    rejected_by = fields.String(allow_none=True)
    rejected_at = UtcDateTime(allow_none=True)
    approval_comment = fields.String(allow_none=True)
    implemented_by = fields.String(allow_none=True)
    results_checked_at = UtcDateTime(allow_none=True)


class ApproveSchema(Schema):
    comment = fields.String(
        validate=validate.Length(max=2000),
        metadata={"description": "Kept as the proposal's approval_comment."},
    )


class RejectSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "Why; not blank (else 422)."},
    )


# ---------------------------------------------------------------- metrics

_MEASURE_FIELDS = {
    m: fields.Integer(allow_none=True) if m in INTEGER_MEASURES else fields.Float(allow_none=True)
    for m in MEASURES
}


class MetricsQuerySchema(QueryArgs):
    period_type = _enum(PeriodType, load_default=PeriodType.WEEKLY)
    as_of = Day(metadata={"description": "Default: today in the org's time zone."})


# One stored period: the columns of channel_performance_metrics (docs/metrics.md), and for a
# dimension's cuts the dimension and its value.
ChannelMetricsSchema = Schema.from_dict(
    {
        "period_type": fields.String(required=True),
        "period_date": fields.Date(
            required=True, metadata={"description": "First day of the period."}
        ),
        "period_end": fields.Date(required=True),
        "dimension": fields.String(),
        "dimension_value": fields.String(),
        **_MEASURE_FIELDS,
    },
    name="ChannelMetrics",
)


class LatestMetricsSchema(Schema):
    current = fields.Nested(ChannelMetricsSchema, required=True)
    previous = fields.Nested(ChannelMetricsSchema, allow_none=True)


class HistoryQuerySchema(QueryArgs):
    period_type = _enum(PeriodType, load_default=PeriodType.DAILY)
    from_ = Day(data_key="from", metadata={"description": "Not after `to` (else 422)."})
    to = Day()
    dimension = _enum(Dimension)
    dimension_value = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Only the cut with this value; needs `dimension` (else 422)."},
    )


class TrendQuerySchema(QueryArgs):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=730))
    period_type = _enum(PeriodType, load_default=PeriodType.DAILY)
    end = Day(metadata={"description": "Default: yesterday in the org's time zone."})


class TrendPointSchema(Schema):
    period_date = fields.Date(required=True)
    value = fields.Float(allow_none=True)
    previous = fields.Float(allow_none=True)
    pop_delta = fields.Float(allow_none=True)
    pop_pct = fields.Float(allow_none=True)
    week_ago = fields.Float(allow_none=True)
    wow_delta = fields.Float(allow_none=True)
    wow_pct = fields.Float(allow_none=True)


class TrendDataSchema(Schema):
    metric = fields.String(required=True)
    period_type = fields.String(required=True)
    points = fields.List(fields.Nested(TrendPointSchema), required=True)


# ---------------------------------------------------------------- analysis and jobs


class AnalysisRequestSchema(Schema):
    as_of = Day(
        metadata={
            "description": "Last day analysed (default: yesterday); not before the source's "
            "first row (422)."
        }
    )
    rerun = fields.Boolean(
        load_default=False,
        metadata={"description": "Run again even if this day was already analysed."},
    )


class JobSchema(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    org_id = fields.Integer(required=True)
    status = fields.String(
        required=True,
        metadata={"description": "queued, started, deferred, scheduled, finished, failed, stopped"},
    )
    enqueued_at = UtcDateTime(allow_none=True)
    started_at = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)
    result = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True)


# ---------------------------------------------------------------- dashboard


class DashboardQuerySchema(QueryArgs):
    as_of = Day(metadata={"description": "Default: yesterday in the org's time zone."})


class KpiCardSchema(Schema):
    key = fields.String(
        required=True,
        metadata={"description": "onboarding_rate, reactivation_rate, revenue_growth"},
    )
    label = fields.String(required=True)
    value = fields.Float(
        allow_none=True,
        metadata={"description": "Percent (a rate, or the revenue's weekly change)."},
    )
    display = fields.String(
        required=True, metadata={"description": 'As the page shows it: "78%", "+12%".'}
    )
    unit = fields.String(required=True)
    previous = fields.Float(allow_none=True)
    delta = fields.Float(
        allow_none=True, metadata={"description": "value - previous, percentage points."}
    )
    trend = fields.String(allow_none=True, metadata={"description": "up, down, flat or null"})
    trend_label = fields.String(required=True)
    improved = fields.Boolean(allow_none=True)
    comparison_label = fields.String(required=True)
    week = fields.Date(required=True)
    week_label = fields.String(required=True)
    previous_week = fields.Date(required=True)
    previous_week_label = fields.String(required=True)


class SeverityCountSchema(Schema):
    severity = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True)


class NewInsightsSchema(Schema):
    label = fields.String(required=True)
    total = fields.Integer(required=True)
    by_severity = fields.List(fields.Nested(SeverityCountSchema), required=True)


class PointSchema(Schema):
    date = fields.Date(required=True)
    value = fields.Float(allow_none=True)
    state = fields.String(
        required=True,
        metadata={
            "description": "ok; censored (a cohort too young to measure); empty (no "
            "activity that day); missing (the day was not collected)"
        },
    )


class SeriesSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    points = fields.List(fields.Nested(PointSchema), required=True)


class TrendsSchema(Schema):
    label = fields.String(required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    unit = fields.String(required=True)
    series = fields.List(fields.Nested(SeriesSchema), required=True)


class PendingItemSchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    policy_name = fields.String(required=True)
    affected_policy = fields.String(allow_none=True)
    current_value = fields.Raw(allow_none=True)
    proposed_value = fields.Raw(allow_none=True)
    expected_impact = fields.String(allow_none=True)
    experiment_duration_days = fields.Integer(allow_none=True)
    experiment_verdict = fields.String(allow_none=True)
    insight_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime(allow_none=True)


class PendingSchema(Schema):
    label = fields.String(required=True)
    total = fields.Integer(required=True)
    items = fields.List(fields.Nested(PendingItemSchema), required=True)


class ViewerSchema(Schema):
    name = fields.String(required=True)
    role = fields.String(required=True)
    can_act = fields.Boolean(required=True, metadata={"description": "May act on insights."})
    can_approve = fields.Boolean(
        required=True, metadata={"description": "May approve or reject proposals."}
    )


class DashboardSchema(Schema):
    org_id = fields.Integer(required=True)
    as_of = fields.Date(required=True)
    generated_at = UtcDateTime(required=True)
    title = fields.String(required=True)
    week = fields.Date(
        required=True,
        metadata={"description": "Monday of the week the cards show: the last complete one."},
    )
    week_label = fields.String(required=True)
    viewer = fields.Nested(ViewerSchema, required=True)
    kpis = fields.List(fields.Nested(KpiCardSchema), required=True)
    new_insights = fields.Nested(NewInsightsSchema, required=True)
    trends = fields.Nested(TrendsSchema, required=True)
    pending_proposals = fields.Nested(PendingSchema, required=True)


# ---------------------------------------------------------------- policies


class PolicyVersionSummarySchema(Schema):
    version = fields.Integer(required=True)
    content_hash = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "recorded or file"})
    source_path = fields.String(allow_none=True)
    loaded_at = UtcDateTime(allow_none=True)
    applied_at = UtcDateTime(allow_none=True)
    applied_by = fields.String(allow_none=True)
    proposal_id = fields.Integer(allow_none=True)


class PolicyVersionSchema(PolicyVersionSummarySchema):
    document = fields.Dict(required=True)


class PolicySummarySchema(Schema):
    name = fields.String(required=True)
    current = fields.Nested(PolicyVersionSummarySchema, required=True)
    versions = fields.Integer(required=True)


class PolicyDetailSchema(Schema):
    name = fields.String(required=True)
    current = fields.Nested(PolicyVersionSchema, required=True)
    history = fields.List(fields.Nested(PolicyVersionSchema), required=True)


# ---------------------------------------------------------------- rule statistics


class RulesQuerySchema(QueryArgs):
    as_of = Day(
        metadata={"description": "Last day of the window (default: today in the org's zone)."}
    )
    days = fields.Integer(
        load_default=90,
        validate=validate.Range(min=1, max=3650),
        metadata={"description": "Length of the window, in days, ending at as_of."},
    )


class RuleLabelsSchema(Schema):
    TRUE_POSITIVE = fields.Integer(required=True)
    FALSE_POSITIVE = fields.Integer(required=True)
    EXPECTED = fields.Integer(required=True)
    NOT_ACTIONABLE = fields.Integer(required=True)


class FiredSchema(Schema):
    all_time = fields.Integer(required=True, metadata={"description": "Findings matched."})
    window = fields.Integer(
        required=True, metadata={"description": "Matched by runs whose as-of is in the window."}
    )


class PrecisionSchema(Schema):
    value = fields.Float(
        allow_none=True, metadata={"description": "TRUE_POSITIVE / labelled; null if none."}
    )
    low = fields.Float(allow_none=True, metadata={"description": "Wilson interval, lower end."})
    high = fields.Float(allow_none=True)


class RuleStatsSchema(Schema):
    rule_id = fields.String(required=True)
    finding_kind = fields.String(required=True)
    fired = fields.Nested(FiredSchema, required=True)
    last_fired = fields.Date(allow_none=True, metadata={"description": "As-of of that run."})
    last_fired_at = UtcDateTime(allow_none=True)
    labelled = fields.Integer(required=True)
    labels = fields.Nested(RuleLabelsSchema, required=True)
    precision = fields.Nested(PrecisionSchema, required=True)
    finding_kind_seen = fields.Boolean(required=True)
    unproduced_fields = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Fields it reads that no finding of its kind ever had."},
    )


class RulesReportSchema(Schema):
    as_of = fields.Date(required=True)
    days = fields.Integer(required=True)
    window_start = fields.Date(required=True)
    runs_in_window = fields.Integer(required=True)
    confidence = fields.Float(required=True)
    rules = fields.List(fields.Nested(RuleStatsSchema), required=True)
    never_fired = fields.List(fields.String(), required=True)
    reads_unproduced = fields.List(fields.String(), required=True)
    not_in_pack = fields.List(fields.String(), required=True)
