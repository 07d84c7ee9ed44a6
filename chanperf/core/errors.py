"""One exception tree. `api/errors.py` maps each class to one HTTP answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class ChanperfError(Exception):
    """Root of every error chanperf raises on purpose."""

    code = "chanperf_error"


class ConfigError(ChanperfError):
    """A setting is missing or malformed."""

    code = "config_error"


@dataclass(frozen=True)
class Problem:
    """One problem an author can fix: where it is and what is wrong."""

    path: str
    message: str
    line: int | None = None
    col: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        # Input that is not a file (an option, a request field) names the field as its path.
        field = f" {self.field}:" if self.field and self.field != self.path else ""
        return f"{where}:{field} {self.message}"


class ValidationError(ChanperfError):
    """Input failed validation; carries every problem found, not just the first."""

    code = "validation_error"

    def __init__(self, problems: Iterable[Problem], summary: str | None = None):
        self.problems = tuple(problems)
        lines = [str(p) for p in self.problems]
        head = summary or f"{len(lines)} problem(s) found"
        super().__init__(head + ("\n" + "\n".join(lines) if lines else ""))

    def by_field(self) -> Mapping[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in self.problems:
            out.setdefault(p.field or p.path, []).append(p.message)
        return out


class NotFoundError(ChanperfError):
    code = "not_found"


class ConflictError(ChanperfError):
    """A state transition or write that the current state does not allow."""

    code = "conflict"


class PermissionDenied(ChanperfError):
    code = "forbidden"


class JobFailed(ChanperfError):
    """A background job failed; the message is `public_error` of the cause."""

    code = "job_failed"


def public_error(exc: BaseException) -> str:
    """What a job record or an answer may say about `exc`: never a host, user, path or trace.

    chanperf's own errors are written for the person who sent the input, so their first
    line is kept; a database error says which kind it was; anything else only its type.
    The whole error goes to the log, where the operator reads it.
    """
    if isinstance(exc, JobFailed):  # already public
        return str(exc)
    if isinstance(exc, ChanperfError):
        first = str(exc).splitlines()[0] if str(exc) else exc.code
        return f"{type(exc).__name__}: {first}"
    module = type(exc).__module__
    if module.startswith(("sqlalchemy", "pymysql", "sqlite3")):
        return f"database error ({type(exc).__name__})"
    return f"internal error ({type(exc).__name__})"
