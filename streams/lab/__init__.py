"""The lab: what analysts and developers run around the pipeline, never inside it.

Stand-ins for Meta and HubSpot with a simulated market (``sandbox``), the embedded runtime of
``roasloop dev`` (``dev``), topic replays with off-policy estimates (``backtest``), offline
simulation against the market's ground truth (``simulation``), the baseline policies they compare
with, and cold-start prior research (``priors``). The lab stands above the runtime stages: it may
import them, and nothing in ``schemas``, ``streams.core``, ``streams.integrations`` or a stage may
import it (``lint-imports`` checks this). It installs with the ``lab`` extra.
"""
