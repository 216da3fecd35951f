"""One benchmark variant as a server app: ``BENCH_VARIANT=starlette:off uvicorn _serve:app``.

run.py starts uvicorn (ASGI) or gunicorn (WSGI) on this module with
``BENCH_VARIANT`` and ``BENCH_WORKDIR`` set, from the project's virtualenv or
the peers' one.
"""

from __future__ import annotations

import os
from pathlib import Path

from _variants import build

variant = build(os.environ["BENCH_VARIANT"], Path(os.environ["BENCH_WORKDIR"]))
if variant.before is not None:
    variant.before()
app = variant.app
