"""The probe: measures throughput, latency and radio quality, spools results, uploads them later.

Runs on a Raspberry Pi at a service point or on a volunteer's laptop. Imports stay light: the
standard library, pydantic and httpx only.
"""
