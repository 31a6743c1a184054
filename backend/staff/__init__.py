"""Staff: accounts, roles and permissions, and login."""
