"""Stage 14 (Development Preparation) crew: generated files verified and environments provisioned (14.1), a
team formed (14.2), a sprint plan with a forecast (14.3)."""
