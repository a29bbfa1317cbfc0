"""The web dashboard: jobs, dead letters, queues and the audit trail in a browser.

``pip install 'jobtrail[dashboard]'``, then ``jobtrail dashboard --app tasks:app``, or
mount `create_app` in your own ASGI app. See docs/dashboard.md.
"""

from jobtrail.dashboard.app import create_app

__all__ = ["create_app"]
