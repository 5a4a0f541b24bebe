"""bench/dashboard.py runs at a tiny size: the real `prevnet run` serves every dashboard
screen to a coordinator and the admin while members tap, and the figures come out (the
benchmark's numbers are read by people, not asserted here)."""

from __future__ import annotations

import pytest

from bench.dashboard import SCREENS, parser, run


async def test_the_dashboard_benchmark_runs_at_a_tiny_size(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parser().parse_args([
        "--coordinators", "1", "--members", "3", "--networks", "1",
        "--reports-per-member", "3", "--duration", "1.5", "--think", "0.2",
        "--no-echo",
    ])
    result = await run(args)
    out = capsys.readouterr().out
    for screen in SCREENS:  # every screen was asked for, and answered 2xx
        assert result["endpoints"][screen]["requests"] > 0, (screen, out)
        assert result["endpoints"][screen]["errors"] == 0, (screen, out)
    assert result["alone"]["unanswered"] == 0 and result["busy"]["unanswered"] == 0, out
    assert result["walks"] >= 2, out  # the coordinator's and the admin's
    assert result["failed_updates"] == 0 and result["tracebacks"] == 0, result["logs"]
    assert result["pool_b"]["capacity"] == 10, result  # the probe ran inside the bot
    assert result["pool_b"]["checkouts"] > 0
    assert result["seeded"]["reports"] == 9
    for heading in ("(A) members alone", "(B) members with 1 coordinators", "overview",
                    "ratios B/A", "pool (B)"):
        assert heading in out, out
