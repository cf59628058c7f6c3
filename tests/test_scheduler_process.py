"""The real `flask scheduler run` process stops on SIGTERM while a job is running: the reminder sweep is
stuck sending to an SMTP server that accepts connections and never answers (each attempt would wait for
the 15 s SMTP timeout). The process must be gone within 30 s (a liveness bound, not a timing measure) and
its lease released, so that another scheduler takes over at once instead of waiting for the lease to
expire (150 s). On its own database (SQLite file, or `test<suffix>_scheduler` on PostgreSQL)."""

import os
import signal
import socket
import subprocess
import sys
import threading

from app import create_app
from app.extensions import db
from app.jobs import LEASE_NAME
from app.maintenance import ROOT, rebuild_database
from app.models import SchedulerLease
from app.models.base import utcnow
from app.services import mail
from config import TestConfig
from tests.conftest import database_url

MAILS = 4  # 4 × 15 s of SMTP timeouts: far beyond the bound if the stop waited for the sweep


def silent_smtp_server():
    """A TCP server on 127.0.0.1 that accepts connections and never sends the SMTP greeting."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    connected = threading.Event()
    held = []

    def accept():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)
            connected.set()

    threading.Thread(target=accept, daemon=True).start()
    return listener, held, connected


def test_scheduler_process_exits_on_sigterm_during_a_running_job_and_releases_its_lease(tmp_path):
    url = database_url(tmp_path, suffix="_scheduler")
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    rebuild_database(app)
    with app.app_context():
        for n in range(MAILS):
            mail.queue(to=f"arret{n}@example.gouv.fr", subject="Arrêt propre", text="Courriel en attente.")
        db.session.commit()
        db.session.remove()
    listener, held, connected = silent_smtp_server()
    env = dict(
        os.environ,
        APP_ENV="development",
        DATABASE_URL=url,
        AUTO_MIGRATE="false",
        SCHEDULER_ENABLED="false",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(listener.getsockname()[1]),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert connected.wait(90), "the sweep never reached the SMTP server"  # the job is running
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    finally:
        stopped = process.poll() is not None
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0]
        listener.close()
        for connection in held:
            connection.close()
    assert stopped, f"still running 30 s after SIGTERM:\n{output}"
    assert process.returncode == 0, output
    assert "Planificateur arrêté" in output, output
    with app.app_context():
        lease = db.session.get(SchedulerLease, LEASE_NAME)
        assert lease is not None and lease.expires_at < utcnow()  # released: the next scheduler takes over
        db.session.remove()
        db.engine.dispose()
