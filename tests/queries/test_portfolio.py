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
