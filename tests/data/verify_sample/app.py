"""A small shop with its own tests: the sample project of flaskfix's --verify tests."""

from flask import Flask, jsonify, request
from flask_caching import Cache
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", CACHE_TYPE="SimpleCache")
db = SQLAlchemy(app)
cache = Cache(app)


class Item(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(80), nullable=False)


@app.route("/items")
def items():
    return jsonify([i.title for i in Item.query.all()])


@app.route("/items", methods=["POST"])
def add_item():
    db.session.add(Item(title=request.form["title"]))
    db.session.commit()
    return jsonify(ok=True), 201


@app.route("/pick")
def pick():
    ids = request.args.getlist("id", type=int)
    return jsonify([getattr(Item.query.get(i), "title", None) for i in ids])


@app.route("/share")
def share():
    parts = int(request.args.get("parts", "1"))
    return jsonify(each=100 / parts)
