"""A small shop API with one of each anti-pattern flaskfix fixes.

Run it:  flask --app examples/shop/app.py run
See the fixes:  flaskfix diff examples/shop
"""

from flask import Flask, jsonify, request

from models import Order, User, db

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///:memory:"
db.init_app(app)

# global-to-g: request data parked in a module-level dict; every request adds a key.
basket_scratch = {}

# redis-counter: a process-local counter loses updates under threads and workers.
visits = 0


def summarise_sales():
    """Stands in for a slow aggregate query."""
    return {"total": sum(range(10_000))}


@app.route("/basket/<item>")
def add_to_basket(item):
    basket_scratch[item] = request.args.get("qty", "1")
    basket_scratch["last"] = item
    return jsonify(added=basket_scratch["last"])


@app.route("/visit")
def visit():
    global visits
    visits += 1
    return jsonify(visits=visits)


@app.route("/users")
def list_users():
    names = []
    for user_id in request.args.getlist("id"):
        user = User.query.get(user_id)
        names.append(user.name if user else None)
    return jsonify(names=names)


@app.route("/orders")
def list_orders():
    # the textbook N+1, one lookup per row for the row's buyer: Order.buyer is that very
    # foreign key, so eager-load reads it through the relationship (bulk-query takes the rest)
    orders = Order.query.order_by(Order.id).all()
    return jsonify([{"item": o.item, "buyer": getattr(User.query.get(o.user_id), "name", None)} for o in orders])


@app.route("/customers")
def list_customers():
    # eager-load: each user's orders are a lazy relationship, one query per user
    users = User.query.order_by(User.user_id).all()
    return jsonify([{"name": u.name, "items": [o.item for o in u.orders]} for u in users])


@app.route("/report")
def sales_report():
    return jsonify(summarise_sales())


@app.route("/split")
def split_bill():
    total = int(request.args.get("total", "0"))
    people = int(request.args.get("people", "1"))
    return jsonify(each=total / people)
