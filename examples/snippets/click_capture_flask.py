from flask import Flask, request

from partner_sdk import ClickCapture, click_token_from_environ

app = Flask(__name__)
# ?lp_click=... on any GET: kept in a Secure, HttpOnly, SameSite=Lax cookie for 30 days,
# then a 302 to the same URL without it.
app.wsgi_app = ClickCapture(app.wsgi_app, max_age_s=30 * 24 * 3600)


@app.post("/checkout")
def checkout():
    click_token = click_token_from_environ(request.environ)  # None without a click
    # client.record_order(order_id, amount_cents, email, click_token=click_token)
    return {"click_token": click_token}
