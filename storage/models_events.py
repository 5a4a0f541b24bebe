"""Models of the events feature (see storage/models.py for Base and the shared types)."""

from __future__ import annotations
