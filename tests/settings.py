"""Settings of the test run and of the type checker: the production settings.

DEBUG stays off (its default), so the settings take the path a production
process takes; the keys it then requires are fixed test values, set in the
environment so that the server processes the tests start inherit them.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-4kV9qXz2Lm7Rw1Tb8Np3Hs6Dc0Gy5Jf")
os.environ.setdefault("JWT_SECRET", "test-only-jwt-secret-Qe7Uo2Wi9Ra4Sd1Fg6Hj3Kl8Zx5Cv0")

from realtime.settings import *  # noqa: F403
