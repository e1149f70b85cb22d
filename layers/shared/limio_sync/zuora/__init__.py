"""Zuora adapter: the REST client (`client`, the only module that imports requests), its errors (`errors`),
the values it returns (`models`, `subscription`) and the shared token cache (`token_cache`).

Nothing is re-exported here on purpose: importing a Zuora model (as the API function does, through the sync
rules) must not load the HTTP client into a function that never calls Zuora.
"""
