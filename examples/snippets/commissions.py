import os

from partner_sdk import MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])
click_token = os.environ["CLICK_TOKEN"]  # at checkout: click_token_from_environ(request.environ)

order = client.record_order("ORDER-3001", 10000, "dave@example.com", click_token=click_token)
print(order.commission.status, order.commission.amount_cents)  # pending 1000: 10% of 100.00 EUR
# order.commission is None without a token, or with one that earned nothing: order.attribution_error says why

lead = client.record_lead("LEAD-3001", os.environ["LEAD_CLICK_TOKEN"])  # a sign-up, a quote request
print(lead.commission.amount_cents)  # 200

approved = client.approve_commission(order.commission.id)  # after your return window, or let it auto-approve
rejected = client.reject_commission(lead.commission.id, "Duplicate sign-up")  # the affiliate sees the reason
print(approved.status, rejected.status)  # approved rejected

# many at once: client.bulk_decide_commissions([{"id": ..., "action": "approve"}, ...]),
# or CSV lines "id,action,reason": client.bulk_decide_commissions_csv(text)
for commission in client.iter_commissions(status="pending"):
    print(commission.id, commission.amount_cents)
for error in client.iter_attribution_errors():  # tokens that earned nothing, and why
    print(error.code, error.order_id)
