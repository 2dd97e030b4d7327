"""The gunicorn worker `gateway run` uses: gthread, except that a worker whose threads are all busy
stops accepting connections, so that the next one goes to a worker with a free thread.

Why: gthread's main loop accepts every connection it can (up to `worker_connections`) and queues the
request for a thread. When many clients connect at once (a burst of checkouts, a proxy opening its
pool), one worker can take far more connections than it has threads while another's threads sit
idle: measured with 256 clients and 2 x 128 threads, 162 and 94 connections, so 34 requests waited
for a thread and only 222 provider calls were in flight. A kept-alive connection stays with the
worker that accepted it, so the imbalance lasted. With this worker: 128 and 128.

Kept-alive connections that are idle do not count as busy: a worker keeps accepting while it has a
free thread, whatever idle connections it holds (gunicorn's `worker_connections` still caps those).
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._busy = 0  # requests handed to the thread pool and not finished; main thread only

    def enqueue_req(self, conn: Any) -> None:
        self._busy += 1
        super().enqueue_req(conn)
        self.set_accept_enabled(self._accepting)  # re-checked: maybe the last free thread just went

    def finish_request(self, conn: Any, fs: Any) -> None:
        self._busy -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop asks for accepting whenever it holds fewer than worker_connections.
        super().set_accept_enabled(enabled and self._busy < self.cfg.threads)
