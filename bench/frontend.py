"""Front-end weight: bytes a browser receives for a cold page, requests it sends on a warm navigation.

Usage: .venv/bin/python bench/frontend.py [--series 5]

Serves the app (development settings, scratch SQLite database with the reference data, the portfolio
readable anonymously) from a local HTTP server wrapped in a meter that records every request and the bytes
of every response body, then drives Debian's Chromium with Playwright:

- cold: a new browser context (empty cache) loads the page; the meter sums what the server sent for it
  (HTML, CSS, JS, fonts, icons, compressed as the browser asked: `Accept-Encoding: br`);
- warm: the same context then opens another page; the meter counts the requests for static files that
  the cold load already fetched (revalidations; files that the second page is the first to need, an icon
  say, are downloads and are not counted). The goal is 0: every asset is cached for a year under a
  versioned name.

The floor page `/plancher` (the DSFR layout with a trivial body) is the minimal DSFR page of the same run.
Medians of `--series` series. Targets: cold page ≤ 350 KB; 0 static requests on a warm navigation.
Exit status 1 when a target fails.
"""

import argparse
import statistics
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from app.maintenance import rebuild_database  # noqa: E402
from config import Config  # noqa: E402

PAGES = ["/plancher", "/", "/opportunites", "/opportunites/M001", "/accessibilite"]
WARM_NEXT = "/opportunites?page=2"
TARGET_COLD_BYTES = 350 * 1024
CHROMIUM = "/usr/bin/chromium"


class BenchConfig(Config):
    ENV_NAME = "bench"
    SECRET_KEY = "bench-secret-key-bench-secret-key"
    AUTO_MIGRATE = False
    PUBLIC_PORTFOLIO = True
    SCHEDULER_ENABLED = False


class Meter:
    """WSGI middleware: the list of (path, body bytes) served since the last `reset()`."""

    def __init__(self, app):
        self.app, self.served, self.lock = app, [], threading.Lock()

    def reset(self):
        with self.lock:
            served, self.served = self.served, []
        return served

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        size = 0
        for chunk in self.app(environ, start_response):
            size += len(chunk)
            yield chunk
        with self.lock:
            self.served.append((path, size))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(BenchConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{scratch}/bench.sqlite3")
        with app.app_context():
            rebuild_database(app)
        meter = Meter(app.wsgi_app)
        app.wsgi_app = meter
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        results = measure(base, meter, args.series)
        server.shutdown()
    return report(results)


def measure(base: str, meter: Meter, series: int) -> dict[str, tuple[list[int], list[int], list[int]]]:
    results = {page: ([], [], []) for page in PAGES}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for _ in range(series):
            for page_path in PAGES:
                context = browser.new_context()
                page = context.new_page()
                meter.reset()
                page.goto(base + page_path, wait_until="load")
                cold = meter.reset()
                page.goto(base + WARM_NEXT, wait_until="load")
                warm = meter.reset()
                cold_bytes, cold_requests, warm_static = results[page_path]
                cold_bytes.append(sum(size for _, size in cold))
                cold_requests.append(len(cold))
                fetched = {path for path, _ in cold}
                warm_static.append(
                    sum(1 for path, _ in warm if path.startswith("/static/") and path in fetched)
                )
                context.close()
        browser.close()
    return results


def report(results) -> int:
    failed = False
    print(f"{'page':28} {'cold KB':>8} {'requests':>9} {'warm revalidations':>21}")
    for page_path, (cold_bytes, cold_requests, warm_static) in results.items():
        kb = statistics.median(cold_bytes) / 1024
        warm = statistics.median(warm_static)
        failed |= kb * 1024 > TARGET_COLD_BYTES or warm > 0
        print(f"{page_path:28} {kb:8.1f} {statistics.median(cold_requests):9.0f} {warm:21.0f}")
    print(f"targets: cold ≤ {TARGET_COLD_BYTES // 1024} KB, 0 revalidation on a warm navigation")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
