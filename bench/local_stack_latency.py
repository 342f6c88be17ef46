"""How fast the local stack starts and delivers: endpoint start, provisioning, S3 put -> handler.

    .venv/bin/python bench/local_stack_latency.py [--puts 50]

Prints one table. The delivery path is the one tests and ``up`` use: put a real JPEG under
``captures/faces/``, the endpoint's notification queues it, a poller receives it and calls the
handler (a no-op here, so the figure is the stack's own overhead).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides  # noqa: E402

FACE_JPEG = REPO_ROOT.parent / "shared" / "data" / "antispoof" / "image_T1.jpg"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--puts", type=int, default=50, help="objects put and delivered one by one")
    args = parser.parse_args()
    body = FACE_JPEG.read_bytes()

    started = time.perf_counter()
    with MotoEndpoint() as endpoint:
        endpoint_s = time.perf_counter() - started
        started = time.perf_counter()
        stack = LocalStack.provision(
            endpoint.endpoint_url,
            parameter_overrides=local_parameter_overrides("sqlite:///unused.db", stage="bench"),
            stack_name="classsight-bench",
        )
        provision_s = time.perf_counter() - started
        s3 = stack.client("s3")
        received_at: list[float] = []

        def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            received_at.append(time.perf_counter())
            return {"batchItemFailures": []}

        poller = stack.poller("FaceMatchFunction", handler)
        put_s, delivery_s = [], []
        for _ in range(args.puts):
            key = f"captures/faces/R101/2024-05-06/{uuid.uuid4().hex}.jpg"
            t0 = time.perf_counter()
            s3.put_object(Bucket=stack.bucket_name, Key=key, Body=body, ContentType="image/jpeg")
            put_s.append(time.perf_counter() - t0)
            outcome = poller.poll_once(wait_s=5)
            assert outcome is not None and outcome.error is None
            delivery_s.append(received_at[-1] - t0)

    rows = [
        ("endpoint start (moto server child)", _ms(endpoint_s), ""),
        (f"provision template.yaml ({len(stack.resources)} resources)", _ms(provision_s), ""),
        (f"S3 put {len(body) // 1024} KB JPEG, mean / p95", _ms(statistics.mean(put_s)), _ms(_p95(put_s))),
        ("put -> handler called, mean / p95", _ms(statistics.mean(delivery_s)), _ms(_p95(delivery_s))),
    ]
    print(f"{'step':<48} {'ms':>8} {'p95 ms':>8}")
    for name, value, p95 in rows:
        print(f"{name:<48} {value:>8} {p95:>8}")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
