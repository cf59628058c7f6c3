"""Static assets: compressed, cached for a year under content-addressed names, icons limited to those used."""

import re
from pathlib import Path

import brotli

from app import assets

APP = Path(__file__).resolve().parent.parent / "app"


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_every_asset_of_a_page_is_immutable_and_compressed(client):
    page = client.get("/")
    urls = [url for url in _asset_urls(page.get_data(as_text=True)) if url.endswith((".css", ".js"))]
    assert len(urls) >= 5
    for url in urls:
        response = client.get(url, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable", url
        assert response.headers["Content-Encoding"] == "br", url
        assert brotli.decompress(response.get_data())  # a real brotli stream


def test_gzip_for_browsers_without_brotli_and_plain_for_the_others(client):
    url = next(u for u in _asset_urls(client.get("/").get_data(as_text=True)) if "dsfr.min.css" in u)
    assert client.get(url, headers={"Accept-Encoding": "gzip"}).headers["Content-Encoding"] == "gzip"
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers and plain.get_data().startswith(b"@charset")


def test_our_own_files_change_name_when_their_content_changes(client):
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'/static/build/app\.[0-9a-f]{12}\.css"', html)
    assert re.search(r'/static/build/app\.[0-9a-f]{12}\.js"', html)
    assert "icons.min.css" not in html  # the 356 KB sheet of every DSFR icon is not loaded


def test_an_unversioned_file_is_revalidated(client):
    response = client.get("/static/app.css")
    assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate"


def test_the_icon_subset_holds_every_icon_the_templates_name_and_only_those():
    used = assets.used_icons(APP)
    subset = assets.icon_subset(APP / "static", used).decode()
    present = set(re.findall(r"\.fr-icon-([a-z0-9-]+):after", subset))
    sheet = (APP / "static/vendor/dsfr-1.15.3/utility/icons/icons.min.css").read_text()
    existing = set(re.findall(r"\.fr-icon-([a-z0-9-]+):after", sheet))
    assert used & existing == present
    assert {"download-line", "calendar-line"} <= present
    assert len(subset) < 20_000 < len(sheet)
    for url in re.findall(r"url\(([^)]+)\)", subset):
        assert (APP / "static/build" / url).resolve().is_file(), url


def test_the_build_command_prints_the_built_names(app):
    result = app.test_cli_runner().invoke(args=["assets", "build"])
    assert result.exit_code == 0
    assert re.search(r"app\.css → build/app\.[0-9a-f]{12}\.css", result.output)
