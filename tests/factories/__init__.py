"""Builders of the tests' world, one module per feature; each the one way to make its thing.

names      unique(), unique_email()
merchants  auth(), merchant_body(), create_merchant()
orders     order_body(), record_order()
members    web clients, sign-in links, sign_in(), earn(), member_with_points()
boutique   reward(), redeem()
affiliates new_affiliate(), new_program(), new_link(), follow(), token_of(), build_world()
webhooks   register_endpoint(), deliveries_to()

They call the API (or a service) like a client would and assert only that the call
worked; what a test checks stays in the test. pytest fixtures in conftest.py stay
thin and call these.
"""
