"""`rapport bench`: seed a scratch database in bulk and measure Rapport against the raw engine.

Run it only against a scratch database (RAPPORT_DATA_DIR=/tmp/bench, or a DATABASE_URL
naming a throwaway PostgreSQL database); see docs/performance.md.
"""
