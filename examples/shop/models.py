from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(db.Model):
    user_id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False)
    orders = db.relationship("Order", back_populates="buyer", order_by="Order.id")


class Order(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.user_id"), nullable=True)
    item = db.Column(db.String(80), nullable=False)
    buyer = db.relationship("User", back_populates="orders")
