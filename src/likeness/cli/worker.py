"""``likeness worker [--once] [--poll 0.5]``: run the studio's queued render jobs from this process."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``worker`` to the top-level app."""

    @app.command()
    def worker(
        once: bool = typer.Option(False, "--once", help="Run at most one queued job, then exit."),
        poll: float = typer.Option(0.5, "--poll", min=0.05, help="Seconds between two looks at an empty queue."),
        heartbeat_timeout: float = typer.Option(30.0, "--heartbeat-timeout", min=1.0,
                                                help="Seconds without a heartbeat before a running job counts as lost."),
        worker_id: str = typer.Option("", "--id", help="This worker's name in the job rows (default: host:pid:random)."),
    ) -> None:
        """Run queued render jobs (start several: they share the queue and the quotas exactly); SIGTERM stops after the current job."""
        import signal
        import threading

        from likeness import settings
        from likeness.studio.worker import run_worker
        from likeness.vault import open_vault

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        vault = open_vault(settings.from_env())
        try:
            ran = run_worker(vault, worker_id=worker_id or None, poll_s=poll, heartbeat_timeout_s=heartbeat_timeout,
                             once=once, stop=stop)
        finally:
            vault.close()
        print(f"likeness worker: {ran} job(s) run")
