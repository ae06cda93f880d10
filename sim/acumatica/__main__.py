"""``python -m sim.acumatica --host H --port P [--login NAME:PASSWORD@TENANT] [--api-users N] [--latency-ms N]
[--requests-per-minute N] [--concurrent-requests N] [--time-scale X]``."""

from __future__ import annotations

import argparse
import re

from sim.acumatica.app import Options, create_app
from sim.acumatica.licence import Limits
from sim.common import serve


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m sim.acumatica", description="Simulated Acumatica instance")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--login", default="admin:setup@Company", help="NAME:PASSWORD@TENANT")
    parser.add_argument("--api-users", type=int, default=2, help="API-user licence limit (sessions)")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--session-timeout-s", type=float, default=600.0)
    parser.add_argument("--push-retry-ms", type=int, default=200, help="first push retry delay")
    parser.add_argument("--requests-per-minute", type=int, default=0, help="licence limit (0: off)")
    parser.add_argument("--concurrent-requests", type=int, default=0, help="licence limit (0: off)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="shrink the licence's minute X-fold")
    args = parser.parse_args(argv)
    match = re.fullmatch(r"([^:]+):(.*)@([^@]+)", args.login)
    if match is None:
        parser.error("--login: expected NAME:PASSWORD@TENANT")
    if args.api_users < 1:
        parser.error("--api-users: expected at least 1")
    if min(args.requests_per_minute, args.concurrent_requests) < 0 or args.time_scale <= 0:
        parser.error("--requests-per-minute/--concurrent-requests: expected >= 0; --time-scale: expected > 0")
    return Options(user=match.group(1), password=match.group(2), tenant=match.group(3),
                   api_users=args.api_users, latency_ms=args.latency_ms,
                   session_timeout=args.session_timeout_s, push_retry_delay=args.push_retry_ms / 1000,
                   licence=Limits(args.requests_per_minute, args.concurrent_requests, args.time_scale))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    known, _ = parser.parse_known_args(argv)
    serve(create_app(parse_args(argv)), known.host, known.port, "acumatica simulator")


if __name__ == "__main__":
    main()
