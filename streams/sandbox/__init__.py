"""Faithful local stand-ins for Meta and HubSpot, and a simulated ad market with known truth.

- :mod:`streams.sandbox.market` - ``Market.from_scenario(name_or_path, seed)``: the market;
- :mod:`streams.sandbox.market_events` - outcomes as roasloop events and HubSpot webhook payloads;
- :mod:`streams.sandbox.meta` - ``create_meta_app(MetaState)``: the Graph API stand-in;
- :mod:`streams.sandbox.hubspot` - ``create_hubspot_app(HubSpotState)``: the CRM API stand-in;
- :mod:`streams.sandbox.hubspot_signing` - ``sign_v1/sign_v2/sign_v3``;
- :mod:`streams.sandbox.serve` - ``BackgroundServer``: any ASGI app on a free local port;
- :mod:`streams.sandbox.live` - ``run_market_live``: the market in compressed real time.
"""
