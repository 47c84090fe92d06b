"""The transparency log over the ledger, for counterparties: signed tree heads, proofs, a party's own entries."""
