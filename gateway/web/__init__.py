"""The web layer: the app factory, the API views, the operator console and the API docs; the only place HTTP lives.

One blueprint per audience: API clients (/v1), providers (/notify), apps (/pay).
"""
