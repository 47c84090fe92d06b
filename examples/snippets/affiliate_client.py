import datetime as dt
import os

from partner_sdk import AffiliateClient

affiliate = AffiliateClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_AFFILIATE_KEY"])

application = affiliate.apply_to_program(os.environ["LOYALTY_PROGRAM_ID"])
print(application.status)  # approved: this program auto-approves; others stay pending until the merchant decides

# a link to a page on one of the merchant's domains
link = affiliate.create_link(os.environ["LOYALTY_PROGRAM_ID"], "https://shop.example/spring-sale")
print(link.url.endswith("/c/" + link.code))  # True: share link.url

today = dt.datetime.now(dt.UTC).date()
report = affiliate.report(today - dt.timedelta(days=6), today, group_by="day")
print(report.group_by, len(report.rows))  # day 0: one row per day with clicks or sales, none yet
csv_text = affiliate.report_csv(today - dt.timedelta(days=6), today, group_by="link")  # the same as CSV

endpoint = affiliate.create_webhook_endpoint(os.environ["AFFILIATE_WEBHOOK_URL"], ["commission.approved"])
print(affiliate.list_event_types())  # affiliates hear about their commissions only
