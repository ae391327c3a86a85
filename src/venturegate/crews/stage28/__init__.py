"""Stage 28 (Performance Optimization) crew: profile, prove indexes and a cache, apply and verify changes, report."""
