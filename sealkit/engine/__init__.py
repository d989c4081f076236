"""The engine: plans (desired vs applied), phases, per-host steps, journal and resume."""
