"""``python -m sim.graph --host 127.0.0.1 --port PORT --users a@x,b@x [--latency-ms N] [--time-scale X]``."""

from __future__ import annotations

import argparse
import logging

from sim.common import serve
from sim.graph.app import Sim, build_app
from sim.graph.throttle import Limits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.graph", description="Simulated Microsoft 365 tenant")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--users", default="", help="comma-separated user principal names")
    parser.add_argument("--latency-ms", type=int, default=0, help="latency added to every Graph request")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="shrink the throttling window (and Retry-After) X-fold")
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per window per app+mailbox")
    parser.add_argument("--app-id", default=None, help="appId of the seeded application object")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent requests per app+mailbox")
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale: expected a positive number")
    if args.latency_ms < 0:
        parser.error("--latency-ms: expected milliseconds >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    users = [u.strip() for u in args.users.split(",") if u.strip()]
    sim = Sim(users, args.latency_ms, args.time_scale,
              Limits(requests=args.rate_limit, concurrency=args.concurrency), args.app_id)
    serve(build_app(sim), args.host, args.port, "graph simulator")


if __name__ == "__main__":
    main()
