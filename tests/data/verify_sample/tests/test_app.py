import pytest

from app import Item, app, db


@pytest.fixture()
def client():
    app.config["TESTING"] = True
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.add_all([Item(id=i, title=f"item {i}") for i in range(1, 6)])
        db.session.commit()
    yield app.test_client()


def test_pick_keeps_order_and_missing(client):
    assert client.get("/pick?id=3&id=9&id=1&id=3").get_json() == ["item 3", None, "item 1", "item 3"]


def test_a_new_item_is_listed(client):
    assert "item 6" not in client.get("/items").get_json()
    client.post("/items", data={"title": "item 6"})
    assert "item 6" in client.get("/items").get_json()


def test_share_by_zero_is_a_bug_we_want_to_see(client):
    # this team wants the crash under TESTING, not a 400
    with pytest.raises(ZeroDivisionError):
        client.get("/share?parts=0")


def test_share(client):
    assert client.get("/share?parts=4").get_json() == {"each": 25.0}
