import os

from flask import Flask, request

from partner_sdk import WebhookSignatureError, verify_webhook

app = Flask(__name__)


@app.post("/webhooks/loyalty")
def loyalty_webhook():
    try:
        event = verify_webhook(
            request.get_data(),  # the raw body, exactly as received
            request.headers.get("Loyalty-Signature", ""),
            os.environ["LOYALTY_WEBHOOK_SECRET"],
        )
    except WebhookSignatureError:
        return "", 400
    if event.type == "order.points_awarded":
        print("order", event.data["order_id"], "earned", event.data["points_earned"])
    return "", 204  # any 2xx: delivered; anything else is retried for about a day
