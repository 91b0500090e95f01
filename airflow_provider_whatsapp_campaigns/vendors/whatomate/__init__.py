"""Whatomate (self-hosted, open source): the full lifecycle — create, import, start, pause, cancel, stats.

Two auth schemes, one hook family: ``whatomate`` (``X-API-Key: whm_…``) and ``whatomate_jwt``
(email + password → short-lived access token, refreshed on 401). Old and new server builds are
both supported (see ``vendors.md`` §4): the list endpoint may or may not paginate or filter, the
login may return its tokens in the body or as cookies, ``start`` may go to ``queued`` or straight
to ``processing``. Everything vendor-specific is in the tables of :mod:`.tables`.
"""
