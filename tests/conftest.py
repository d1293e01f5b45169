"""Shared fixtures. Each test area appends its own fixtures below its own header comment."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
