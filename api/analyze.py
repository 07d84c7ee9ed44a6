"""Starting an analysis, and the status of background jobs."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from flask_smorest import abort

from api.auth import requires
from api.blueprint import Blueprint
from api.common import PREFIX, org_id, reading, yesterday
from api.context import services
from api.schemas import AnalysisRequestSchema, JobSchema
from chanperf.core.api_keys import Role
from chanperf.core.errors import Problem, ValidationError
from chanperf.jobs.queue import QueueUnavailable
from chanperf.jobs.submit import get_job, submit_analysis
from chanperf.metrics.collect import source_coverage

blp = Blueprint("analyze", __name__, url_prefix=PREFIX, description="Analyses and jobs")
LOCATION = {"Location": {"description": "Where the job's status is", "schema": {"type": "string"}}}


@blp.route("/analyze")
class Analyze(MethodView):
    @requires(Role.ANALYST)
    @blp.arguments(AnalysisRequestSchema, required=False)
    @blp.response(202, JobSchema, headers=LOCATION)
    @blp.doc(responses={"503": "SERVICE_UNAVAILABLE", "422": "UNPROCESSABLE_ENTITY"})
    def post(self, body: dict[str, Any]) -> Any:
        """Queue an analysis of one day (yesterday by default); without a queue it runs in a
        background thread of the server. `as_of` not after today nor before the source's
        first row (422)."""
        org = org_id()
        as_of = body.get("as_of") or yesterday()
        _check_day(org, as_of)
        try:
            job, _created = submit_analysis(
                services().settings, org, as_of, bool(body.get("rerun"))
            )
        except QueueUnavailable as exc:
            abort(503, message=str(exc))
        return job, 202, {"Location": f"{PREFIX}/jobs/{job['id']}"}


def _check_day(org: int, as_of: date) -> None:
    """An analysis of a day before the source's first row would find only empty cohorts."""
    settings = services().settings
    with reading() as session:
        cover = source_coverage(session.connection(), org, settings.tz)
    if cover is None:
        raise ValidationError(
            [Problem("as_of", "the organisation has no source data yet", field="as_of")]
        )
    if as_of < cover[0]:
        message = f"before the source's first row ({cover[0].isoformat()})"
        raise ValidationError([Problem("as_of", message, field="as_of")])


@blp.route("/jobs/<string:job_id>")
class JobStatus(MethodView):
    @requires(Role.VIEWER)
    @blp.response(200, JobSchema)
    @blp.doc(responses={"404": "NOT_FOUND", "503": "SERVICE_UNAVAILABLE"})
    def get(self, job_id: str) -> Any:
        """Status and result of an analysis or collection job of this org."""
        try:
            with reading() as session:
                job = get_job(services().settings, session, org_id(), job_id)
        except QueueUnavailable as exc:
            abort(503, message=str(exc))
        if job is None:
            abort(404, message=f"job {job_id} not found")
        return job
