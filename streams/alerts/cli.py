"""``roasloop report --tenant T --date D``: the daily report the alerts stage e-mails, as a file.

The same page as the e-mail and the console's ``/v1/tenants/{t}/reports/daily/{day}``: read from
PostgreSQL (``DATABASE_URL``), rendered without the lab (inline SVG charts).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="write a tenant's daily report (the day and the 7 days ending with it) as an HTML file")
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument("--date", required=True, type=_day, metavar="YYYY-MM-DD",
                        help="the report's day, in the tenant's time zone")
    parser.add_argument("--out", type=Path, default=None, help="file to write (default report-TENANT-DATE.html)")
    parser.set_defaults(func=run_report)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def run_report(args: argparse.Namespace) -> int:
    from streams.core.db import connect
    from streams.core.settings import load_settings
    from streams.reports.daily import build_report
    from streams.reports.html import render_report

    settings = load_settings()
    settings.require("database_url")

    async def run() -> str:
        conn = await connect(settings)
        try:
            return render_report(await build_report(conn, args.tenant, args.date, settings.default_currency))
        finally:
            await conn.close()

    out: Path = args.out or Path(f"report-{args.tenant}-{args.date.isoformat()}.html")
    out.write_text(asyncio.run(run()), encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0
