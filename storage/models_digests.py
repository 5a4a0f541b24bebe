"""Models of the weekly digest feature (see storage/models.py for Base and the shared types)."""

from __future__ import annotations
