"""The one request core every hook uses, split along its seams.

Vendor logic is written once as *flows* (:mod:`.flow`): generators that yield ``Call`` objects and
receive ``Response`` objects (or have a typed error thrown into them). :class:`.core.RequestCore`
runs them over ``requests`` (sync) or ``aiohttp`` (async) with auth (:mod:`.auth`), retries,
rate limits (:mod:`.limits`), error mapping (:mod:`.errors`) and shared sessions (:mod:`.transport`);
none of these knows anything about a vendor.
"""
