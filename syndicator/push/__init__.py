"""Delivery primitives of push: signing, the SSRF guard, one HTTP attempt and the retry rules.

Nothing here knows about the store or scheduling: the delivery worker decides what to send and
when, and calls these to sign it, send it safely and judge the answer.
"""
