"""Faithful local stand-ins for Meta and HubSpot, and a simulated ad market with known truth.

- :mod:`streams.lab.sandbox.market` - ``Market.from_scenario(name_or_path, seed)``: the market;
- :mod:`streams.lab.sandbox.market_events` - outcomes as roasloop events and HubSpot webhook payloads;
- :mod:`streams.lab.sandbox.meta` - ``create_meta_app(MetaState)``: the Graph API stand-in;
- :mod:`streams.lab.sandbox.hubspot` - ``create_hubspot_app(HubSpotState)``: the CRM API stand-in;
- :mod:`streams.lab.sandbox.hubspot_signing` - ``sign_v1/sign_v2/sign_v3``;
- :mod:`streams.lab.sandbox.serve` - ``BackgroundServer``: any ASGI app on a free local port;
- :mod:`streams.lab.sandbox.live` - ``run_market_live``: the market in compressed real time.
"""
