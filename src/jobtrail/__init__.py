"""jobtrail: a Python background-job system that can prove what every job did."""

from jobtrail.app import App
from jobtrail.context import Context, current_context
from jobtrail.errors import (
    AppNotLoadable,
    ArgumentError,
    ConfigurationError,
    EffectUncertain,
    IdempotencyConflict,
    InvalidTransition,
    JobDefinitionError,
    JobFailure,
    JobNotFound,
    JobTimeout,
    JobtrailError,
    PayloadTooLarge,
    Permanent,
    SchemaOutdated,
    StoreError,
    Transient,
    UnknownJob,
)
from jobtrail.handle import JobHandle
from jobtrail.job import ErrorInfo, Event, JobRecord, Status
from jobtrail.jobs import JobDef
from jobtrail.retry import Retry
from jobtrail.store.base import EffectRecord
from jobtrail.worker import Worker, WorkerStats

__version__ = "0.1.0"

__all__ = [
    "App",
    "AppNotLoadable",
    "ArgumentError",
    "ConfigurationError",
    "Context",
    "EffectRecord",
    "EffectUncertain",
    "ErrorInfo",
    "Event",
    "IdempotencyConflict",
    "InvalidTransition",
    "JobDef",
    "JobDefinitionError",
    "JobFailure",
    "JobHandle",
    "JobNotFound",
    "JobRecord",
    "JobTimeout",
    "JobtrailError",
    "PayloadTooLarge",
    "Permanent",
    "Retry",
    "SchemaOutdated",
    "Status",
    "StoreError",
    "Transient",
    "UnknownJob",
    "Worker",
    "WorkerStats",
    "current_context",
]
