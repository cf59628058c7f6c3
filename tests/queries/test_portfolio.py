"""Portfolio queries: the number of SQL statements stays constant as the portfolio grows."""

import pytest

from app.extensions import db
from app.queries import portfolio as queries_module


@pytest.fixture(autouse=True)
def _database(db_session):
    return db_session


@pytest.fixture
def dsi(make_user, login_as):
    return login_as(make_user("dsi", ministry="MI"))


def test_list_query_count_is_small_and_constant(client, dsi, queries, make_opportunity):
    client.get("/opportunites")
    with queries() as few:
        client.get("/opportunites?page=2")
    for n in range(40):
        make_opportunity(brique=f"Brique {n}")
    with queries() as many:
        client.get("/opportunites?page=2")
    assert len(few) == len(many) <= 10


def test_paginate_and_all_rows_statements_do_not_grow_with_the_portfolio(
    queries, make_opportunity, make_user
):

    filters = queries_module.PortfolioFilters()
    make_opportunity(brique="Première")
    queries_module.paginate(filters, per_page=20)
    db.session.expire_all()
    with queries() as few:
        page = queries_module.paginate(filters, per_page=20)
        rows = queries_module.all_rows(filters)
    for n in range(30):
        make_opportunity(brique=f"Brique {n}")
    make_user("dsi", ministry="MI")
    db.session.expire_all()
    with queries() as many:
        bigger = queries_module.paginate(filters, per_page=20)
        more = queries_module.all_rows(filters)
    assert bigger.total == page.total + 30 and len(more) == len(rows) + 30
    assert len(few) == len(many)


def test_a_searchs_pages_cover_every_match_once_in_rank_order(make_opportunity):
    """A search alone is counted and ranked inside the full-text index (SQLite) or on the stored vector
    (PostgreSQL): its pages hold every match once, the best first, with the count of the full filter."""
    from werkzeug.datastructures import MultiDict

    for n in range(25):
        make_opportunity(brique=f"Messagerie sécurisée {n}", besoin="messagerie " * (1 + n % 3))
    alone = queries_module.PortfolioFilters.from_args(MultiDict({"q": "messagerie"}), [], [])
    first = queries_module.paginate(alone, per_page=10)
    codes = [
        row.code
        for page in range(1, first.pages + 1)
        for row in queries_module.paginate(
            queries_module.PortfolioFilters.from_args(
                MultiDict({"q": "messagerie", "page": str(page)}), [], []
            ),
            per_page=10,
        ).items
    ]
    assert len(codes) == len(set(codes)) == first.total >= 25
    # the export ranks alike (ties by number there, by id in the index: the same order for imported rows)
    assert [r.code for r in queries_module.all_rows(alone)] == codes
