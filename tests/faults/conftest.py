"""Fault tests share the acceptance tests' fixtures: the ``jobtrail`` command run in a
subprocess (`cli`) and the small app module it works on (`shop`)."""

from tests.acceptance.conftest import cli, shop, worked

__all__ = ["cli", "shop", "worked"]
