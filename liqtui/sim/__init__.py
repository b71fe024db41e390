"""The simulated exchange (design §5): a seeded market and a local server speaking each exchange's wire format."""
