"""Authentication and roles: API tokens, the bootstrap admin token, the nodes' internal credential.

`tokens` makes and hashes tokens; `settings` reads the TASKRAFT_* settings; `verifier` judges a
presented token against this node's replicated `users` and `api_tokens` tables (through a lookup it
is given, so it knows neither Flask nor MySQL); `ratelimit` limits failed attempts per client
address. The HTTP side is `api/auth.py`.
"""
