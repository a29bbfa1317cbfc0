"""jobtrail: a Python background-job system that can prove what every job did."""

from jobtrail.app import App
from jobtrail.bulk import ActionTally
from jobtrail.context import Context, current_context
from jobtrail.dryrun import CapturedEffect, CapturedEnqueue, DryRun
from jobtrail.errors import (
    AppNotLoadable,
    ArgumentError,
    ConfigurationError,
    EffectUncertain,
    ExpectationError,
    IdempotencyConflict,
    InvalidTransition,
    JobDefinitionError,
    JobExit,
    JobFailure,
    JobNotFound,
    JobTimeout,
    JobtrailError,
    LeaseLost,
    LintError,
    LockError,
    MiddlewareError,
    PayloadTooLarge,
    Permanent,
    SchemaOutdated,
    StopNow,
    StoreError,
    StoreLost,
    StoreRejected,
    Transient,
    UnknownJob,
)
from jobtrail.handle import JobHandle
from jobtrail.jobs import Enqueuing, JobDecorator, JobDef
from jobtrail.middleware import AttemptInfo, Middleware, Pipeline
from jobtrail.observers import EnqueuedJob, Observer
from jobtrail.paths.rules import Occurrence, Rule, RuleReport
from jobtrail.paths.variants import Funnel, Variant
from jobtrail.paths_api import PathsAPI
from jobtrail.records import (
    Divergence,
    DivergenceKind,
    ErrorInfo,
    Event,
    JobRecord,
    PointKind,
    RunRecord,
    Status,
)
from jobtrail.redaction import Redactor
from jobtrail.retry import Retry
from jobtrail.shadow import Shadow, ShadowReport
from jobtrail.store.actions import ActionResult
from jobtrail.store.base import EffectRecord, NewJob, Outcome, PathEvent, RunSummary, Store
from jobtrail.supervisor import ExitCodes
from jobtrail.worker import Worker, WorkerStats

__version__ = "0.1.0"

__all__ = [
    "ActionResult",
    "ActionTally",
    "App",
    "AppNotLoadable",
    "ArgumentError",
    "AttemptInfo",
    "CapturedEffect",
    "CapturedEnqueue",
    "ConfigurationError",
    "Context",
    "Divergence",
    "DivergenceKind",
    "DryRun",
    "EffectRecord",
    "EffectUncertain",
    "EnqueuedJob",
    "Enqueuing",
    "ErrorInfo",
    "Event",
    "ExitCodes",
    "ExpectationError",
    "Funnel",
    "IdempotencyConflict",
    "InvalidTransition",
    "JobDecorator",
    "JobDef",
    "JobDefinitionError",
    "JobExit",
    "JobFailure",
    "JobHandle",
    "JobNotFound",
    "JobRecord",
    "JobTimeout",
    "JobtrailError",
    "LeaseLost",
    "LintError",
    "LockError",
    "Middleware",
    "MiddlewareError",
    "NewJob",
    "Observer",
    "Occurrence",
    "Outcome",
    "PathEvent",
    "PathsAPI",
    "PayloadTooLarge",
    "Permanent",
    "Pipeline",
    "PointKind",
    "Redactor",
    "Retry",
    "Rule",
    "RuleReport",
    "RunRecord",
    "RunSummary",
    "SchemaOutdated",
    "Shadow",
    "ShadowReport",
    "Status",
    "StopNow",
    "Store",
    "StoreError",
    "StoreLost",
    "StoreRejected",
    "Transient",
    "UnknownJob",
    "Variant",
    "Worker",
    "WorkerStats",
    "current_context",
]
