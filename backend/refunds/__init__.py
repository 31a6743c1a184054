"""Returns and refunds: requests, the auto-approval rules and the payment gateways."""
