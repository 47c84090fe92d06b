import os

from partner_sdk import MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

program = client.create_program(
    "Spring referrals",
    {"type": "percent", "basis_points": 1000},  # 10% of the net sale; or {"type": "fixed", "amount_cents": 500}
    lead_amount_cents=200,  # 2.00 EUR per lead
    hold_days=30,  # your return window: commissions stay pending that long
    auto_approve_affiliates=True,  # False: you approve each application, as below
)
print(program.name, program.active)  # Spring referrals True: give affiliates program.id

for application in client.iter_program_applications(program.id, status="pending"):
    client.approve_application(program.id, application.id)  # or refuse_application(...)
