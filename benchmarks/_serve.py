"""One benchmark variant as a server app: ``BENCH_VARIANT=starlette:off uvicorn _serve:app``.

run.py starts uvicorn (ASGI) or gunicorn (WSGI) on this module with
``BENCH_VARIANT`` and ``BENCH_WORKDIR`` set, from the project's virtualenv or
the peers' one. With ``BENCH_DUMP=1`` (the server runs under
``valgrind --tool=callgrind --dump-before=getloadavg``), SIGUSR2 makes callgrind
write its counts so far: run.py brackets a number of requests with two of them.
Nothing of this is on the request path.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from _variants import build

if os.environ.get("BENCH_DUMP"):
    # gunicorn's worker imports this module after it set its own signal handlers, and
    # neither server uses SIGUSR2 in the process that serves (gunicorn's master does).
    signal.signal(signal.SIGUSR2, lambda signum, frame: os.getloadavg())

variant = build(os.environ["BENCH_VARIANT"], Path(os.environ["BENCH_WORKDIR"]))
if variant.before is not None:
    variant.before()
app = variant.app
