"""Money through Stripe: the one module that calls Stripe, and its refusals."""
