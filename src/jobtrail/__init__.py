"""jobtrail: a Python background-job system that can prove what every job did."""

from jobtrail.access import Action, Actor, Role
from jobtrail.app import App
from jobtrail.breakers import Breaker, BreakerOpen, Breakers
from jobtrail.bulk import ActionTally
from jobtrail.compensation import CompensationReport
from jobtrail.context import Context, current_context
from jobtrail.dryrun import CapturedEffect, CapturedEnqueue, DryRun
from jobtrail.enqueuing import Enqueuing, JobDecorator
from jobtrail.errors import (
    AccessDenied,
    AccessError,
    AppNotLoadable,
    ArgumentError,
    ConfigurationError,
    DecryptionError,
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
    NotAuthenticated,
    PayloadTooLarge,
    Permanent,
    QueueFull,
    SchemaOutdated,
    StopNow,
    StoreError,
    StoreLost,
    StoreRejected,
    TokenError,
    TokenNotFound,
    Transient,
    UnknownJob,
    WaitTimeout,
)
from jobtrail.flow import Queue
from jobtrail.handle import JobHandle
from jobtrail.jobs import JobDef
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
from jobtrail.store.base import (
    EffectRecord,
    FlowLimits,
    Limit,
    NewJob,
    Outcome,
    PathEvent,
    RunSummary,
    Store,
)
from jobtrail.store.breakers import BreakerRecord
from jobtrail.store.tokens import TokenRecord
from jobtrail.store.workflows import WorkflowRecord
from jobtrail.supervisor import ExitCodes
from jobtrail.tokens import Tokens
from jobtrail.worker import Worker, WorkerStats
from jobtrail.workflows import Call, WorkflowHandle

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AccessError",
    "Action",
    "ActionResult",
    "ActionTally",
    "Actor",
    "App",
    "AppNotLoadable",
    "ArgumentError",
    "AttemptInfo",
    "Breaker",
    "BreakerOpen",
    "BreakerRecord",
    "Breakers",
    "Call",
    "CapturedEffect",
    "CapturedEnqueue",
    "CompensationReport",
    "ConfigurationError",
    "Context",
    "DecryptionError",
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
    "FlowLimits",
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
    "Limit",
    "LintError",
    "LockError",
    "Middleware",
    "MiddlewareError",
    "NewJob",
    "NotAuthenticated",
    "Observer",
    "Occurrence",
    "Outcome",
    "PathEvent",
    "PathsAPI",
    "PayloadTooLarge",
    "Permanent",
    "Pipeline",
    "PointKind",
    "Queue",
    "QueueFull",
    "Redactor",
    "Retry",
    "Role",
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
    "TokenError",
    "TokenNotFound",
    "TokenRecord",
    "Tokens",
    "Transient",
    "UnknownJob",
    "Variant",
    "WaitTimeout",
    "Worker",
    "WorkerStats",
    "WorkflowHandle",
    "WorkflowRecord",
    "current_context",
]
