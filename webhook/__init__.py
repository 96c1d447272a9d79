"""sealgate's validating admission webhook (FastAPI)."""
