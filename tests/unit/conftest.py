"""Hypothesis profiles for the merge laws: 1,000 examples per property on CI, ~200 locally."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=1000, deadline=None)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
