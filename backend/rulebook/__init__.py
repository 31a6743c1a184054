"""The rules merchants tune themselves, as numbered versions in the database (规则设置)."""
