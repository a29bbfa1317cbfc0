"""What a worker logs about a job that declares sensitive values shows them masked."""

from __future__ import annotations

import io
import logging

from jobtrail.context import Context
from jobtrail.effects import _shown
from jobtrail.observe.logs import TextFormatter
from jobtrail.redaction import Redactor

CARD = "4111-SECRET-1111"


def test_a_logged_exception_has_its_message_traceback_and_arguments_masked() -> None:
    redactor = Redactor(["card"], {"card": CARD})
    logger = logging.getLogger("jobtrail.test.redacted")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"card {CARD} refused")
        except ValueError:
            redactor.log_exception(logger, "job %s failed for %s", 7, f"card {CARD}")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "job 7 failed for card [redacted]" in text
    assert "ValueError: card [redacted] refused" in text and "Traceback" in text
    assert "SECRET" not in text


def test_a_logged_effect_key_is_masked() -> None:
    masked = Context(None, job_id=1, job_name="pay", queue="default", attempt=1,
                     max_attempts=1, redactor=Redactor(["card"], {"card": CARD}))
    plain = Context(None, job_id=1, job_name="pay", queue="default", attempt=1,
                    max_attempts=1)
    assert _shown(masked, f"charge-{CARD}") == "charge-[redacted]"
    assert _shown(plain, f"charge-{CARD}") == f"charge-{CARD}"


def test_an_error_message_masks_the_start_a_cut_left_of_a_secret() -> None:
    redactor = Redactor(["card"], {"card": CARD})
    assert redactor.message(f"got '{CARD[:9]}… and '{CARD}'") == "got '[redacted]… and '[redacted]'"
    assert redactor.message(f"a: {CARD[:5]}…, b: {CARD[:7]}…") == "a: [redacted]…, b: [redacted]…"
    assert redactor.message("cut short: 41…") == "cut short: 41…"  # too short to tell
    assert redactor.message("nothing cut") == "nothing cut"
