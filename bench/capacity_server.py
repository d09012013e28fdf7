"""Our production server with its connection limit set by the benchmark (bench only).

``attendance_app.server`` caps the connections one process holds at ``MAX_CONNECTIONS``
(1000): the next ones wait in the listen backlog. ``bench.connections`` measures memory per
connection beyond that cap by running the same server with the cap from
``BENCH_MAX_CONNECTIONS``: ``python -m bench.capacity_server --port P``.
"""

import os
import sys

from attendance_app import server  # its first statements monkey-patch (eventlet or gevent)

server.MAX_CONNECTIONS = int(os.environ.get("BENCH_MAX_CONNECTIONS", server.MAX_CONNECTIONS))

if __name__ == "__main__":
    sys.exit(server.main())
