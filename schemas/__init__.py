"""Wire formats shared by the hub and the SDK.

Everything both sides must agree on byte for byte lives here: enums, canonical
JSON, the member-request signing string, indicator normalisation and hashing,
and the feed artifact codec. It imports marshmallow and pure computation
libraries (phonenumbers, numpy, cryptography primitives), never `hub` or
`client_sdk`.
"""
