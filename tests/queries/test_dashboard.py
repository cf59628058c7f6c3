"""Dashboard figures: the number of SQL statements stays constant as the data grows."""

from app.extensions import db
from app.queries import dashboard as figures


def test_dashboard_queries_do_not_grow_with_the_portfolio(
    client, make_user, login_as, make_opportunity, queries
):
    login_as(make_user("secretariat"))
    client.get("/tableau-de-bord")
    with queries() as before:
        client.get("/tableau-de-bord")
    for _ in range(5):
        make_opportunity()
    db.session.expire_all()
    with queries() as after:
        client.get("/tableau-de-bord")
    assert len(after) == len(before)


def test_figures_statements_do_not_grow_with_the_data(app, db_session, queries, make_opportunity, make_user):
    secretariat = make_user("secretariat")

    def compute():
        counts = figures.state_counts()
        figures.pipeline_funnel(counts)
        figures.side_exits(counts)
        figures.priority_breakdown()
        figures.guichets_by_fund()
        figures.all_opportunities()
        figures.domain_figures(secretariat, figures.sections_for(secretariat))

    with app.test_request_context():
        make_opportunity()
        compute()
        db.session.expire_all()
        with queries() as few:
            compute()
        for _ in range(10):
            make_opportunity()
        db.session.expire_all()
        with queries() as many:
            compute()
    assert len(few) == len(many)
