"""The baseline of benchmarks/webhook.py: a FastAPI handler that only parses the AdmissionReview and allows.

Served exactly as `sealgate serve` serves (uvicorn, one process, webhook.tls.ReloadingTLS), so the difference
measured is sealgate's own work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webhook.tls import ReloadingTLS, uvicorn_config  # noqa: E402

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/validate")
async def validate(request: Request) -> Response:
    review = orjson.loads(await request.body())
    answer = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": True},
    }
    return Response(orjson.dumps(answer), media_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    tls = ReloadingTLS(args.tls_cert, args.tls_key)
    config = uvicorn_config(
        app, host="127.0.0.1", port=args.port, tls=tls, log_level="warning", log_config=None, access_log=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
