import base64
import os

from partner_sdk import MerchantClient
from partner_sdk.transparency import decode_canonical, leaf_hash, verify_inclusion, verify_tree_head

merchant = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

head = merchant.tree_head()
keys = {key.key_id: key.public_key for key in merchant.public_keys()}
print(verify_tree_head(head, keys[head.key_id]))  # True: signed by a key the platform publishes

proven = []
for logged in merchant.iter_log_entries():  # your entries only, by leaf index
    if logged.leaf_index >= head.tree_size:
        break  # logged after this head: the next head covers it
    proof = merchant.entry_proof(logged.entry.id, tree_size=head.tree_size)
    hashed = leaf_hash(base64.b64decode(proof.canonical)) == proof.leaf_hash
    included = verify_inclusion(proof.leaf_index, head.tree_size, proof.leaf_hash, proof.proof, head.root_hash)
    proven.append(hashed and included)
print(len(proven) > 0, all(proven))  # True True: every entry of yours is in the signed tree

entry = decode_canonical(next(merchant.iter_log_entries()).canonical)  # the exact bytes the leaf hashes
print(entry["kind"], sum(amount for _account, asset, amount in entry["postings"] if asset == "PTS"))  # earn 0
