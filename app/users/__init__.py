"""Users: accounts, their schemas, and the CLI that makes them."""
